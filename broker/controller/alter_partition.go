package controller

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// AlterPartition applies ISR changes sent by partition leaders (Kafka's
// tryProcessAlterPartition, ZooKeeper mode). The broker must be registered
// with the epoch it sends (else STALE_BROKER_EPOCH). Per partition: a newer
// leader or partition epoch than the controller knows is NOT_CONTROLLER; an
// older leader epoch FENCED_LEADER_EPOCH; the current state again succeeds
// without a write; an older partition epoch INVALID_UPDATE_VERSION; a
// RECOVERING leader with more than itself in the ISR, or going back to
// RECOVERING, INVALID_REQUEST; an ISR member that is not live (or shutting
// down, or with another broker epoch in v3) INELIGIBLE_REPLICA (v2+) or
// OPERATION_NOT_ATTEMPTED. Otherwise the state znode is written with the
// partition epoch as expected version (leader epoch unchanged), the answer
// carries the new state and partition epoch, and every broker gets
// UpdateMetadata. Answers NOT_CONTROLLER when not the controller.
func (c *Controller) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp, err := call(ctx, c, func(t *term) (*kmsg.AlterPartitionResponse, error) { return t.alterPartition(req) })
	if err != nil {
		resp = kmsg.NewPtrAlterPartitionResponse()
		resp.SetVersion(req.GetVersion())
		resp.ErrorCode = errorCodeFor(ctx, err)
	}
	return resp
}

// errorCodeFor maps a failed call: the caller's deadline is REQUEST_TIMED_OUT,
// anything else NOT_CONTROLLER.
func errorCodeFor(ctx context.Context, err error) int16 {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.NotController.Code
}

func (t *term) alterPartition(req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.SetVersion(req.GetVersion())
	b, ok := t.brokers[req.BrokerID]
	if !ok || b.Epoch != req.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp, nil
	}
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 2 {
			name = t.topicIDs[rt.TopicID]
		}
		out := kmsg.NewAlterPartitionResponseTopic()
		out.Topic, out.TopidID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			res, err := t.alterOne(req, name, rp)
			if err != nil {
				return nil, err
			}
			out.Partitions = append(out.Partitions, res)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}

// alterOne checks and applies one partition's change; an error ends the term.
func (t *term) alterOne(req *kmsg.AlterPartitionRequest, name string, rp kmsg.AlterPartitionRequestTopicPartition) (kmsg.AlterPartitionResponseTopicPartition, error) {
	res := kmsg.NewAlterPartitionResponseTopicPartition()
	res.Partition = rp.Partition
	fail := func(e *kerr.Error) (kmsg.AlterPartitionResponseTopicPartition, error) {
		res.ErrorCode = e.Code
		return res, nil
	}
	ti := t.topics[name]
	if ti == nil {
		if req.Version >= 2 {
			return fail(kerr.UnknownTopicID)
		}
		return fail(kerr.UnknownTopicOrPartition)
	}
	p := tp{name, rp.Partition}
	cur := ti.states[rp.Partition]
	if cur == nil || t.deleting[name] {
		return fail(kerr.UnknownTopicOrPartition)
	}
	isr, epochs := rp.NewISR, map[int32]int64{}
	if req.Version >= 3 {
		isr = nil
		for _, m := range rp.NewEpochISR {
			isr = append(isr, m.BrokerID)
			epochs[m.BrokerID] = m.BrokerEpoch
		}
	}
	next := zkmeta.PartitionState{
		Leader:              req.BrokerID,
		LeaderEpoch:         rp.LeaderEpoch,
		ISR:                 isr,
		ControllerEpoch:     t.epoch,
		LeaderRecoveryState: int32(rp.LeaderRecoveryState),
	}
	switch {
	case rp.PartitionEpoch > cur.version || rp.LeaderEpoch > cur.LeaderEpoch:
		return fail(kerr.NotController)
	case rp.LeaderEpoch < cur.LeaderEpoch:
		return fail(kerr.FencedLeaderEpoch)
	case cur.Leader != req.BrokerID:
		return fail(kerr.NotLeaderForPartition)
	case next.Leader == cur.Leader && slices.Equal(next.ISR, cur.ISR) && next.LeaderRecoveryState == cur.LeaderRecoveryState:
		return t.answer(res, cur), nil // already so: idempotent
	case rp.PartitionEpoch != cur.version:
		return fail(kerr.InvalidUpdateVersion)
	case next.LeaderRecoveryState == zkmeta.LeaderRecoveryRecovering && len(isr) > 1:
		return fail(kerr.InvalidRequest)
	case cur.LeaderRecoveryState != zkmeta.LeaderRecoveryRecovering && next.LeaderRecoveryState == zkmeta.LeaderRecoveryRecovering:
		return fail(kerr.InvalidRequest)
	case len(isr) == 0 || !contains(isr, req.BrokerID):
		return fail(kerr.InvalidRequest)
	}
	for _, m := range isr {
		b, ok := t.brokers[m]
		e, hasEpoch := epochs[m]
		if !ok || t.shuttingDown[m] || !contains(ti.replicas[rp.Partition], m) || (hasEpoch && e != -1 && e != b.Epoch) {
			if req.Version >= 2 {
				return fail(kerr.IneligibleReplica)
			}
			return fail(kerr.OperationNotAttempted)
		}
	}
	v, err := t.fenced.SetPartitionState(t.ctx, name, rp.Partition, next, cur.version)
	if errors.Is(err, zkmeta.ErrBadVersion) {
		st, ver, rerr := t.c.meta.PartitionState(t.ctx, name, rp.Partition)
		if rerr != nil {
			return res, rerr
		}
		ti.states[rp.Partition] = &partState{PartitionState: st, version: ver}
		return fail(kerr.InvalidUpdateVersion)
	}
	if err != nil {
		return res, err
	}
	ns := &partState{PartitionState: next, version: v}
	ti.states[rp.Partition] = ns
	t.logState(p, next, "AlterPartition")
	t.addUpdateMetadata(t.liveBrokerIDs(), p)
	res = t.answer(res, ns)
	if err := t.maybeCompleteReassignment(p); err != nil {
		return res, err
	}
	return res, nil
}

func (t *term) answer(res kmsg.AlterPartitionResponseTopicPartition, st *partState) kmsg.AlterPartitionResponseTopicPartition {
	res.LeaderID = st.Leader
	res.LeaderEpoch = st.LeaderEpoch
	res.ISR = append([]int32{}, st.ISR...)
	res.LeaderRecoveryState = int8(st.LeaderRecoveryState)
	res.PartitionEpoch = st.version
	return res
}
