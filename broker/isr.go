package broker

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ISR maintenance on the leader (Kafka 2.7+ semantics): the leader never writes ZooKeeper;
// it proposes a new ISR to the controller with AlterPartition and adopts the answer. One change
// is in flight per partition; meanwhile the high watermark uses the larger of the two ISRs.
//
//   - expand: a follower not in the ISR whose fetch offset reached the high watermark and the
//     start of the current leader epoch (checked on the fetch path);
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
}

// alterPartitionVersion: v2 addresses topics by id and carries the ISR as broker ids.
const alterPartitionVersion = 2

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
	code := int16(0)
	var got *kmsg.AlterPartitionResponseTopicPartition
	if err == nil {
		resp := raw.(*kmsg.AlterPartitionResponse)
		code = resp.ErrorCode
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].Partition == p.tp.Partition {
					got = &resp.Topics[i].Partitions[j]
				}
			}
		}
		if code == 0 && got != nil {
			code = got.ErrorCode
		}
	}
	p.mu.Lock()
	p.isrInFlight, p.pendingISR = false, nil
	switch {
	case err != nil:
		c.logger.Warn().Err(err).Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Msg("AlterPartition to the controller failed")
	case code != 0 || got == nil:
		c.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Str("error", kerr.ErrorForCode(code).Error()).Msg("AlterPartition refused")
	case got.LeaderEpoch == p.leaderEpoch.Load() && got.PartitionEpoch >= p.partitionEpoch:
		old := p.isr
		p.isr, p.partitionEpoch = slices.Clone(got.ISR), got.PartitionEpoch
		c.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int32("epoch", got.LeaderEpoch).
			Ints32("isr", got.ISR).Ints32("previous_isr", old).Msg("ISR changed")
	}
	moved := p.maybeAdvanceHWLocked()
	p.mu.Unlock()
	if moved || err == nil {
		p.wake()
	}
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
