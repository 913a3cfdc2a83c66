package integration

// The log forgets as Kafka's does: retention by time and by size, topic config changes that
// apply without a restart, log start offsets that survive kill -9, seen by real clients
// through ListOffsets, Fetch and a consumer that resets to the log start.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// retentionOverrides make the log manager's tasks run often enough for tests.
var retentionOverrides = []string{
	"log.retention.check.interval.ms=300",
	"log.segment.delete.delay.ms=500",
	"log.flush.start.offset.checkpoint.interval.ms=60000",
}

// startOffset is the log start offset of topic/p through ListOffsets (earliest).
func startOffset(ctx context.Context, adm *kadm.Client, topic string, p int32) (int64, error) {
	lo, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	o, ok := lo.Lookup(topic, p)
	if !ok {
		return 0, fmt.Errorf("no answer for %s-%d", topic, p)
	}
	return o.Offset, o.Err
}

// produceAt produces n records of size bytes with the given timestamp to topic/p and returns
// the offset after the last.
func produceAt(t testing.TB, cl *kgo.Client, topic string, p int32, n, size int, ts time.Time) int64 {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	var last int64
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(strings.Repeat("v", size)), Timestamp: ts}
		res := cl.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, p, err)
		}
		last = res[0].Record.Offset
	}
	return last + 1
}

// fetchError is the error code a raw Fetch of topic/0 at offset gets.
func fetchError(t testing.TB, cl *kgo.Client, topic string, offset int64) error {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = -1, 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("fetch %s at %d: %v", topic, offset, err)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// waitStart waits until the log start of topic/0 satisfies ok and returns it.
func waitStart(t testing.TB, adm *kadm.Client, topic string, timeout time.Duration, what string, ok func(int64) bool) int64 {
	t.Helper()
	var got int64
	eventually(t, timeout, func() error {
		s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0)
		if err != nil {
			return err
		}
		got = s
		if !ok(s) {
			return fmt.Errorf("%s: log start offset of %s-0 is %d", what, topic, s)
		}
		return nil
	})
	return got
}

// TestRetention runs the retention flows against one broker with two log dirs.
func TestRetention(t *testing.T) {
	t.Parallel()
	dir1, dir2 := t.TempDir(), t.TempDir()
	b := newBroker(t, brokerOpts{dir: dir1, overrides: append([]string{"log.dirs=" + dir1 + "," + dir2}, retentionOverrides...)})
	if err := b.launch(); err != nil {
		t.Fatal(err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, b)
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	t.Run("time", func(t *testing.T) {
		// Records an hour old expire at the first pass under retention.ms=30000; the active
		// segment holding them is rolled and deleted; each deletion is logged.
		const topic = "ret-time"
		createTopic(t, adm, topic, 1, map[string]*string{"retention.ms": kadm.StringPtr("30000"), "segment.ms": kadm.StringPtr("1000")})
		end := produceAt(t, cl, topic, 0, 10, 100, time.Now().Add(-time.Hour))
		waitStart(t, adm, topic, 20*time.Second, "old records deleted", func(s int64) bool { return s == end })
		if !logged(b, `"topic":"ret-time"`, `"next_offset":10`, `"reason":"retention.ms"`, "deleted log segment") {
			t.Errorf("no log line for the deleted segment of %s", topic)
		}
		if err := fetchError(t, cl, topic, 0); !errors.Is(err, kerr.OffsetOutOfRange) {
			t.Fatalf("fetch at 0 below the log start %d: %v, want OFFSET_OUT_OF_RANGE", end, err)
		}
		// Fresh records stay, and a consumer told to start at offset 0
		// is answered OFFSET_OUT_OF_RANGE and resets to the log start.
		produceAt(t, cl, topic, 0, 3, 100, time.Now())
		cons := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := pollN(t, cons, 3, 20*time.Second)
		if err := checkContiguous(got, end); err != nil {
			t.Fatalf("consumer reset to the log start: %v", err)
		}
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != end {
			t.Fatalf("log start %d (%v) after fresh records, want %d", s, err, end)
		}
	})

	t.Run("size", func(t *testing.T) {
		// retention.bytes keeps the log at or above the limit, deleting whole segments from
		// the oldest; what remains is read contiguously from the new log start.
		const topic = "ret-size"
		createTopic(t, adm, topic, 1, map[string]*string{"retention.bytes": kadm.StringPtr("3000"), "segment.bytes": kadm.StringPtr("1024")})
		raw := newClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		end := produceAt(t, raw, topic, 0, 60, 100, time.Now())
		// Uncompressed batches of one record take 172 bytes: 5 per segment (860 bytes), 12
		// segments. The oldest go while 3000 bytes or more remain: 4 segments, 20 records.
		start := waitStart(t, adm, topic, 20*time.Second, "oldest segments deleted", func(s int64) bool { return end-s <= 20 })
		if kept := end - start; kept != 20 {
			t.Fatalf("log start %d, end %d: %d records kept for retention.bytes=3000", start, end, kept)
		}
		cons := newClient(t, b, kgo.ConsumePartitions(startOffsets(topic, 1)))
		if err := checkContiguous(pollN(t, cons, int(end-start), 20*time.Second), start); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("config change applies live", func(t *testing.T) {
		// Old records under the default retention (7 days) are kept; an
		// IncrementalAlterConfigs of retention.ms and a legacy AlterConfigs both apply at the
		// next pass, without a restart.
		const topic = "ret-live"
		createTopic(t, adm, topic, 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")})
		end := produceAt(t, cl, topic, 0, 5, 100, time.Now().Add(-48*time.Hour))
		time.Sleep(time.Second) // three passes
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != 0 {
			t.Fatalf("log start %d (%v) with retention.ms=-1, want 0", s, err)
		}
		alter := func(kv ...string) {
			var cfgs []kadm.AlterConfig
			for i := 0; i < len(kv); i += 2 {
				cfgs = append(cfgs, kadm.AlterConfig{Name: kv[i], Value: kadm.StringPtr(kv[i+1])})
			}
			err := alterErr(adm.AlterTopicConfigs(testCtx(t, 10*time.Second), cfgs, topic))
			if err != nil {
				t.Fatalf("IncrementalAlterConfigs %v: %v", kv, err)
			}
		}
		alter("retention.ms", "86400000") // one day: 48 hours old expires
		waitStart(t, adm, topic, 20*time.Second, "retention.ms lowered", func(s int64) bool { return s == end })

		end = produceAt(t, cl, topic, 0, 5, 100, time.Now().Add(-time.Minute))
		req := kmsg.NewPtrAlterConfigsRequest()
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		for _, kv := range [][2]string{{"retention.ms", "1000"}} {
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = kv[0], kmsg.StringPtr(kv[1])
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
		if err != nil || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("AlterConfigs retention.ms=1000: %v %+v", err, resp)
		}
		waitStart(t, adm, topic, 20*time.Second, "legacy AlterConfigs", func(s int64) bool { return s == end })
	})

	t.Run("invalid values", func(t *testing.T) {
		// Kafka's validators: retention.ms at least -1, delete.retention.ms and
		// file.delete.delay.ms at least 0, every value a number that fits.
		bad := map[string]string{
			"retention.ms":          "-2",
			"delete.retention.ms":   "-1",
			"file.delete.delay.ms":  "-5",
			"retention.bytes":       "99999999999999999999",
			"segment.ms":            "0",
			"min.compaction.lag.ms": "ten",
		}
		for k, v := range bad {
			resp, err := adm.CreateTopic(testCtx(t, 10*time.Second), 1, 1, map[string]*string{k: kadm.StringPtr(v)}, "ret-bad")
			if !errors.Is(err, kerr.InvalidConfig) && !errors.Is(resp.Err, kerr.InvalidConfig) {
				t.Errorf("CreateTopics with %s=%s: %v, want INVALID_CONFIG", k, v, err)
			}
			err = alterErr(adm.AlterTopicConfigs(testCtx(t, 10*time.Second), []kadm.AlterConfig{{Name: k, Value: kadm.StringPtr(v)}}, "ret-live"))
			if !errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("IncrementalAlterConfigs %s=%s: %v, want INVALID_CONFIG", k, v, err)
			}
		}
	})

	t.Run("delete records", func(t *testing.T) {
		// kadm.DeleteRecords in the middle of a segment: the low watermark is the offset,
		// ListOffsets and fetches follow; -1 is the high watermark; beyond it, unknown
		// partitions and a compact-only topic get Kafka's codes.
		const topic = "ret-delete"
		createTopic(t, adm, topic, 2, nil)
		end := produceAt(t, cl, topic, 0, 20, 50, time.Now())
		produceAt(t, cl, topic, 1, 5, 50, time.Now())
		del := func(offsets map[string]map[int32]int64) kadm.DeleteRecordsResponses {
			var os kadm.Offsets
			for tp, ps := range offsets {
				for p, o := range ps {
					os.Add(kadm.Offset{Topic: tp, Partition: p, At: o})
				}
			}
			rs, err := adm.DeleteRecords(testCtx(t, 15*time.Second), os)
			if err != nil {
				t.Fatalf("DeleteRecords %v: %v", offsets, err)
			}
			return rs
		}
		rs := del(map[string]map[int32]int64{topic: {0: 7, 1: -1}})
		if r, _ := rs.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 7 {
			t.Fatalf("DeleteRecords %s-0 to 7: low watermark %d, %v", topic, r.LowWatermark, r.Err)
		}
		if r, _ := rs.Lookup(topic, 1); r.Err != nil || r.LowWatermark != 5 {
			t.Fatalf("DeleteRecords %s-1 to -1 (high watermark 5): low watermark %d, %v", topic, r.LowWatermark, r.Err)
		}
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != 7 {
			t.Fatalf("log start %d (%v), want 7", s, err)
		}
		if err := fetchError(t, cl, topic, 6); !errors.Is(err, kerr.OffsetOutOfRange) {
			t.Fatalf("fetch at 6 after DeleteRecords to 7: %v, want OFFSET_OUT_OF_RANGE", err)
		}
		cons := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err := checkContiguous(pollN(t, cons, int(end-7), 20*time.Second), 7); err != nil {
			t.Fatalf("consumer after DeleteRecords: %v", err)
		}
		// Moving back is a no-op that answers the current low watermark.
		if r, _ := del(map[string]map[int32]int64{topic: {0: 3}}).Lookup(topic, 0); r.Err != nil || r.LowWatermark != 7 {
			t.Fatalf("DeleteRecords back to 3: low watermark %d, %v; want 7", r.LowWatermark, r.Err)
		}

		createTopic(t, adm, "ret-compact-only", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
		rs = del(map[string]map[int32]int64{topic: {0: end + 1}, "ret-compact-only": {0: 0}})
		for _, c := range []struct {
			topic string
			want  error
		}{{topic, kerr.OffsetOutOfRange}, {"ret-compact-only", kerr.PolicyViolation}} {
			if r, ok := rs.Lookup(c.topic, 0); !ok || !errors.Is(r.Err, c.want) || r.LowWatermark != -1 {
				t.Errorf("DeleteRecords %s-0: %v (low watermark %d), want %v", c.topic, r.Err, r.LowWatermark, c.want)
			}
		}
		// Partitions the broker does not know, sent as they are (kadm stops them itself).
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = 5000
		for _, tp := range []struct {
			topic string
			p     int32
		}{{topic, 9}, {"ret-no-such-topic", 0}} {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = tp.topic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = tp.p, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		rawResp, err := cl.SeedBrokers()[0].Request(testCtx(t, 10*time.Second), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range rawResp.(*kmsg.DeleteRecordsResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); !errors.Is(err, kerr.UnknownTopicOrPartition) || rp.LowWatermark != -1 {
					t.Errorf("DeleteRecords %s-%d: %v (low watermark %d), want UNKNOWN_TOPIC_OR_PARTITION", rt.Topic, rp.Partition, err, rp.LowWatermark)
				}
			}
		}

		// Kafka's kafka-delete-records tool.
		file := filepath.Join(t.TempDir(), "offsets.json")
		body := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"offset":12}]}`, topic)
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out := mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-delete-records"),
			args: []string{"--bootstrap-server", b.Addr(), "--offset-json-file", file}, timeout: 2 * time.Minute})
		if !strings.Contains(out, "partition: "+topic+"-0\tlow_watermark: 12") {
			t.Fatalf("kafka-delete-records output:\n%s", out)
		}
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != 12 {
			t.Fatalf("log start %d (%v) after kafka-delete-records, want 12", s, err)
		}
	})

	t.Run("log dirs", func(t *testing.T) {
		// Both directories of log.dirs hold partitions (new ones go to the one with the
		// fewest); DescribeLogDirs reports each partition's size as its segment files add up,
		// and the volume's total and usable bytes; kafka-log-dirs --describe shows the same.
		const topic = "ret-dirs"
		createTopic(t, adm, topic, 4, nil)
		end := produceAt(t, cl, topic, 0, 25, 200, time.Now())
		dirs, err := adm.DescribeAllLogDirs(testCtx(t, 10*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		perDir := map[string]int{}
		var size int64 = -1
		var where string
		dirs.Each(func(d kadm.DescribedLogDir) {
			if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
				t.Errorf("log dir %s: error %v, total %d, usable %d", d.Dir, d.Err, d.TotalBytes, d.UsableBytes)
			}
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				perDir[d.Dir]++
				if p.Topic == topic && p.Partition == 0 {
					size, where = p.Size, d.Dir
				}
				if p.OffsetLag != 0 || p.IsFuture {
					t.Errorf("%s-%d: offset lag %d, future %v", p.Topic, p.Partition, p.OffsetLag, p.IsFuture)
				}
			})
		})
		if len(perDir) != 2 || perDir[dir1] == 0 || perDir[dir2] == 0 || perDir[dir1]-perDir[dir2] > 1 || perDir[dir2]-perDir[dir1] > 1 {
			t.Fatalf("partitions per log dir: %v, want both of %s and %s used evenly", perDir, dir1, dir2)
		}
		onDisk := segmentBytes(t, filepath.Join(where, topic+"-0"))
		if size != onDisk || end != 25 {
			t.Fatalf("DescribeLogDirs size of %s-0 in %s: %d, segment files hold %d", topic, where, size, onDisk)
		}

		out := mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-log-dirs"),
			args: []string{"--bootstrap-server", b.Addr(), "--describe", "--topic-list", topic}, timeout: 2 * time.Minute})
		var doc struct {
			Brokers []struct {
				Broker  int32
				LogDirs []struct {
					LogDir     string
					Error      *string
					Partitions []struct {
						Partition string
						Size      int64
						OffsetLag int64
						IsFuture  bool
					}
				}
			}
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil {
			t.Fatalf("kafka-log-dirs output is not the JSON document expected: %v\n%s", err, out)
		}
		found := map[string]int64{}
		for _, br := range doc.Brokers {
			for _, d := range br.LogDirs {
				if d.Error != nil {
					t.Errorf("kafka-log-dirs: %s: %s", d.LogDir, *d.Error)
				}
				for _, p := range d.Partitions {
					found[p.Partition] = p.Size
				}
			}
		}
		if len(doc.Brokers) != 1 || len(found) != 4 || found[topic+"-0"] != onDisk {
			t.Fatalf("kafka-log-dirs --describe: partitions %v, want the 4 of %s with %s-0 at %d bytes\n%s", found, topic, topic, onDisk, out)
		}
	})

	t.Run("log start survives kill -9", func(t *testing.T) {
		// The log start offsets moved by retention and DeleteRecords (12, inside a segment)
		// are in log-start-offset-checkpoint, written before the pass ends and before
		// DeleteRecords answers: after kill -9 they are the same.
		want := map[string]int64{}
		for _, topic := range []string{"ret-time", "ret-size", "ret-live", "ret-delete", "ret-dirs"} {
			s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0)
			if err != nil {
				t.Fatal(err)
			}
			want[topic] = s
		}
		b.Kill()
		b.Restart(t)
		adm2 := newAdmin(t, b)
		for topic, w := range want {
			if s, err := startOffset(testCtx(t, 10*time.Second), adm2, topic, 0); err != nil || s != w {
				t.Errorf("%s: log start %d (%v) after kill -9, want %d", topic, s, err, w)
			}
		}
	})
}

// pollN polls cl until n records arrived and returns them; a fetch error fails the test.
func pollN(t testing.TB, cl *kgo.Client, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t, timeout)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records within %v", len(out), n, timeout)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s-%d: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// alterErr is the first error of an AlterConfigs answer: the request's or a resource's.
func alterErr(rs kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// logged reports whether one line of the broker's output holds every part.
func logged(b *Broker, parts ...string) bool { return loggedLines(b, parts...) > 0 }

// loggedLines counts the lines of the broker's output that hold every part.
func loggedLines(b *Broker, parts ...string) int {
	n := 0
	for _, line := range strings.Split(b.Output(), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// segmentBytes adds up the sizes of the .log files in a partition directory.
func segmentBytes(t testing.TB, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += info.Size()
		}
	}
	return n
}
