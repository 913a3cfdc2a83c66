package integration

// BenchmarkGroupJoinSettle: how long a 10-member consumer group takes to settle after an
// 11th member joins, with the classic protocol (cooperative-sticky, franz-go's default;
// range, eager, the Java client's default) and with KIP-848 (uniform, server-side), on the
// same broker binary, and how long consumption of the partitions that keep their owner
// stops meanwhile. Not part of `make test`: `make bench-groups` (about 15 minutes) prints
// Go benchmark lines with the figures as metrics; docs/benchmarks.md has a run's.
//
// Settled: every partition owned by exactly one member as the members see it (their
// OnPartitionsAssigned/Revoked callbacks), all 11 members owning some, and the group
// described Stable by the coordinator. The pause is the longest time, between the join
// and one second after the group settled, without a record arriving on a partition that
// had the same owner before and after, while a producer writes to every partition every
// 20 ms. (With a slow member, its own partitions are left out of the pause: it stops
// between polls by design.)

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	settleMembers    = 10
	settlePartitions = 30
)

// settleRuns numbers the runs (go test calls a benchmark again with a larger b.N).
var settleRuns int

func BenchmarkGroupJoinSettle(b *testing.B) {
	for _, hb := range []struct {
		name      string
		overrides []string
		classicHB time.Duration
		slow      bool // one member takes 2 s over each poll and holds rebalances meanwhile
	}{
		// Each protocol's default: the classic client heartbeats every 3 s (franz-go and
		// Java), a KIP-848 member every group.consumer.heartbeat.interval.ms (5 s).
		{"heartbeat=defaults", nil, 3 * time.Second, false},
		// The same 1 s heartbeat for both.
		{"heartbeat=1s", []string{"group.consumer.heartbeat.interval.ms=1000", "group.consumer.min.heartbeat.interval.ms=1000"}, time.Second, false},
		// Defaults, and KIP-848 members short of their target poll every 250 ms
		// (group.consumer.reconciling.heartbeat.interval.ms, not a Kafka key).
		{"heartbeat=defaults+reconciling=250ms", []string{"group.consumer.reconciling.heartbeat.interval.ms=250"}, 3 * time.Second, false},
		// Defaults, one of the ten members slow: it processes each poll for 2 s and only
		// then lets a rebalance proceed (BlockRebalanceOnPoll, as a Java consumer that only
		// rejoins from poll()).
		{"heartbeat=defaults+slow-member", nil, 3 * time.Second, true},
	} {
		b.Run(hb.name, func(b *testing.B) {
			br := startBroker(b, append([]string{"group.initial.rebalance.delay.ms=0", "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=5"}, hb.overrides...)...)
			for _, p := range []struct {
				name string
				opts []kgo.Opt
			}{
				{"classic-cooperative-sticky", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.HeartbeatInterval(hb.classicHB)}},
				{"classic-range", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer()), kgo.HeartbeatInterval(hb.classicHB)}},
				{"kip848-uniform", []kgo.Opt{kgo.ServerSideBalancer()}},
			} {
				b.Run(p.name, func(b *testing.B) {
					var settles, pauses []time.Duration
					for i := 0; i < b.N; i++ {
						settleRuns++
						s, pause := runJoinSettle(b, br, fmt.Sprintf("%s-%d", p.name, settleRuns), p.opts, hb.slow)
						settles, pauses = append(settles, s), append(pauses, pause)
					}
					b.ReportMetric(float64(median(settles).Milliseconds()), "settle-ms")
					b.ReportMetric(float64(median(pauses).Milliseconds()), "pause-ms")
					b.ReportMetric(0, "ns/op")
					b.Logf("%s %s: settle %v, pause of unaffected partitions %v", hb.name, p.name, settles, pauses)
				})
			}
		})
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// settleGroup is the members' view of a group: who owns what, and when records arrived.
type settleGroup struct {
	mu      sync.Mutex
	owned   []map[int32]bool // per member
	arrived map[int32][]time.Time
}

func (g *settleGroup) owners() (map[int32]int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	owner := map[int32]int{}
	for m, ps := range g.owned {
		if len(ps) == 0 {
			return nil, false
		}
		for p := range ps {
			if _, dup := owner[p]; dup {
				return nil, false
			}
			owner[p] = m
		}
	}
	return owner, len(owner) == settlePartitions
}

func runJoinSettle(b *testing.B, br *Broker, name string, opts []kgo.Opt, slow bool) (settle, pause time.Duration) {
	b.Helper()
	topic, group := "settle-"+name, "settle-group-"+name
	createTopic(b, newAdmin(b, br), topic, settlePartitions, nil)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	prod := newClient(b, br, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	go func() {
		for ctx.Err() == nil {
			for p := int32(0); p < settlePartitions; p++ {
				prod.Produce(ctx, &kgo.Record{Partition: p, Value: []byte("x")}, nil)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	g := &settleGroup{arrived: map[int32][]time.Time{}}
	var clients []*kgo.Client
	join := func() {
		idx := len(g.owned)
		g.mu.Lock()
		g.owned = append(g.owned, map[int32]bool{})
		g.mu.Unlock()
		set := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				g.mu.Lock()
				defer g.mu.Unlock()
				for _, p := range m[topic] {
					if add {
						g.owned[idx][p] = true
					} else {
						delete(g.owned[idx], p)
					}
				}
			}
		}
		slowOne := slow && idx == 0
		copts := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
			kgo.FetchMaxWait(100 * time.Millisecond), kgo.OnPartitionsAssigned(set(true)), kgo.OnPartitionsRevoked(set(false)),
			kgo.OnPartitionsLost(set(false))}
		if slowOne {
			copts = append(copts, kgo.BlockRebalanceOnPoll())
		}
		cl := newClient(b, br, append(copts, opts...)...)
		clients = append(clients, cl)
		go func() {
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				now := time.Now()
				g.mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { g.arrived[r.Partition] = append(g.arrived[r.Partition], now) })
				g.mu.Unlock()
				if slowOne {
					select {
					case <-ctx.Done():
					case <-time.After(2 * time.Second): // processing
					}
					cl.AllowRebalance()
				}
			}
		}()
	}
	stable := func() bool {
		if len(clients) == 0 {
			return false
		}
		return groupStable(ctx, clients[0], group)
	}
	for i := 0; i < settleMembers; i++ {
		join()
	}
	var before map[int32]int
	eventually(b, 2*time.Minute, func() error {
		var ok bool
		if before, ok = g.owners(); !ok || !stable() {
			return fmt.Errorf("the %d members have not settled", settleMembers)
		}
		return nil
	})
	// Steady consumption, then the join at a random moment of the members' heartbeat cycles.
	time.Sleep(2*time.Second + rand.N(5*time.Second))

	start := time.Now()
	join()
	var after map[int32]int
	for {
		var ok bool
		if after, ok = g.owners(); ok && stable() {
			break
		}
		if time.Since(start) > 2*time.Minute {
			b.Fatalf("the group did not settle after the join")
		}
		time.Sleep(10 * time.Millisecond)
	}
	settle = time.Since(start)
	end := time.Now().Add(time.Second)
	time.Sleep(time.Second)

	g.mu.Lock()
	defer g.mu.Unlock()
	for p, owner := range before {
		if after[p] != owner || slow && owner == 0 {
			continue // moved (its pause is the rebalance itself), or the slow member's
		}
		last := start
		for _, at := range g.arrived[p] {
			if at.Before(start) {
				last = at
				continue
			}
			if at.After(end) {
				break
			}
			pause = max(pause, at.Sub(last))
			last = at
		}
		pause = max(pause, end.Sub(last))
	}
	return settle, pause
}

// groupStable asks the coordinator whether group is Stable, whichever protocol it uses.
func groupStable(ctx context.Context, cl *kgo.Client, group string) bool {
	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.Groups = []string{group}
	if resp, err := d.RequestWith(ctx, cl); err == nil && len(resp.Groups) == 1 && resp.Groups[0].ErrorCode == 0 {
		return resp.Groups[0].State == "Stable"
	}
	c := kmsg.NewPtrDescribeGroupsRequest()
	c.Groups = []string{group}
	resp, err := c.RequestWith(ctx, cl)
	return err == nil && len(resp.Groups) == 1 && resp.Groups[0].State == "Stable"
}
