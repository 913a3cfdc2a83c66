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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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
		short := kadm.NewClient(c.client(t, kgo.RetryTimeout(time.Second)))
		short.SetTimeoutMillis(1500)
		rs, err = short.DeleteRecords(ctx, to)
		c.thaw(t, frozen)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := rs.Lookup(topic, 0); !errors.Is(r.Err, kerr.RequestTimedOut) || time.Since(start) < 1400*time.Millisecond {
			t.Fatalf("DeleteRecords with broker %d frozen: %v (low watermark %d) after %v; want REQUEST_TIMED_OUT after 1.5 s", frozen, r.Err, r.LowWatermark, time.Since(start))
		}
		waitReplicasStart(t, c, topic, 30, 30, "every replica at log start 30 after the thaw")
		if s, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil || s != 30 || end != 40 {
			t.Fatalf("log start %d (%v), end %d", s, err, end)
		}
	})

	t.Run("retention on every replica", func(t *testing.T) {
		const topic = "cl-retention"
		c.createTopic(t, topic, 1, map[string]*string{"segment.bytes": kadm.StringPtr("1024"), "retention.ms": kadm.StringPtr("600000")})
		produceAt(t, prod, topic, 0, 10, 100, time.Now().Add(-time.Hour))
		end := produceAt(t, prod, topic, 0, 10, 100, time.Now())
		// The hour-old records fill the first two segments, which expire on the leader and on
		// both followers.
		waitReplicasStart(t, c, topic, 10, 10, "hour-old segments deleted on every replica")
		cons := c.client(t, kgo.ConsumePartitions(startOffsets(topic, 1)))
		if err := checkContiguous(pollN(t, cons, int(end-10), 20*time.Second), 10); err != nil {
			t.Fatal(err)
		}
	})
}
