package integration

// Non-Java stock clients against the broker binary: confluent-kafka and
// kafka-python (Python, from .cache/venv), kafkajs (Node, from .cache/node)
// and kcat (Debian package). Each client gets its own broker; the scripts it
// runs live in integration/testdata.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// seenRecord is one record as a client reported it or as kgo read it back.
type seenRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// parseSeen reads the JSON lines a client script printed.
func parseSeen(t *testing.T, out string) []seenRecord {
	t.Helper()
	var recs []seenRecord
	for _, l := range lines(out) {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var r seenRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("client printed %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkKeyed checks that recs are exactly the n records key-%04d/value-%04d,
// each once, and that within a partition both the offsets and the input
// indexes increase (the input order is kept per partition).
func checkKeyed(t *testing.T, who string, recs []seenRecord, n int) {
	t.Helper()
	seen := map[string]bool{}
	lastOff := map[int32]int64{}
	lastIdx := map[int32]int{}
	var bad []string
	for _, r := range recs {
		i, err := strconv.Atoi(strings.TrimPrefix(r.Key, "key-"))
		switch {
		case err != nil || r.Key != fmt.Sprintf("key-%04d", i) || i < 0 || i >= n:
			bad = append(bad, fmt.Sprintf("unexpected key %q", r.Key))
			continue
		case r.Value != fmt.Sprintf("value-%04d", i):
			bad = append(bad, fmt.Sprintf("key %s: value %q", r.Key, r.Value))
		case seen[r.Key]:
			bad = append(bad, fmt.Sprintf("key %s seen twice", r.Key))
		}
		if prev, ok := lastOff[r.Partition]; ok && r.Offset <= prev {
			bad = append(bad, fmt.Sprintf("partition %d: offset %d after %d", r.Partition, r.Offset, prev))
		}
		if prev, ok := lastIdx[r.Partition]; ok && i <= prev {
			bad = append(bad, fmt.Sprintf("partition %d: %s after key-%04d (order lost)", r.Partition, r.Key, prev))
		}
		lastOff[r.Partition], lastIdx[r.Partition] = r.Offset, i
		seen[r.Key] = true
	}
	if len(seen) != n {
		bad = append(bad, fmt.Sprintf("%d distinct records, want %d", len(seen), n))
	}
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... %d more", len(bad)-20))
		}
		t.Fatalf("%s:\n  %s", who, strings.Join(bad, "\n  "))
	}
}

// readBack reads n records of topic (parts partitions) with kgo and returns
// them as seenRecords plus the raw records.
func readBack(t *testing.T, b *Broker, topic string, parts int32, n int) ([]seenRecord, []*kgo.Record) {
	t.Helper()
	raw := consumeN(t, b, topic, parts, n, time.Minute, 300*time.Millisecond)
	out := make([]seenRecord, len(raw))
	for i, r := range raw {
		out[i] = seenRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)}
	}
	return out, raw
}

// produceKeyed writes the n keyed records with kgo (in order, per partition
// by key hash) for a client under test to consume.
func produceKeyedRecords(t *testing.T, b *Broker, topic string, parts int32, n int) {
	t.Helper()
	createTopic(t, newAdmin(t, b), topic, parts, nil)
	produceKeyedLines(t, b, topic, n, time.Now())
}

// pyScript is the path of a Python script in testdata.
func pyScript(t *testing.T, name string) string {
	t.Helper()
	return testdataPath(t, "python", name)
}

func TestCompatConfluentKafka(t *testing.T) {
	t.Parallel()
	py := venvPython(t)
	version := pinnedVersion(t, "CONFLUENT_KAFKA_VERSION")
	version += " (librdkafka " + strings.TrimSpace(mustRun(t, cmdSpec{name: py, args: []string{"-c", "import confluent_kafka; print(confluent_kafka.libversion()[0])"}})) + ")"
	const client = "confluent-kafka-python"
	b := startBroker(t)
	script := pyScript(t, "confluent_client.py")
	const n = 200
	codecs := []struct {
		name  string
		codec kgo.CompressionCodecType
	}{
		{"none", kgo.CodecNone}, {"gzip", kgo.CodecGzip}, {"snappy", kgo.CodecSnappy}, {"lz4", kgo.CodecLz4}, {"zstd", kgo.CodecZstd},
	}
	for _, c := range codecs {
		t.Run("produce-"+c.name, func(t *testing.T) {
			recordFlow(t, client, version, "produce, compression.type="+c.name)
			topic := "ck-" + c.name
			createTopic(t, newAdmin(t, b), topic, 2, nil)
			mustRun(t, cmdSpec{name: py, args: []string{script, "produce", b.Addr(), topic, strconv.Itoa(n), c.name}})
			got, raw := readBack(t, b, topic, 2, n)
			checkKeyed(t, "records written by confluent-kafka", got, n)
			for _, r := range raw {
				if codec := r.Attrs.CompressionType(); codec != uint8(c.codec) {
					t.Fatalf("offset %d of partition %d stored with codec %d, want %d (%s): the client did not compress", r.Offset, r.Partition, codec, c.codec, c.name)
				}
			}
		})
	}
	t.Run("consume-group", func(t *testing.T) {
		recordFlow(t, client, version, "consume in a group (read_committed)")
		topic := "ck-consume"
		produceKeyedRecords(t, b, topic, 3, n)
		out := mustRun(t, cmdSpec{name: py, args: []string{script, "consume", b.Addr(), topic, strconv.Itoa(n), "ck-group"}})
		checkKeyed(t, "records read by confluent-kafka", parseSeen(t, out), n)
		checkCommittedEnd(t, b, "ck-group", topic)
	})
}

// checkCommittedEnd checks that group committed the log end of every
// partition of topic.
func checkCommittedEnd(t *testing.T, b *Broker, group, topic string) {
	t.Helper()
	adm := newAdmin(t, b)
	ends := endOffsets(t, adm, topic)
	if got := committedOf(t, adm, group, topic); fmt.Sprint(got) != fmt.Sprint(ends) {
		t.Fatalf("group %s committed %v, want the log ends %v", group, got, ends)
	}
}

func TestCompatKafkaPython(t *testing.T) {
	t.Parallel()
	py := venvPython(t)
	version := pinnedVersion(t, "KAFKA_PYTHON_VERSION")
	const client = "kafka-python"
	b := startBroker(t)
	script := pyScript(t, "kafka_python_client.py")
	const n = 200
	t.Run("produce", func(t *testing.T) {
		recordFlow(t, client, version, "produce")
		topic := "kpy-produce"
		createTopic(t, newAdmin(t, b), topic, 3, nil)
		mustRun(t, cmdSpec{name: py, args: []string{script, "produce", b.Addr(), topic, strconv.Itoa(n)}})
		got, _ := readBack(t, b, topic, 3, n)
		checkKeyed(t, "records written by kafka-python", got, n)
	})
	t.Run("consume-group", func(t *testing.T) {
		recordFlow(t, client, version, "consume in a group")
		topic := "kpy-consume"
		produceKeyedRecords(t, b, topic, 3, n)
		out := mustRun(t, cmdSpec{name: py, args: []string{script, "consume", b.Addr(), topic, strconv.Itoa(n), "kpy-group"}})
		checkKeyed(t, "records read by kafka-python", parseSeen(t, out), n)
		checkCommittedEnd(t, b, "kpy-group", topic)
	})
	t.Run("admin", func(t *testing.T) {
		recordFlow(t, client, version, "admin: create and delete a topic")
		out := mustRun(t, cmdSpec{name: py, args: []string{script, "admin", b.Addr(), "kpy-admin"}})
		if !strings.Contains(out, `{"created": "kpy-admin", "partitions": 3}`) || !strings.Contains(out, `{"deleted": "kpy-admin"}`) {
			t.Fatalf("admin script printed %q", out)
		}
		if _, ok := listAllTopics(t, b)["kpy-admin"]; ok {
			t.Fatalf("kpy-admin still exists on the broker after kafka-python deleted it")
		}
	})
}

func TestCompatKafkaJS(t *testing.T) {
	t.Parallel()
	modules := nodeModules(t)
	var pkg struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(modules, "kafkajs", "package.json"))
	if err != nil || json.Unmarshal(data, &pkg) != nil {
		t.Fatalf("kafkajs package.json: %v", err)
	}
	const client = "kafkajs"
	b := startBroker(t)
	script := testdataPath(t, "node", "kafkajs_client.js")
	env := []string{"NODE_PATH=" + modules}
	const n = 200
	t.Run("produce", func(t *testing.T) {
		recordFlow(t, client, pkg.Version, "produce")
		topic := "kjs-produce"
		createTopic(t, newAdmin(t, b), topic, 3, nil)
		mustRun(t, cmdSpec{name: "node", args: []string{script, "produce", b.Addr(), topic, strconv.Itoa(n)}, env: env})
		got, _ := readBack(t, b, topic, 3, n)
		checkKeyed(t, "records written by kafkajs", got, n)
	})
	t.Run("consume-group", func(t *testing.T) {
		recordFlow(t, client, pkg.Version, "consume in a group (READ_COMMITTED)")
		topic := "kjs-consume"
		produceKeyedRecords(t, b, topic, 3, n)
		out := mustRun(t, cmdSpec{name: "node", args: []string{script, "consume", b.Addr(), topic, strconv.Itoa(n), "kjs-group"}, env: env})
		checkKeyed(t, "records read by kafkajs", parseSeen(t, out), n)
		checkCommittedEnd(t, b, "kjs-group", topic)
	})
}

// kcatLine is one line of kcat -C -f '%p\t%o\t%k\t%s\n'.
var kcatLine = regexp.MustCompile(`^(\d+)\t(\d+)\t(\S*)\t(\S*)$`)

func TestCompatKcat(t *testing.T) {
	t.Parallel()
	kcat := needCommand(t, "kcat")
	version := "?"
	if m := regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`).FindStringSubmatch(mustRun(t, cmdSpec{name: kcat, args: []string{"-V"}})); m != nil {
		version = m[1] + " (librdkafka " + m[2] + ")"
	}
	const client = "kcat"
	b := startBroker(t)
	const n = 200
	t.Run("produce", func(t *testing.T) {
		recordFlow(t, client, version, "produce (-P -K)")
		topic := "kcat-produce"
		createTopic(t, newAdmin(t, b), topic, 3, nil)
		var in strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&in, "key-%04d:value-%04d\n", i, i)
		}
		mustRun(t, cmdSpec{name: kcat, args: []string{"-P", "-b", b.Addr(), "-t", topic, "-K", ":"}, stdin: in.String()})
		got, _ := readBack(t, b, topic, 3, n)
		checkKeyed(t, "records written by kcat", got, n)
	})
	t.Run("consume", func(t *testing.T) {
		recordFlow(t, client, version, "consume (-C -o beginning -e)")
		topic := "kcat-consume"
		produceKeyedRecords(t, b, topic, 3, n)
		out := mustRun(t, cmdSpec{name: kcat, args: []string{"-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-f", `%p\t%o\t%k\t%s\n`}})
		var recs []seenRecord
		for _, l := range lines(out) {
			m := kcatLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("kcat printed %q", l)
			}
			p, _ := strconv.Atoi(m[1])
			off, _ := strconv.ParseInt(m[2], 10, 64)
			recs = append(recs, seenRecord{Partition: int32(p), Offset: off, Key: m[3], Value: m[4]})
		}
		checkKeyed(t, "records read by kcat", recs, n)
	})
}
