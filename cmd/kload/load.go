package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ensureTopic creates c.Topic unless it exists and returns its partition
// count.
func ensureTopic(ctx context.Context, c Config) (int32, error) {
	cl, err := kgo.NewClient(c.base()...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	_, err = adm.CreateTopic(ctx, c.Partitions, c.Replication, nil, c.Topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s: %w", c.Topic, err)
	}
	// Metadata may lag a fresh creation for a moment.
	for {
		tds, err := adm.ListTopics(ctx, c.Topic)
		if err != nil {
			return 0, fmt.Errorf("metadata %s: %w", c.Topic, err)
		}
		if td := tds[c.Topic]; td.Err == nil && len(td.Partitions) > 0 {
			return int32(len(td.Partitions)), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s not ready: %w", c.Topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// produce sends c.Records records of c.Size bytes asynchronously and waits
// for every acknowledgement.
func produce(ctx context.Context, c Config) (*Phase, error) {
	cl, err := kgo.NewClient(append(c.base(), c.producerOpts()...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	payload := make([]byte, c.Size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var (
		mu        sync.Mutex
		lat       = make([]time.Duration, 0, c.Records)
		commitLat []time.Duration
		ph        = &Phase{}
		wg        sync.WaitGroup
		firstErr  error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		ph.Errors++
		if firstErr == nil {
			firstErr = err
		}
	}
	if c.Txn > 0 {
		// The producer id first, off the clock: on a fresh broker the first
		// InitProducerId with a transactional id also creates __transaction_state.
		t0 := time.Now()
		if _, _, err := cl.ProducerID(ctx); err != nil {
			return nil, fmt.Errorf("init producer id: %w", err)
		}
		ph.InitMs = float64(time.Since(t0).Microseconds()) / 1000
	}
	start := time.Now()
	for i := 0; i < c.Records && ctx.Err() == nil; i++ {
		if c.Txn > 0 && i%c.Txn == 0 {
			if err := cl.BeginTransaction(); err != nil {
				fail(fmt.Errorf("begin transaction: %w", err))
				break
			}
		}
		sent := time.Now()
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
			d := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			defer wg.Done()
			if err != nil {
				ph.Errors++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ph.Records++
			ph.Bytes += int64(len(r.Value))
			lat = append(lat, d)
		})
		if c.Txn > 0 && ((i+1)%c.Txn == 0 || i+1 == c.Records) {
			// A commit as the Java producer's commitTransaction does it: wait for the
			// transaction's records, then end it.
			t0 := time.Now()
			if err := cl.Flush(ctx); err != nil {
				fail(fmt.Errorf("flush transaction: %w", err))
				break
			}
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				fail(fmt.Errorf("commit transaction: %w", err))
				break
			}
			commitLat = append(commitLat, time.Since(t0))
		}
	}
	wg.Wait()
	ph.rates(time.Since(start))
	ph.latencies(lat)
	if len(commitLat) > 0 {
		ph.Transactions = int64(len(commitLat))
		sort.Slice(commitLat, func(i, j int) bool { return commitLat[i] < commitLat[j] })
		ph.CommitP50Ms, ph.CommitP99Ms = percentile(commitLat, 0.50), percentile(commitLat, 0.99)
	}
	if firstErr != nil {
		ph.FirstError = firstErr.Error()
	}
	return ph, ctx.Err()
}

// consume reads every partition of the topic from its start up to the end
// offsets listed when the phase begins; with read_committed, want records
// (markers take offsets that no record has).
func consume(ctx context.Context, c Config, partitions int32, want int64) (*Phase, error) {
	admCl, err := kgo.NewClient(c.base()...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, c.Topic)
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	remaining := make(map[int32]int64)
	assign := make(map[int32]kgo.Offset)
	for p := int32(0); p < partitions; p++ {
		o, ok := ends.Lookup(c.Topic, p)
		if !ok || o.Err != nil {
			return nil, fmt.Errorf("end offset of partition %d: %v", p, o.Err)
		}
		if o.Offset > 0 {
			remaining[p] = o.Offset
			assign[p] = kgo.NewOffset().AtStart()
		}
	}
	ph := &Phase{}
	if len(assign) == 0 {
		return ph, nil
	}
	cl, err := kgo.NewClient(append(append(c.base(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.Topic: assign})),
		c.consumerOpts()...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byCount := c.Isolation == "read_committed"
	start := time.Now()
	for len(remaining) > 0 && !(byCount && ph.Records >= want) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			ph.rates(time.Since(start))
			return ph, err
		}
		for _, e := range fs.Errors() {
			return ph, fmt.Errorf("fetch %s-%d: %w", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !byCount && (!ok || r.Offset >= end) {
				return
			}
			ph.Records++
			ph.Bytes += int64(len(r.Value))
			if !byCount && r.Offset >= end-1 {
				delete(remaining, r.Partition)
			}
		})
	}
	ph.rates(time.Since(start))
	return ph, nil
}

// run executes the phases c asks for.
func run(ctx context.Context, c Config) (Report, error) {
	rep := Report{Topic: c.Topic, Size: c.Size, Acks: c.Acks, Compression: c.Compression}
	parts, err := ensureTopic(ctx, c)
	if err != nil {
		return rep, err
	}
	rep.Partitions = parts
	if c.produces() {
		if rep.Produce, err = produce(ctx, c); err != nil {
			return rep, fmt.Errorf("produce: %w", err)
		}
	}
	if c.consumes() {
		want := int64(c.Records)
		if rep.Produce != nil {
			want = rep.Produce.Records
		}
		if rep.Consume, err = consume(ctx, c, parts, want); err != nil {
			return rep, fmt.Errorf("consume: %w", err)
		}
	}
	return rep, nil
}
