package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// latencies are end-to-end percentiles in milliseconds.
type latencies struct {
	P50, P99, P999 float64
	Samples        int
}

// endToEnd produces size-byte records at rate records/s for dur (acks=1, no linger) while a
// consumer reads the topic; every value carries its send time (monotonic nanoseconds since
// the probe began), and the consumer's receive time minus it is one sample. Samples sent
// during warmup are dropped.
func endToEnd(ctx context.Context, addr, topic string, partitions int32, rate, size int, dur, warmup time.Duration) (latencies, error) {
	if err := createTopic(ctx, addr, topic, partitions); err != nil {
		return latencies{}, err
	}
	size = max(size, 8)
	base := time.Now()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return latencies{}, err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	if err != nil {
		return latencies{}, err
	}
	defer prod.Close()

	var (
		mu       sync.Mutex
		samples  = make([]time.Duration, 0, int(float64(rate)*dur.Seconds()))
		received int
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan error, 1)
	sent := 0
	go func() {
		for {
			fs := cons.PollFetches(cctx)
			if cctx.Err() != nil {
				consumed <- nil
				return
			}
			if errs := fs.Errors(); len(errs) > 0 {
				consumed <- fmt.Errorf("consume %s: %w", topic, errs[0].Err)
				return
			}
			now := time.Since(base)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Value) < 8 {
					return
				}
				at := time.Duration(binary.BigEndian.Uint64(r.Value))
				received++
				if at >= warmup {
					samples = append(samples, now-at)
				}
			})
			mu.Unlock()
		}
	}()

	var perr error
	var perrOnce sync.Once
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for time.Since(start) < dur && ctx.Err() == nil {
		due := int(float64(rate) * time.Since(start).Seconds())
		for ; sent < due; sent++ {
			v := make([]byte, size)
			binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
			prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					perrOnce.Do(func() { perr = err })
				}
			})
		}
		<-tick.C
	}
	if err := prod.Flush(ctx); err != nil {
		return latencies{}, err
	}
	if perr != nil {
		return latencies{}, fmt.Errorf("produce %s: %w", topic, perr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := received
		mu.Unlock()
		if got >= sent {
			break
		}
		if time.Now().After(deadline) {
			return latencies{}, fmt.Errorf("consumed %d of %d records", got, sent)
		}
		select {
		case err := <-consumed:
			return latencies{}, err
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-consumed; err != nil {
		return latencies{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	return latencies{
		P50: quantileMs(samples, 0.50), P99: quantileMs(samples, 0.99), P999: quantileMs(samples, 0.999),
		Samples: len(samples),
	}, nil
}

// quantileMs is the nearest-rank q-quantile of sorted durations, in milliseconds.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return float64(sorted[rank]) / float64(time.Millisecond)
}
