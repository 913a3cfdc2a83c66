package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newClient returns a kgo client seeded with b, logging warnings into a
// buffer that is printed only when the test fails; it is closed at cleanup.
func newClient(t testing.TB, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	logs := &syncBuffer{}
	base := []kgo.Opt{
		kgo.SeedBrokers(b.Addr()),
		kgo.ClientID("kbroker-it"),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(30 * time.Second),
		kgo.WithLogger(kgo.BasicLogger(logs, kgo.LogLevelInfo, func() string { return time.Now().UTC().Format("15:04:05.000 ") })),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(func() {
		dumpTestStacks(t)
		cl.Close()
		if t.Failed() {
			if s := logs.String(); s != "" {
				t.Logf("kgo client log (info):\n%s", tail(s, 20000))
			}
		}
	})
	return cl
}

// newAdmin returns a kadm client over a fresh kgo client.
func newAdmin(t testing.TB, b *Broker, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, b, opts...))
}

// createTopic creates topic with the given partitions (replication factor 1)
// and configs, failing the test on any error.
func createTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) kadm.CreateTopicResponse {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("CreateTopics %q (%d partitions): %v (%s)", topic, partitions, err, resp.ErrMessage)
	}
	return resp
}

// startOffsets is a ConsumePartitions map reading partitions 0..n-1 of topic
// from their log start.
func startOffsets(topic string, n int32) map[string]map[int32]kgo.Offset {
	ps := make(map[int32]kgo.Offset, n)
	for p := int32(0); p < n; p++ {
		ps[p] = kgo.NewOffset().AtStart()
	}
	return map[string]map[int32]kgo.Offset{topic: ps}
}

// consumeN reads partitions 0..parts-1 of topic from the start with direct
// assignment until want records arrived (or ctx ends), then keeps polling for
// settle to catch extra (duplicate) records, and returns what it read.
func consumeN(t testing.TB, b *Broker, topic string, parts int32, want int, timeout, settle time.Duration, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, append([]kgo.Opt{kgo.ConsumePartitions(startOffsets(topic, parts))}, opts...)...)
	defer cl.Close()
	ctx := testCtx(t, timeout)
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: got %d of %d records before the deadline (%v)", topic, len(out), want, timeout)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s partition %d: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	if settle > 0 {
		sctx, cancel := context.WithTimeout(ctx, settle)
		defer cancel()
		for sctx.Err() == nil {
			fs := cl.PollFetches(sctx)
			out = append(out, fs.Records()...)
		}
	}
	return out
}

// byPartition groups records by partition keeping their order.
func byPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	m := make(map[int32][]*kgo.Record)
	for _, r := range rs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

// checkContiguous verifies that rs (one partition, in read order) has
// offsets from..from+len-1.
func checkContiguous(rs []*kgo.Record, from int64) error {
	for i, r := range rs {
		if r.Offset != from+int64(i) {
			return fmt.Errorf("partition %d: record #%d has offset %d, want %d", r.Partition, i, r.Offset, from+int64(i))
		}
	}
	return nil
}

// endOffsets lists the end offset of each partition of topic.
func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets %s: %v", topic, err)
	}
	out := make(map[int32]int64)
	var errs []string
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Sprintf("partition %d: %v", o.Partition, o.Err))
			return
		}
		out[o.Partition] = o.Offset
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("ListEndOffsets %s: %v", topic, errs)
	}
	return out
}
