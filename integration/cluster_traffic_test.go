package integration

// Continuous traffic for the cluster tests: an idempotent acks=all producer
// that records every acknowledged (partition, offset, value) and when it was
// sent and acknowledged, a consumer that records everything it reads, and the
// check that every acknowledged record was read exactly once, in order.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackedRecord is one record the cluster acknowledged.
type ackedRecord struct {
	partition int32
	offset    int64
	value     string
	started   time.Time // handed to the client
	acked     time.Time // acknowledgement callback
}

// clusterProducer produces "<partition>-<seq>" values to every partition of a
// topic, each partition from its own goroutine with a bounded number of
// records in flight, so a partition without a leader does not hold up the
// others.
type clusterProducer struct {
	cl      *kgo.Client
	stopped chan struct{}
	loops   sync.WaitGroup
	pending sync.WaitGroup

	mu     sync.Mutex
	acked  []ackedRecord
	failed map[string]error // value -> error of records not acknowledged
}

// startClusterProducer starts producing to partitions 0..parts-1 of topic,
// one record per partition every interval at most.
func startClusterProducer(t testing.TB, c *testCluster, topic string, parts int32, interval time.Duration) *clusterProducer {
	t.Helper()
	pr := &clusterProducer{
		cl: c.client(t,
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordDeliveryTimeout(90*time.Second),
			kgo.RetryTimeout(90*time.Second),
		),
		stopped: make(chan struct{}),
		failed:  map[string]error{},
	}
	for p := int32(0); p < parts; p++ {
		pr.loops.Add(1)
		go pr.loop(topic, p, interval)
	}
	t.Cleanup(func() { pr.halt() })
	return pr
}

func (pr *clusterProducer) loop(topic string, p int32, interval time.Duration) {
	defer pr.loops.Done()
	inflight := make(chan struct{}, 16)
	for i := 0; ; i++ {
		select {
		case <-pr.stopped:
			return
		case inflight <- struct{}{}:
		}
		v := fmt.Sprintf("%d-%07d", p, i)
		started := time.Now()
		pr.pending.Add(1)
		pr.cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer pr.pending.Done()
			defer func() { <-inflight }()
			pr.mu.Lock()
			defer pr.mu.Unlock()
			if err != nil {
				pr.failed[v] = err
				return
			}
			pr.acked = append(pr.acked, ackedRecord{partition: r.Partition, offset: r.Offset, value: v, started: started, acked: time.Now()})
		})
		select {
		case <-pr.stopped:
			return
		case <-time.After(interval):
		}
	}
}

// halt stops the loops without waiting for records in flight.
func (pr *clusterProducer) halt() {
	select {
	case <-pr.stopped:
	default:
		close(pr.stopped)
	}
	pr.loops.Wait()
}

// stop stops producing and waits up to timeout for every record in flight
// to be acknowledged or failed.
func (pr *clusterProducer) stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	pr.halt()
	done := make(chan struct{})
	go func() {
		pr.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("records still in flight %v after the producer stopped", timeout)
	}
}

// snapshot returns the acknowledged records and the failed values so far.
func (pr *clusterProducer) snapshot() ([]ackedRecord, map[string]error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	failed := make(map[string]error, len(pr.failed))
	for k, v := range pr.failed {
		failed[k] = v
	}
	return slices.Clone(pr.acked), failed
}

// ackedSince counts acknowledgements on partition p of records handed to
// the client at or after at, and returns the earliest acknowledgement.
func (pr *clusterProducer) ackedSince(p int32, at time.Time) (int, time.Time) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	n := 0
	var first time.Time
	for _, a := range pr.acked {
		if a.partition == p && !a.started.Before(at) {
			n++
			if first.IsZero() || a.acked.Before(first) {
				first = a.acked
			}
		}
	}
	return n, first
}

// latency summarises the acknowledgements of records handed to the client
// in [from, to): how many, and the mean and largest time to acknowledgement.
func (pr *clusterProducer) latency(from, to time.Time) (n int, mean, worst time.Duration) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var sum time.Duration
	for _, a := range pr.acked {
		if a.started.Before(from) || !a.started.Before(to) {
			continue
		}
		d := a.acked.Sub(a.started)
		n, sum, worst = n+1, sum+d, max(worst, d)
	}
	if n > 0 {
		mean = sum / time.Duration(n)
	}
	return n, mean, worst
}

// waitAcked waits until a record of partition p handed to the client at or
// after at is acknowledged, and returns the time from at to the first such
// acknowledgement.
func (pr *clusterProducer) waitAcked(t testing.TB, p int32, at time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var first time.Time
	clusterWait(t, timeout, fmt.Sprintf("an acks=all produce to partition %d acknowledged", p), func() error {
		n, f := pr.ackedSince(p, at)
		if n == 0 {
			return fmt.Errorf("no acknowledgement yet")
		}
		first = f
		return nil
	})
	return first.Sub(at)
}

// consumedRecord is one record read by a clusterConsumer.
type consumedRecord struct {
	offset int64
	value  string
}

// clusterConsumer reads partitions 0..parts-1 of a topic from the start,
// with direct assignment, for as long as the test runs.
type clusterConsumer struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	recs map[int32][]consumedRecord
	errs []string
}

// startClusterConsumer starts reading topic from the start.
func startClusterConsumer(t testing.TB, c *testCluster, topic string, parts int32) *clusterConsumer {
	t.Helper()
	cl := c.client(t, kgo.ConsumePartitions(startOffsets(topic, parts)), kgo.FetchMaxWait(500*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cc := &clusterConsumer{cancel: cancel, done: make(chan struct{}), recs: map[int32][]consumedRecord{}}
	go func() {
		defer close(cc.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			cc.mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				if ctx.Err() == nil && len(cc.errs) < 100 {
					cc.errs = append(cc.errs, fmt.Sprintf("%s-%d: %v", tp, p, err))
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				cc.recs[r.Partition] = append(cc.recs[r.Partition], consumedRecord{offset: r.Offset, value: string(r.Value)})
			})
			cc.mu.Unlock()
		}
	}()
	t.Cleanup(cc.stop)
	return cc
}

// stop ends the consumer and waits for its goroutine.
func (cc *clusterConsumer) stop() {
	cc.cancel()
	<-cc.done
}

// read returns a copy of everything read so far and the fetch errors seen.
func (cc *clusterConsumer) read() (map[int32][]consumedRecord, []string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := make(map[int32][]consumedRecord, len(cc.recs))
	for p, rs := range cc.recs {
		out[p] = slices.Clone(rs)
	}
	return out, slices.Clone(cc.errs)
}

// waitCaughtUp waits until the consumer has read up to ends (partition ->
// end offset) on every partition.
func (cc *clusterConsumer) waitCaughtUp(t testing.TB, ends map[int32]int64, timeout time.Duration) {
	t.Helper()
	clusterWait(t, timeout, "consumer caught up with the high watermarks", func() error {
		got, errs := cc.read()
		for p, end := range ends {
			rs := got[p]
			next := int64(0)
			if len(rs) > 0 {
				next = rs[len(rs)-1].offset + 1
			}
			if next < end {
				return fmt.Errorf("partition %d: read up to %d of %d (fetch errors: %v)", p, next, end, errs)
			}
		}
		return nil
	})
}

// deliveryReport is the outcome of checking acknowledged against consumed
// records.
type deliveryReport struct {
	acked, consumed int
	lost            int      // acknowledged records not read at their offset
	problems        []string // order, duplicates, lost records (first few)
}

// checkDelivery verifies that every partition was read once, in offset
// order without gaps from offset 0, that no value was read twice, and that
// every acknowledged record was read at its acknowledged offset.
func checkDelivery(acked []ackedRecord, consumed map[int32][]consumedRecord) deliveryReport {
	var rep deliveryReport
	rep.acked = len(acked)
	add := func(format string, args ...any) {
		if len(rep.problems) < 20 {
			rep.problems = append(rep.problems, fmt.Sprintf(format, args...))
		}
	}
	seen := map[string]string{}
	parts := make([]int32, 0, len(consumed))
	for p := range consumed {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		rs := consumed[p]
		rep.consumed += len(rs)
		for i, r := range rs {
			if r.offset != int64(i) {
				add("partition %d: read #%d has offset %d, want %d (out of order, duplicated or skipped)", p, i, r.offset, i)
				break
			}
		}
		for _, r := range rs {
			where := fmt.Sprintf("%d@%d", p, r.offset)
			if prev, dup := seen[r.value]; dup {
				add("value %q read twice: at %s and at %s", r.value, prev, where)
			}
			seen[r.value] = where
		}
	}
	sort.Slice(acked, func(i, j int) bool {
		if acked[i].partition != acked[j].partition {
			return acked[i].partition < acked[j].partition
		}
		return acked[i].offset < acked[j].offset
	})
	for _, a := range acked {
		rs := consumed[a.partition]
		if a.offset < 0 || a.offset >= int64(len(rs)) || rs[a.offset].offset != a.offset || rs[a.offset].value != a.value {
			rep.lost++
			got := "nothing"
			if a.offset >= 0 && a.offset < int64(len(rs)) {
				got = fmt.Sprintf("%q", rs[a.offset].value)
			}
			add("acknowledged %q at %d@%d, read %s there", a.value, a.partition, a.offset, got)
		}
	}
	return rep
}

// String summarises the report.
func (r deliveryReport) String() string {
	s := fmt.Sprintf("%d acknowledged, %d read, %d acknowledged records lost", r.acked, r.consumed, r.lost)
	if len(r.problems) > 0 {
		s += ":\n  " + strings.Join(r.problems, "\n  ")
	}
	return s
}

// durationStats formats min / mean / max of ds.
func durationStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	lo, hi, sum := ds[0], ds[0], time.Duration(0)
	for _, d := range ds {
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	round := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, mean %v, max %v over %d", round(lo), round(sum/time.Duration(len(ds))), round(hi), len(ds))
}
