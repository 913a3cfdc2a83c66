package integration

// Apache Kafka's own command-line tools (3.9 and 4.x, from Maven Central,
// installed by `make deps`) against the broker binary, the way users run
// them. Each version gets its own broker; the flows of one version run in
// order, the two versions in parallel.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaCLI runs the tools of one Kafka version against one broker.
type kafkaCLI struct {
	version string
	b       *Broker
}

// run runs tool with args (the bootstrap server is the caller's to pass) and
// fails the test on a non-zero exit; it returns stdout.
func (k kafkaCLI) run(t *testing.T, stdin string, tool string, args ...string) string {
	t.Helper()
	return mustRun(t, cmdSpec{name: kafkaTool(t, k.version, tool), args: args, stdin: stdin, timeout: 3 * time.Minute})
}

// admin runs an admin tool with --bootstrap-server.
func (k kafkaCLI) admin(t *testing.T, tool string, args ...string) string {
	t.Helper()
	return k.run(t, "", tool, append([]string{"--bootstrap-server", k.b.Addr()}, args...)...)
}

// keyedLine is line i of the console producer's input and of the expected
// console consumer output (print.key=true, default tab separator).
func keyedLine(i int) (key, value string) {
	return fmt.Sprintf("key-%04d", i), fmt.Sprintf("value-%04d", i)
}

// keyedInput is n keyed lines, "key<TAB>value\n" each.
func keyedInput(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		k, v := keyedLine(i)
		sb.WriteString(k + "\t" + v + "\n")
	}
	return sb.String()
}

// produceKeyedLines writes the n keyed lines to topic with kgo, one record
// per line, timestamps base+i seconds, uncompressed (kgo's default, snappy,
// is not decodable by every client under test: kafkajs without plugins,
// kafka-python without python-snappy); it returns the records by key.
func produceKeyedLines(t *testing.T, b *Broker, topic string, n int, base time.Time) map[string]kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := testCtx(t, time.Minute)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		k, v := keyedLine(i)
		recs[i] = &kgo.Record{Key: []byte(k), Value: []byte(v), Timestamp: base.Add(time.Duration(i) * time.Second)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kgo produce to %s: %v", topic, err)
	}
	out := make(map[string]kgo.Record, n)
	for _, r := range recs {
		out[string(r.Key)] = *r
	}
	return out
}

// consoleLine is one line printed by the console consumer with
// print.partition=true and print.key=true: "Partition:P<TAB>key<TAB>value".
var consoleLine = regexp.MustCompile(`^Partition:(\d+)\t(key-\d{4})\t(value-\d{4})$`)

// checkConsoleOutput checks that out holds each of the produced records once,
// with its key, value and partition, and in offset order within a partition.
func checkConsoleOutput(t *testing.T, out string, produced map[string]kgo.Record) {
	t.Helper()
	seen := map[string]bool{}
	last := map[int32]int64{}
	var bad []string
	for _, l := range lines(out) {
		m := consoleLine.FindStringSubmatch(l)
		if m == nil {
			if strings.HasPrefix(l, "Partition:") {
				bad = append(bad, "unparsable line "+strconv.Quote(l))
			}
			continue
		}
		p, _ := strconv.Atoi(m[1])
		key, value := m[2], m[3]
		rec, ok := produced[key]
		switch {
		case !ok:
			bad = append(bad, "unknown key "+key)
		case seen[key]:
			bad = append(bad, "duplicate key "+key)
		case string(rec.Value) != value:
			bad = append(bad, fmt.Sprintf("key %s: value %s, want %s", key, value, rec.Value))
		case rec.Partition != int32(p):
			bad = append(bad, fmt.Sprintf("key %s: partition %d, want %d", key, p, rec.Partition))
		default:
			if prev, ok := last[rec.Partition]; ok && rec.Offset <= prev {
				bad = append(bad, fmt.Sprintf("partition %d: offset %d after %d", p, rec.Offset, prev))
			}
			last[rec.Partition] = rec.Offset
		}
		seen[key] = true
	}
	if len(seen) != len(produced) {
		bad = append(bad, fmt.Sprintf("%d distinct records printed, want %d", len(seen), len(produced)))
	}
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... %d more", len(bad)-20))
		}
		t.Fatalf("console consumer output:\n  %s", strings.Join(bad, "\n  "))
	}
}

// groupRow is one partition row of kafka-consumer-groups --describe or
// --reset-offsets output.
type groupRow struct {
	partition int32
	offset    int64 // CURRENT-OFFSET or NEW-OFFSET
	end       int64 // LOG-END-OFFSET, -1 when not printed
}

// parseGroupRows reads the rows for group and topic: "GROUP TOPIC PARTITION
// OFFSET [LOG-END-OFFSET ...]". It scans fields rather than lines: the 3.9
// tool prints every --reset-offsets row on one line.
func parseGroupRows(t *testing.T, out, group, topic string) map[int32]groupRow {
	t.Helper()
	rows := map[int32]groupRow{}
	f := strings.Fields(out)
	for i := 0; i+3 < len(f); i++ {
		if f[i] != group || f[i+1] != topic {
			continue
		}
		p, err1 := strconv.Atoi(f[i+2])
		off, err2 := strconv.ParseInt(f[i+3], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("unparsable row %q", strings.Join(f[i:i+4], " "))
		}
		r := groupRow{partition: int32(p), offset: off, end: -1}
		if i+4 < len(f) {
			if end, err := strconv.ParseInt(f[i+4], 10, 64); err == nil {
				r.end = end
			}
		}
		rows[r.partition] = r
	}
	return rows
}

// committedOf is the group's committed offsets for topic, from the broker.
func committedOf(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err != nil {
			t.Fatalf("OffsetFetch %s %s-%d: %v", group, topic, p, o.Err)
		}
		out[p] = o.At
	}
	return out
}

func TestCompatKafkaTools(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"KAFKA_3_VERSION", "KAFKA_4_VERSION"} {
		version := pinnedVersion(t, key)
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			k := kafkaCLI{version: version, b: startBroker(t)}
			adm := newAdmin(t, k.b)
			const client = "Kafka CLI tools"

			t.Run("topics", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-topics --create --partitions 3, --list, --describe, --alter --partitions 6, --delete")
				compatTopics(t, k)
			})
			t.Run("configs", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-configs --describe and --alter --add-config on a topic, --describe on a broker")
				compatConfigs(t, k, adm)
			})
			t.Run("console-producer", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-console-producer (defaults: idempotent, acks=all), 1000 keyed lines")
				compatConsoleProducer(t, k, adm)
			})
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			topic := "console-in"
			createTopic(t, adm, topic, 3, nil)
			produced := produceKeyedLines(t, k.b, topic, 1000, base)
			t.Run("console-consumer", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-console-consumer --from-beginning --max-messages, print.key=true (no --group)")
				out := k.admin(t, "kafka-console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "1000",
					"--property", "print.key=true", "--property", "print.partition=true", "--timeout-ms", "60000")
				checkConsoleOutput(t, out, produced)
			})
			group := "console-group-" + strings.ReplaceAll(version, ".", "-")
			t.Run("console-consumer-group", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-console-consumer --group --from-beginning --max-messages, print.key=true")
				out := k.admin(t, "kafka-console-consumer", "--topic", topic, "--group", group, "--from-beginning", "--max-messages", "1000",
					"--property", "print.key=true", "--property", "print.partition=true", "--timeout-ms", "60000")
				checkConsoleOutput(t, out, produced)
			})
			t.Run("consumer-groups", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-consumer-groups --list, --describe, --reset-offsets --to-earliest/--to-datetime --execute, --delete")
				compatConsumerGroups(t, k, adm, group, topic, produced, base)
			})
			t.Run("perf-test", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-producer-perf-test (100k records) and kafka-consumer-perf-test")
				compatPerf(t, k, adm)
			})
			t.Run("dump-log", func(t *testing.T) {
				recordFlow(t, client, version, "kafka-dump-log on a segment the broker wrote")
				compatDumpLog(t, k)
			})
		})
	}
}

// compatTopics drives kafka-topics through create, list, describe, alter and
// delete, checking each answer against the broker's state.
func compatTopics(t *testing.T, k kafkaCLI) {
	const topic = "cli-topic"
	out := k.admin(t, "kafka-topics", "--create", "--topic", topic, "--partitions", "3", "--replication-factor", "1")
	if !strings.Contains(out, "Created topic "+topic+".") {
		t.Fatalf("--create printed %q, want \"Created topic %s.\"", out, topic)
	}
	out = k.admin(t, "kafka-topics", "--list")
	if !containsLine(out, topic) {
		t.Fatalf("--list printed %q, want a line %q", out, topic)
	}
	checkDescribe := func(parts int) {
		t.Helper()
		out := k.admin(t, "kafka-topics", "--describe", "--topic", topic)
		if !regexp.MustCompile(`Topic: ` + topic + `\s+TopicId: \S+\s+PartitionCount: ` + strconv.Itoa(parts) + `\s+ReplicationFactor: 1`).MatchString(out) {
			t.Fatalf("--describe printed %q, want PartitionCount: %d ReplicationFactor: 1", out, parts)
		}
		for p := 0; p < parts; p++ {
			re := regexp.MustCompile(`Topic: ` + topic + `\s+Partition: ` + strconv.Itoa(p) + `\s+Leader: 0\s+Replicas: 0\s+Isr: 0`)
			if !re.MatchString(out) {
				t.Fatalf("--describe printed %q, want partition %d led by broker 0 with Isr 0", out, p)
			}
		}
		if n := strings.Count(out, "Partition: "); n != parts {
			t.Fatalf("--describe lists %d partitions, want %d:\n%s", n, parts, out)
		}
	}
	checkDescribe(3)
	k.admin(t, "kafka-topics", "--alter", "--topic", topic, "--partitions", "6")
	checkDescribe(6)
	k.admin(t, "kafka-topics", "--delete", "--topic", topic)
	eventually(t, 30*time.Second, func() error {
		if out := k.admin(t, "kafka-topics", "--list"); containsLine(out, topic) {
			return fmt.Errorf("--list still shows %s after --delete", topic)
		}
		return nil
	})
}

// containsLine reports whether s has a line equal to want.
func containsLine(s, want string) bool {
	for _, l := range lines(s) {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// compatConfigs alters a topic config with kafka-configs and reads it back,
// through the tool and through the broker, and describes the broker.
func compatConfigs(t *testing.T, k kafkaCLI, adm *kadm.Client) {
	const topic = "cli-configs"
	createTopic(t, adm, topic, 1, nil)
	out := k.admin(t, "kafka-configs", "--entity-type", "topics", "--entity-name", topic, "--alter", "--add-config", "retention.ms=3600000")
	if !strings.Contains(out, "Completed updating config for topic "+topic) {
		t.Fatalf("--alter printed %q", out)
	}
	out = k.admin(t, "kafka-configs", "--entity-type", "topics", "--entity-name", topic, "--describe")
	if !strings.Contains(out, "retention.ms=3600000") {
		t.Fatalf("topic --describe printed %q, want retention.ms=3600000", out)
	}
	ctx := testCtx(t, 20*time.Second)
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeConfigs %s: %v", topic, err)
	}
	got := ""
	for _, c := range rc[0].Configs {
		if c.Key == "retention.ms" && c.Value != nil {
			got = *c.Value
		}
	}
	if got != "3600000" {
		t.Fatalf("broker reports retention.ms=%q after kafka-configs --alter, want 3600000", got)
	}
	out = k.admin(t, "kafka-configs", "--entity-type", "brokers", "--entity-name", "0", "--describe")
	if !strings.Contains(out, "configs for broker 0 are:") {
		t.Fatalf("broker --describe printed %q", out)
	}
	out = k.admin(t, "kafka-configs", "--entity-type", "brokers", "--entity-name", "0", "--describe", "--all")
	if !strings.Contains(out, "log.retention.hours=168") {
		t.Fatalf("broker --describe --all printed %q, want log.retention.hours=168", tail(out, 3000))
	}
}

// compatConsoleProducer pipes 1000 keyed lines through the console producer
// with its defaults and reads them back with kgo: same keys, values and order,
// written by an idempotent producer.
func compatConsoleProducer(t *testing.T, k kafkaCLI, adm *kadm.Client) {
	const topic, n = "console-out", 1000
	createTopic(t, adm, topic, 3, nil)
	k.run(t, keyedInput(n), "kafka-console-producer", "--bootstrap-server", k.b.Addr(), "--topic", topic, "--property", "parse.key=true")
	recs := consumeN(t, k.b, topic, 3, n, time.Minute, 500*time.Millisecond)
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	for p, rs := range byPartition(recs) {
		if err := checkContiguous(rs, 0); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		prev := -1
		for _, r := range rs {
			i, err := strconv.Atoi(strings.TrimPrefix(string(r.Key), "key-"))
			if err != nil {
				t.Fatalf("partition %d offset %d: key %q", p, r.Offset, r.Key)
			}
			if want, _ := keyedLine(i); string(r.Key) != want || string(r.Value) != fmt.Sprintf("value-%04d", i) {
				t.Fatalf("partition %d offset %d: %q=%q", p, r.Offset, r.Key, r.Value)
			}
			if i <= prev {
				t.Fatalf("partition %d: line %d stored after line %d (input order lost)", p, i, prev)
			}
			prev = i
			if seen[string(r.Key)] {
				t.Fatalf("key %s stored twice", r.Key)
			}
			seen[string(r.Key)] = true
			if r.ProducerID < 0 {
				t.Fatalf("partition %d offset %d: producer id %d; the console producer is idempotent by default", p, r.Offset, r.ProducerID)
			}
		}
	}
}

// compatConsumerGroups lists, describes, resets and deletes the group the
// console consumer left behind.
func compatConsumerGroups(t *testing.T, k kafkaCLI, adm *kadm.Client, group, topic string, produced map[string]kgo.Record, base time.Time) {
	ends := endOffsets(t, adm, topic)
	out := k.admin(t, "kafka-consumer-groups", "--list")
	if !containsLine(out, group) {
		t.Fatalf("--list printed %q, want %s", out, group)
	}
	out = k.admin(t, "kafka-consumer-groups", "--describe", "--group", group)
	rows := parseGroupRows(t, out, group, topic)
	if len(rows) != len(ends) {
		t.Fatalf("--describe shows %d partitions of %s, want %d:\n%s", len(rows), topic, len(ends), out)
	}
	for p, end := range ends {
		if r := rows[p]; r.offset != end || r.end != end {
			t.Fatalf("--describe partition %d: current %d, log end %d; want both %d:\n%s", p, r.offset, r.end, end, out)
		}
	}

	reset := func(how ...string) map[int32]int64 {
		t.Helper()
		args := append([]string{"--reset-offsets", "--group", group, "--topic", topic}, how...)
		out := k.admin(t, "kafka-consumer-groups", append(args, "--execute")...)
		rows := parseGroupRows(t, out, group, topic)
		got := map[int32]int64{}
		for p, r := range rows {
			got[p] = r.offset
		}
		if committed := committedOf(t, adm, group, topic); fmt.Sprint(committed) != fmt.Sprint(got) {
			t.Fatalf("reset %v printed %v but the broker has %v committed:\n%s", how, got, committed, out)
		}
		return got
	}
	got := reset("--to-earliest")
	for p := range ends {
		if got[p] != 0 {
			t.Fatalf("--to-earliest: partition %d at %d, want 0", p, got[p])
		}
	}
	// The records were written with timestamps base+i seconds: resetting to
	// base+500s lands on the first record of line 500 or later per partition.
	at := base.Add(500 * time.Second)
	want := map[int32]int64{}
	for p, end := range ends {
		want[p] = end
	}
	for _, r := range produced {
		if !r.Timestamp.Before(at) && r.Offset < want[r.Partition] {
			want[r.Partition] = r.Offset
		}
	}
	got = reset("--to-datetime", at.Format("2006-01-02T15:04:05.000")+"Z")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("--to-datetime %s: offsets %v, want %v", at.Format(time.RFC3339), got, want)
	}

	out = k.admin(t, "kafka-consumer-groups", "--delete", "--group", group)
	if !strings.Contains(out, "Deletion of requested consumer groups ('"+group+"') was successful.") {
		t.Fatalf("--delete printed %q", out)
	}
	if out := k.admin(t, "kafka-consumer-groups", "--list"); containsLine(out, group) {
		t.Fatalf("--list still shows %s after --delete:\n%s", group, out)
	}
}

// compatPerf runs the producer perf test (100k records) and the consumer perf
// test over the same topic.
func compatPerf(t *testing.T, k kafkaCLI, adm *kadm.Client) {
	const topic, n = "perf", 100000
	createTopic(t, adm, topic, 3, nil)
	out := k.run(t, "", "kafka-producer-perf-test", "--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", "100",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+k.b.Addr())
	if !regexp.MustCompile(`(?m)^100000 records sent`).MatchString(out) {
		t.Fatalf("producer perf test printed %q, want a \"100000 records sent\" summary", tail(out, 2000))
	}
	total := int64(0)
	for _, end := range endOffsets(t, adm, topic) {
		total += end
	}
	if total != n {
		t.Fatalf("log end offsets sum to %d after the producer perf test, want %d", total, n)
	}
	out = k.admin(t, "kafka-consumer-perf-test", "--topic", topic, "--messages", strconv.Itoa(n), "--timeout", "120000")
	// A CSV header then one line: start.time, end.time, data.consumed.in.MB,
	// MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
	ls := lines(out)
	var header, row []string
	for i, l := range ls {
		if strings.Contains(l, "data.consumed.in.nMsg") && i+1 < len(ls) {
			header, row = strings.Split(l, ","), strings.Split(ls[i+1], ",")
		}
	}
	consumed := ""
	for i, h := range header {
		if strings.TrimSpace(h) == "data.consumed.in.nMsg" && i < len(row) {
			consumed = strings.TrimSpace(row[i])
		}
	}
	if consumed != strconv.Itoa(n) {
		t.Fatalf("consumer perf test consumed %q messages, want %d:\n%s", consumed, n, out)
	}
}

// dumpBatch is one batch line of kafka-dump-log.
var dumpBatch = regexp.MustCompile(`baseOffset: (\d+) lastOffset: (\d+) count: (\d+)`)

// dumpRecord is one record line of kafka-dump-log --print-data-log.
var dumpRecord = regexp.MustCompile(`\| offset: (\d+) .*key: (\S+) payload: (\S+)`)

// compatDumpLog writes three batches with kgo and checks that kafka-dump-log
// reads the broker's segment with the same offsets, keys and values.
func compatDumpLog(t *testing.T, k kafkaCLI) {
	const topic = "dump"
	cl := newClient(t, k.b, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	ctx := testCtx(t, 2*time.Minute)
	type rec struct {
		offset     int64
		key, value string
	}
	var want []rec
	for b, size := range []int{10, 5, 7} {
		var rs []*kgo.Record
		for i := 0; i < size; i++ {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("b%d-k%d", b, i)), Value: []byte(fmt.Sprintf("b%d-v%d", b, i))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce batch %d: %v", b, err)
		}
		for _, r := range rs {
			want = append(want, rec{r.Offset, string(r.Key), string(r.Value)})
		}
	}
	seg := filepath.Join(k.b.LogDir(), topic+"-0", "00000000000000000000.log")
	out := k.run(t, "", "kafka-dump-log", "--files", seg, "--print-data-log")
	var got []rec
	var batches [][3]int64
	for _, l := range lines(out) {
		if m := dumpBatch.FindStringSubmatch(l); m != nil {
			base, _ := strconv.ParseInt(m[1], 10, 64)
			last, _ := strconv.ParseInt(m[2], 10, 64)
			count, _ := strconv.ParseInt(m[3], 10, 64)
			batches = append(batches, [3]int64{base, last, count})
		}
		if m := dumpRecord.FindStringSubmatch(l); m != nil {
			off, _ := strconv.ParseInt(m[1], 10, 64)
			got = append(got, rec{off, m[2], m[3]})
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kafka-dump-log records %v, want %v:\n%s", got, want, tail(out, 3000))
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i][0] < batches[j][0] })
	next := int64(0)
	for _, b := range batches {
		if b[0] != next || b[1]-b[0]+1 != b[2] {
			t.Fatalf("kafka-dump-log batches %v: not contiguous from offset 0", batches)
		}
		next = b[1] + 1
	}
	if next != int64(len(want)) {
		t.Fatalf("kafka-dump-log batches end at %d, want %d", next, len(want))
	}
}
