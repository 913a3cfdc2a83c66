package broker

// The coordinators' view of their internal topics (__consumer_offsets for the group
// coordinator, __transaction_state for the transaction coordinator): appends go through the
// partition's normal append path, as a coordinator-origin append (producer sequences are not
// checked, so the group coordinator's transactional offset commits may all carry sequence
// 0, as Kafka writes them), and are answered once the high watermark covers them (acks=all);
// loading reads a partition from its log start to its log end, as Kafka's loaders do: a
// broker that has just become leader may not yet know that the old leader's last records were
// committed (its high watermark lags until its followers fetch again), yet they are the
// partition's now, and a load to the high watermark would forget acknowledged state.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// internalLog implements coordinator.Log and txn.Log over the hosted partitions of topic.
type internalLog struct {
	s       *Server
	topic   string
	timeout time.Duration // how long an append may wait for the in-sync replicas
}

func (l internalLog) Append(ctx context.Context, partition int32, batch []byte) error {
	p, ok := l.s.rm.get(l.topic, partition)
	if !ok || !p.isLeader.Load() {
		return fmt.Errorf("%w: %s-%d is not led here", kerr.NotLeaderForPartition, l.topic, partition)
	}
	if n, minISR := p.inSyncCount(), p.cfg.Load().MinInsyncReplicas; n < minISR {
		return fmt.Errorf("%w: %s-%d has %d in-sync replicas, min.insync.replicas=%d", kerr.NotEnoughReplicas, l.topic, partition, n, minISR)
	}
	wake := make(chan struct{}, 1)
	p.addWaiter(wake)
	defer p.removeWaiter(wake)
	res, err := p.appendBatch(batch, time.Now(), p.log.AppendCoordinator)
	if err != nil {
		return err
	}
	return waitCommitted(ctx, p, wake, res.LastOffset+1, l.timeout)
}

// waitCommitted waits until p's high watermark reaches offset (every in-sync replica has
// what is below it), leadership moves, or timeout passes. wake must be registered with p.
func waitCommitted(ctx context.Context, p *partition, wake chan struct{}, offset int64, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for p.highWatermark() < offset {
		if !p.isLeader.Load() {
			return fmt.Errorf("%w: %s-%d leadership moved before offset %d was replicated", kerr.NotLeaderForPartition, p.tp.Topic, p.tp.Partition, offset-1)
		}
		select {
		case <-wake:
		case <-deadline.C:
			return fmt.Errorf("%w: %s-%d high watermark did not reach %d in %v", kerr.RequestTimedOut, p.tp.Topic, p.tp.Partition, offset, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (l internalLog) Read(partition int32, offset int64, maxBytes int) ([]byte, int64, error) {
	p, ok := l.s.rm.get(l.topic, partition)
	if !ok {
		return nil, -1, fmt.Errorf("%w: %s-%d is not hosted here", kerr.NotLeaderForPartition, l.topic, partition)
	}
	end := p.log.LogEndOffset()
	if start := p.log.LogStartOffset(); offset < start {
		offset = start
	}
	if offset >= end {
		return nil, end, nil
	}
	res, err := p.log.Read(offset, int32(min(maxBytes, 1<<30)), end, true)
	if err != nil {
		return nil, end, err
	}
	return res.Data, end, nil
}
