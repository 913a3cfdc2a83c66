package broker

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/metrics"
)

// ISR maintenance on the leader (Kafka 2.7+ semantics): the leader never writes ZooKeeper;
// it proposes a new ISR to the controller with AlterPartition and adopts the answer. One change
// is in flight per partition; meanwhile the high watermark uses the larger of the two ISRs.
//
//   - expand: a follower not in the ISR whose fetch offset reached the high watermark and the
//     start of the current leader epoch, and that the metadata cache knows as a live broker
//     (checked on the fetch path; not again for a while after a refusal);
//   - shrink: every replica.lag.time.max.ms/2, in-sync followers that have not caught up for
//     longer than replica.lag.time.max.ms.

// isrChanger sends AlterPartition requests to the controller.
type isrChanger struct {
	self        int32
	brokerEpoch func() int64
	send        func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) // to the active controller
	spawn       func(func())
	logger      zerolog.Logger
	ctx         context.Context
	metrics     *metrics.Metrics // nil: off
}

// alterPartitionVersion: v2 addresses topics by id and carries the ISR as broker ids.
const alterPartitionVersion = 2

// isrRefusedBackoff is how long a leader waits after a refused or failed AlterPartition before
// proposing to expand the ISR again (expansion is checked on every follower fetch).
const isrRefusedBackoff = 500 * time.Millisecond

// proposeISRExpand adds replica to p's ISR.
func (rm *replicaManager) proposeISRExpand(p *partition, replica int32) {
	p.mu.Lock()
	isr := p.isr
	p.mu.Unlock()
	if slices.Contains(isr, replica) {
		return
	}
	rm.proposeISR(p, append(slices.Clone(isr), replica))
}

// proposeISR starts an AlterPartition for p unless one is in flight.
func (rm *replicaManager) proposeISR(p *partition, newISR []int32) {
	c := rm.isr
	if c == nil {
		return
	}
	p.mu.Lock()
	if p.isrInFlight || !p.isLeader.Load() {
		p.mu.Unlock()
		return
	}
	p.isrInFlight, p.pendingISR = true, newISR
	leaderEpoch, partitionEpoch := p.leaderEpoch.Load(), p.partitionEpoch
	p.mu.Unlock()
	c.spawn(func() { c.alter(p, newISR, leaderEpoch, partitionEpoch) })
}

func (c *isrChanger) alter(p *partition, newISR []int32, leaderEpoch, partitionEpoch int32) {
	// Like Kafka's AlterPartitionManager, a proposal stays in flight until the controller
	// answers it: one whose answer was lost may already be applied, and a later, different
	// proposal would then carry a stale partition epoch and be refused for good. A retry of
	// an applied change is answered with the current state (the controller treats it as
	// idempotent). It ends when this broker stops leading the partition in this epoch.
	backoff := 100 * time.Millisecond
	var (
		got  *kmsg.AlterPartitionResponseTopicPartition
		code int16
		err  error
	)
	for attempt := 1; ; attempt++ {
		got, code, err = c.send1(p, newISR, leaderEpoch, partitionEpoch)
		if err == nil && code != kerr.NotController.Code && code != kerr.RequestTimedOut.Code {
			break
		}
		if c.ctx.Err() != nil || !p.isLeader.Load() || p.leaderEpoch.Load() != leaderEpoch {
			break
		}
		ev := c.logger.Debug()
		if attempt == 3 {
			ev = c.logger.Warn()
		}
		if err == nil {
			err = kerr.ErrorForCode(code)
		}
		ev.Err(err).Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).
			Int("attempt", attempt).Msg("AlterPartition not answered by the controller; retrying")
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	p.mu.Lock()
	if p.leaderEpoch.Load() != leaderEpoch {
		p.mu.Unlock() // a role change since reset the proposal; one of the new epoch may be in flight
		return
	}
	p.isrInFlight, p.pendingISR = false, nil
	switch {
	case err != nil:
		p.expandAfter = time.Now().Add(isrRefusedBackoff)
		c.logger.Warn().Err(err).Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Msg("AlterPartition to the controller failed")
	case code != 0 || got == nil:
		p.expandAfter = time.Now().Add(isrRefusedBackoff)
		ev := c.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Ints32("proposed_isr", newISR)
		if code != 0 {
			ev = ev.Str("error", kerr.ErrorForCode(code).Error())
		}
		ev.Msg("AlterPartition refused")
	case got.LeaderEpoch == p.leaderEpoch.Load() && got.PartitionEpoch >= p.partitionEpoch:
		old := p.isr
		p.isr, p.partitionEpoch = slices.Clone(got.ISR), got.PartitionEpoch
		switch {
		case len(p.isr) < len(old):
			c.metrics.ISRShrink()
		case len(p.isr) > len(old):
			c.metrics.ISRExpand()
		}
		c.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int32("epoch", got.LeaderEpoch).
			Ints32("isr", got.ISR).Ints32("previous_isr", old).Msg("ISR changed")
	}
	moved := p.maybeAdvanceHWLocked()
	p.mu.Unlock()
	if moved || err == nil {
		p.wake()
	}
}

// send1 sends one AlterPartition for p and returns its partition's answer and error code.
func (c *isrChanger) send1(p *partition, newISR []int32, leaderEpoch, partitionEpoch int32) (*kmsg.AlterPartitionResponseTopicPartition, int16, error) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(alterPartitionVersion)
	req.BrokerID, req.BrokerEpoch = c.self, c.brokerEpoch()
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = p.tp.Topic, p.topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.NewISR, rp.PartitionEpoch = p.tp.Partition, leaderEpoch, newISR, partitionEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	raw, err := c.send(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	resp := raw.(*kmsg.AlterPartitionResponse)
	var got *kmsg.AlterPartitionResponseTopicPartition
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].Partition == p.tp.Partition {
				got = &resp.Topics[i].Partitions[j]
			}
		}
	}
	code := resp.ErrorCode
	if code == 0 && got != nil {
		code = got.ErrorCode
	}
	return got, code, nil
}

// isrShrinkLoop removes lagging followers from the ISR of the partitions this broker leads.
func (rm *replicaManager) isrShrinkLoop(ctx context.Context, maxLag time.Duration) {
	interval := max(maxLag/2, 100*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, p := range rm.snapshot() {
				if !p.isLeader.Load() {
					continue
				}
				p.mu.Lock()
				lagging := p.laggingReplicasLocked(now, maxLag)
				var next []int32
				if len(lagging) > 0 {
					for _, r := range p.isr {
						if !slices.Contains(lagging, r) {
							next = append(next, r)
						}
					}
				}
				p.mu.Unlock()
				if len(lagging) > 0 {
					rm.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Ints32("lagging", lagging).Msg("shrinking ISR")
					rm.proposeISR(p, next)
				}
			}
		}
	}
}
