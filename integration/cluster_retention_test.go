package integration

// Retention, DeleteRecords and compaction on a three-broker cluster: every replica applies
// them, followers taking their leader's log start offset from their fetches.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkpointedStart reads topic-partition's line from a broker's log-start-offset-checkpoint.
func checkpointedStart(b *Broker, topic string, p int32) (int64, error) {
	f, err := os.Open(filepath.Join(b.LogDir(), "log-start-offset-checkpoint"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 3 && fs[0] == topic && fs[1] == strconv.Itoa(int(p)) {
			return strconv.ParseInt(fs[2], 10, 64)
		}
	}
	return 0, fmt.Errorf("no line for %s-%d in the log-start-offset-checkpoint of %s", topic, p, b.LogDir())
}

// firstSegment is the base offset of the oldest .log file of topic-partition on a broker.
func firstSegment(b *Broker, topic string, p int32) (int64, error) {
	entries, err := os.ReadDir(filepath.Join(b.LogDir(), fmt.Sprintf("%s-%d", topic, p)))
	if err != nil {
		return 0, err
	}
	for _, e := range entries { // sorted by name: the oldest first
		if name, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			return strconv.ParseInt(name, 10, 64)
		}
	}
	return 0, errors.New("no segment")
}

// waitReplicasStart waits until every broker's checkpointed log start of topic-0 is want and
// its oldest segment starts at or after segmentAtLeast.
func waitReplicasStart(t testing.TB, c *testCluster, topic string, want, segmentAtLeast int64, what string) {
	t.Helper()
	clusterWait(t, 30*time.Second, what, func() error {
		for _, id := range c.ids {
			s, err := checkpointedStart(c.broker(id), topic, 0)
			if err != nil {
				return err
			}
			f, err := firstSegment(c.broker(id), topic, 0)
			if err != nil {
				return err
			}
			if s != want || f < segmentAtLeast {
				return fmt.Errorf("broker %d: checkpointed log start %d (want %d), oldest segment %d (want >= %d)", id, s, want, f, segmentAtLeast)
			}
		}
		return nil
	})
}

func TestClusterRetention(t *testing.T) {
	c := startCluster(t,
		"log.retention.check.interval.ms=300",
		"log.segment.delete.delay.ms=200",
		"log.flush.start.offset.checkpoint.interval.ms=300",
		"log.cleaner.backoff.ms=200",
	)
	adm := newAdmin(t, c.broker(1), kgo.SeedBrokers(c.seeds()...))
	prod := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))

	t.Run("delete records waits for the followers", func(t *testing.T) {
		const topic = "cl-delete"
		c.createTopic(t, topic, 1, map[string]*string{"segment.bytes": kadm.StringPtr("1024")})
		end := produceAt(t, prod, topic, 0, 40, 100, time.Now())
		// 5 records per segment: offset 22 is inside the segment at 20.
		rs, err := adm.DeleteRecords(testCtx(t, 20*time.Second), kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 21}))
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := rs.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 22 {
			t.Fatalf("DeleteRecords to 22: low watermark %d, %v; want 22 once every replica is there", r.LowWatermark, r.Err)
		}
		waitReplicasStart(t, c, topic, 22, 20, "every replica at log start 22")

		// A frozen follower is still a live broker: its log start is not reported, and the
		// answer waits until the request timeout, then says so.
		leader := c.leader(t, topic, 0)
		frozen := c.ids[0]
		if frozen == leader {
			frozen = c.ids[1]
		}
		c.freeze(t, frozen)
		to := kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 29})
		ctx := testCtx(t, 20*time.Second)
		start := time.Now()
		// Seeded with the leader alone: nothing of this request may wait on the frozen broker.
		short := kadm.NewClient(newClient(t, c.broker(leader), kgo.RetryTimeout(time.Second), kgo.MetadataMinAge(time.Minute)))
		short.SetTimeoutMillis(1500)
		rs, err = short.DeleteRecords(ctx, to)
		c.thaw(t, frozen)
		if err != nil {
			t.Fatal(err)
		}
		c.waitFormed(t, 30*time.Second)
		if r, _ := rs.Lookup(topic, 0); !errors.Is(r.Err, kerr.RequestTimedOut) || time.Since(start) < 1400*time.Millisecond {
			t.Fatalf("DeleteRecords with broker %d frozen: %v (low watermark %d) after %v; want REQUEST_TIMED_OUT after 1.5 s", frozen, r.Err, r.LowWatermark, time.Since(start))
		}
		waitReplicasStart(t, c, topic, 30, 30, "every replica at log start 30 after the thaw")
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != 30 || end != 40 {
			t.Fatalf("log start %d (%v), end %d", s, err, end)
		}
	})

	t.Run("compaction on every replica", func(t *testing.T) {
		// Each replica cleans its own log; after compaction all three hold the same last
		// value of every key, and none holds a key twice below its active segment.
		const topic = "cl-compacted"
		c.createTopic(t, topic, 1, map[string]*string{
			"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("2048"),
			"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		})
		for i := 0; i < 300; i++ {
			r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i%10)), Value: []byte(fmt.Sprintf("value-%d", i))}
			if err := prod.ProduceSync(testCtx(t, 10*time.Second), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		produceAt(t, prod, topic, 0, 30, 100, time.Now()) // keys k0..k29 push the updates out of the active segment
		clusterWait(t, 60*time.Second, "every replica compacted to the same keys and values", func() error {
			var first map[string]string
			for _, id := range c.ids {
				dir := filepath.Join(c.broker(id).LogDir(), topic+"-0")
				latest, sealed, err := diskRecords(dir)
				if err != nil {
					return err
				}
				for k := 0; k < 10; k++ {
					key := fmt.Sprintf("key-%d", k)
					if want := fmt.Sprintf("value-%d", 290+k); latest[key] != want {
						return fmt.Errorf("broker %d: %s = %q, want %q", id, key, latest[key], want)
					}
					if sealed[key] > 1 {
						return fmt.Errorf("broker %d: %s %d times in sealed segments", id, key, sealed[key])
					}
				}
				if first == nil {
					first = latest
				} else if fmt.Sprint(first) != fmt.Sprint(latest) {
					return fmt.Errorf("broker %d holds %v, broker %d %v", id, latest, c.ids[0], first)
				}
			}
			return nil
		})
	})

	t.Run("retention on every replica", func(t *testing.T) {
		// Created without a time limit; the change to retention.ms reaches every replica
		// through /config/changes and applies without a restart.
		const topic = "cl-retention"
		c.createTopic(t, topic, 1, map[string]*string{"segment.bytes": kadm.StringPtr("1024"), "retention.ms": kadm.StringPtr("-1")})
		produceAt(t, prod, topic, 0, 10, 100, time.Now().Add(-time.Hour))
		end := produceAt(t, prod, topic, 0, 10, 100, time.Now())
		time.Sleep(time.Second) // three retention passes
		waitReplicasStart(t, c, topic, 0, 0, "nothing deleted under retention.ms=-1")
		if err := alterErr(adm.AlterTopicConfigs(testCtx(t, 10*time.Second), []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("600000")}}, topic)); err != nil {
			t.Fatal(err)
		}
		// The hour-old records fill the first two segments, which expire on the leader and on
		// both followers.
		waitReplicasStart(t, c, topic, 10, 10, "hour-old segments deleted on every replica")
		cons := c.client(t, kgo.ConsumePartitions(startOffsets(topic, 1)))
		if err := checkContiguous(pollN(t, cons, int(end-10), 20*time.Second), 10); err != nil {
			t.Fatal(err)
		}
	})
}

// diskRecords reads a partition directory's segment files (uncompressed batches) and returns
// the last value of each key and how many times each key appears outside the active
// (last) segment.
func diskRecords(dir string) (latest map[string]string, sealed map[string]int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var logs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, e.Name())
		}
	}
	latest, sealed = map[string]string{}, map[string]int{}
	for i, name := range logs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		for len(data) >= 61 {
			var b kmsg.RecordBatch
			if err := b.ReadFrom(data); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			data = data[12+int(b.Length):]
			if b.Attributes&0x07 != 0 {
				return nil, nil, fmt.Errorf("%s: compressed batch", name)
			}
			recs := b.Records
			for n := int32(0); n < b.NumRecords; n++ {
				l, k := kbin.Varint(recs)
				var r kmsg.Record
				if k <= 0 || int(l) > len(recs)-k {
					return nil, nil, fmt.Errorf("%s: bad record", name)
				}
				if err := r.ReadFrom(recs[:k+int(l)]); err != nil {
					return nil, nil, err
				}
				recs = recs[k+int(l):]
				latest[string(r.Key)] = string(r.Value)
				if i < len(logs)-1 {
					sealed[string(r.Key)]++
				}
			}
		}
	}
	return latest, sealed, nil
}
