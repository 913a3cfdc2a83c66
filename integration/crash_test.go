package integration

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackLog records which produced values the broker acknowledged and where.
type ackLog struct {
	mu      sync.Mutex
	acked   map[string]producedAt
	pending sync.WaitGroup
	nacked  atomic.Int64
}

// produceLoop produces values "<tag>-<i>" to topic until stop is closed.
func produceLoop(ctx context.Context, cl *kgo.Client, topic, tag string, log *ackLog, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		v := fmt.Sprintf("%s-%d", tag, i)
		log.pending.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer log.pending.Done()
			if err != nil {
				return
			}
			log.mu.Lock()
			log.acked[v] = producedAt{partition: r.Partition, offset: r.Offset}
			log.mu.Unlock()
			log.nacked.Add(1)
		})
	}
}

func TestKillDuringProduceStorm(t *testing.T) {
	t.Parallel()
	const (
		topic     = "storm"
		parts     = 3
		producers = 4
	)
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, parts, nil)

	log := &ackLog{acked: make(map[string]producedAt)}
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loops sync.WaitGroup
	clients := make([]*kgo.Client, producers)
	for g := range clients {
		clients[g] = newClient(t, b, kgo.MaxBufferedRecords(2000), kgo.ProducerLinger(2*time.Millisecond))
		loops.Add(1)
		go func(g int) {
			defer loops.Done()
			produceLoop(ctx, clients[g], topic, fmt.Sprintf("g%d", g), log, stop)
		}(g)
	}

	// Kill in the middle of the storm: once a good number of acks arrived.
	deadline := time.Now().Add(60 * time.Second)
	for log.nacked.Load() < 5000 {
		if time.Now().After(deadline) {
			close(stop)
			cancel()
			t.Fatalf("only %d records acknowledged within 60s of produce storm", log.nacked.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Kill()
	close(stop)
	cancel()
	loops.Wait()
	for _, cl := range clients {
		cl.Close()
	}
	waited := make(chan struct{})
	go func() { log.pending.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("producer promises not all called 30s after closing the clients")
	}
	t.Logf("%d records acknowledged before kill -9", len(log.acked))

	b.Restart(t)
	adm = newAdmin(t, b)
	ends := endOffsets(t, adm, topic)
	total := int64(0)
	for _, e := range ends {
		total += e
	}
	got := consumeN(t, b, topic, parts, int(total), 60*time.Second, 500*time.Millisecond)
	where := make(map[string]producedAt, len(got))
	for _, r := range got {
		v := string(r.Value)
		if prev, dup := where[v]; dup {
			t.Errorf("value %s stored twice: %d@%d and %d@%d", v, prev.partition, prev.offset, r.Partition, r.Offset)
		}
		where[v] = producedAt{partition: r.Partition, offset: r.Offset}
	}
	for p, rs := range byPartition(got) {
		if err := checkContiguous(rs, 0); err != nil {
			t.Error(err)
		}
		if int64(len(rs)) != ends[p] {
			t.Errorf("partition %d: read %d records, end offset %d", p, len(rs), ends[p])
		}
	}
	lost := 0
	for v, at := range log.acked {
		w, ok := where[v]
		if !ok {
			if lost < 10 {
				t.Errorf("acknowledged record %s (%d@%d) lost after kill -9 and restart", v, at.partition, at.offset)
			}
			lost++
			continue
		}
		if w != at {
			t.Errorf("acknowledged record %s: acked at %d@%d, found at %d@%d", v, at.partition, at.offset, w.partition, w.offset)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost", lost, len(log.acked))
	}

	// New records continue at each partition's end offset.
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	pctx := testCtx(t, 30*time.Second)
	for p := int32(0); p < parts; p++ {
		for i := 0; i < 5; i++ {
			res := prod.ProduceSync(pctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("after-%d-%d", p, i))})
			if err := res.FirstErr(); err != nil {
				t.Fatalf("produce after restart to partition %d: %v", p, err)
			}
			if want := ends[p] + int64(i); res[0].Record.Offset != want {
				t.Errorf("produce after restart to partition %d: offset %d, want %d", p, res[0].Record.Offset, want)
			}
		}
	}
	after := consumeN(t, b, topic, parts, int(total)+5*parts, 60*time.Second, 300*time.Millisecond)
	for _, rs := range byPartition(after) {
		if err := checkContiguous(rs, 0); err != nil {
			t.Errorf("after new produce: %v", err)
		}
	}
}
