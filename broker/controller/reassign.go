package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// Partition reassignment (KIP-455), as Kafka's ZooKeeper-mode controller does it
// (KafkaController.onPartitionReassignment). A partition being reassigned from its original
// replicas (ORS) to target replicas (TRS) has the full replica set RS = TRS + ORS in
// /brokers/topics/<t>, with adding_replicas = RS - ORS and removing_replicas = RS - TRS:
//
//  1. RS, adding and removing are written; replicas dropped by a reassignment that replaced
//     an unfinished one are stopped and deleted; the leader epoch is bumped and every replica
//     of RS gets LeaderAndIsr, so the leader fetches to the new ones and they start fetching.
//  2. Once every target replica is in the ISR (checked on each AlterPartition of the
//     partition): the replicas become TRS in memory; a leader outside TRS (or dead) is
//     replaced by the first live in-sync target replica, otherwise the epoch is bumped;
//     the removed replicas leave the ISR and get StopReplica with delete; the znode is
//     rewritten with RS = TRS and no adding/removing; UpdateMetadata goes to every broker.
//
// A new reassignment of a partition replaces an unfinished one (its target wins); cancelling
// (null target) reverts to the original replicas. A controller failover resumes every
// partition whose znode still lists adding or removing replicas. The legacy znode
// /admin/reassign_partitions starts reassignments too: partitions leave it as they complete
// (or fail validation), and it is deleted once empty; a reassignment through the API takes a
// partition out of it. Topic deletion waits while a partition of the topic is reassigned.

// replicaAssignment is a partition's full replica set and the replicas being added and
// removed (Kafka's ReplicaAssignment).
type replicaAssignment struct {
	replicas, adding, removing []int32
}

func (a replicaAssignment) reassigning() bool { return len(a.adding) > 0 || len(a.removing) > 0 }

// origin is the replica set before the reassignment (RS - adding).
func (a replicaAssignment) origin() []int32 { return without(a.replicas, a.adding) }

// target is the replica set after the reassignment (RS - removing).
func (a replicaAssignment) target() []int32 { return without(a.replicas, a.removing) }

// reassignTo is the assignment moving this one's original replicas to target.
func (a replicaAssignment) reassignTo(target []int32) replicaAssignment {
	origin := a.origin()
	full := slices.Clone(target)
	for _, r := range origin {
		if !slices.Contains(full, r) {
			full = append(full, r)
		}
	}
	return replicaAssignment{replicas: full, adding: without(full, origin), removing: without(full, target)}
}

func (a replicaAssignment) equal(b replicaAssignment) bool {
	return slices.Equal(a.replicas, b.replicas) && slices.Equal(a.adding, b.adding) && slices.Equal(a.removing, b.removing)
}

// without returns the elements of s not in drop, in order.
func without(s, drop []int32) []int32 {
	out := []int32{}
	for _, x := range s {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

func (t *term) assignment(p tp) replicaAssignment {
	ti := t.topics[p.topic]
	if ti == nil {
		return replicaAssignment{}
	}
	return replicaAssignment{replicas: ti.replicas[p.partition], adding: ti.adding[p.partition], removing: ti.removing[p.partition]}
}

// reassigning reports whether p has a reassignment in progress.
func (t *term) reassigning(p tp) bool { return t.assignment(p).reassigning() }

// topicReassigning reports whether a partition of the topic is being reassigned.
func (t *term) topicReassigning(name string) bool {
	ti := t.topics[name]
	return ti != nil && (len(ti.adding) > 0 || len(ti.removing) > 0)
}

// setAssignment writes p's assignment into /brokers/topics/<t> (read again for its version;
// retried when the znode changed meanwhile) and into memory.
func (t *term) setAssignment(p tp, a replicaAssignment) error {
	for attempt := 0; ; attempt++ {
		ta, version, err := t.c.meta.Topic(t.ctx, p.topic)
		if err != nil {
			return err
		}
		ta.Partitions[p.partition] = a.replicas
		if ta.AddingReplicas == nil {
			ta.AddingReplicas = map[int32][]int32{}
		}
		if ta.RemovingReplicas == nil {
			ta.RemovingReplicas = map[int32][]int32{}
		}
		delete(ta.AddingReplicas, p.partition)
		delete(ta.RemovingReplicas, p.partition)
		if len(a.adding) > 0 {
			ta.AddingReplicas[p.partition] = a.adding
		}
		if len(a.removing) > 0 {
			ta.RemovingReplicas[p.partition] = a.removing
		}
		err = t.fenced.SetTopicAssignment(t.ctx, ta, version)
		if errors.Is(err, zkmeta.ErrBadVersion) && attempt < maxPartitionWriteAttempts {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	ti := t.topics[p.topic]
	ti.replicas[p.partition] = a.replicas
	setOrDelete(ti.adding, p.partition, a.adding)
	setOrDelete(ti.removing, p.partition, a.removing)
	return nil
}

func setOrDelete(m map[int32][]int32, p int32, v []int32) {
	if len(v) == 0 {
		delete(m, p)
		return
	}
	m[p] = v
}

// reassign starts (or moves on) the reassignment of p to a.
func (t *term) reassign(p tp, a replicaAssignment) error {
	cur := t.assignment(p)
	if !cur.equal(a) {
		if err := t.setAssignment(p, a); err != nil {
			return err
		}
		t.logger.Info().Str("topic", p.topic).Int32("partition", p.partition).Ints32("replicas", a.replicas).
			Ints32("adding", a.adding).Ints32("removing", a.removing).Msg("partition reassignment")
		if unneeded := without(cur.replicas, a.replicas); len(unneeded) > 0 {
			if err := t.stopRemovedReplicas(p, unneeded); err != nil {
				return err
			}
		}
	}
	if t.reassignmentDone(p, a) {
		return t.completeReassignment(p, a)
	}
	err := t.updateState(p, "reassignment started", func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
		next := cur
		next.LeaderEpoch = cur.LeaderEpoch + 1
		return next, nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return err
	}
	t.addLeaderAndIsr(a.replicas, p, false)
	return nil
}

// reassignmentDone reports whether every target replica is in the ISR.
func (t *term) reassignmentDone(p tp, a replicaAssignment) bool {
	st := t.state(p)
	if st == nil {
		return false
	}
	for _, r := range a.target() {
		if !slices.Contains(st.ISR, r) {
			return false
		}
	}
	return true
}

// maybeCompleteReassignment completes p's reassignment once its ISR holds every target
// replica (after an ISR change).
func (t *term) maybeCompleteReassignment(p tp) error {
	a := t.assignment(p)
	if !a.reassigning() || !t.reassignmentDone(p, a) {
		return nil
	}
	return t.completeReassignment(p, a)
}

func (t *term) completeReassignment(p tp, a replicaAssignment) error {
	target := a.target()
	ti := t.topics[p.topic]
	ti.replicas[p.partition] = target
	st := t.state(p)
	why := "reassignment completed"
	err := t.updateState(p, why, func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
		next := cur
		next.LeaderEpoch = cur.LeaderEpoch + 1
		if !slices.Contains(target, cur.Leader) || !t.live(cur.Leader) {
			leader := int32(-1)
			for _, r := range target {
				if t.live(r) && slices.Contains(cur.ISR, r) {
					leader = r
					break
				}
			}
			if leader < 0 {
				return cur, errNoChange // no eligible leader among the targets yet: wait
			}
			next.Leader = leader
		}
		return next, nil
	})
	if errors.Is(err, errNoChange) {
		ti.replicas[p.partition] = a.replicas
		t.logger.Warn().Str("topic", p.topic).Int32("partition", p.partition).Int32("leader", st.Leader).
			Ints32("target", target).Msg("reassignment cannot complete: no live in-sync target replica to lead")
		return nil
	}
	if err != nil {
		return err
	}
	t.addLeaderAndIsr(target, p, false)
	if err := t.stopRemovedReplicas(p, a.removing); err != nil {
		return err
	}
	if err := t.setAssignment(p, replicaAssignment{replicas: target}); err != nil {
		return err
	}
	t.logger.Info().Str("topic", p.topic).Int32("partition", p.partition).Ints32("replicas", target).Msg("partition reassignment completed")
	t.addUpdateMetadata(t.liveBrokerIDs(), p)
	if err := t.removeFromZkReassignment(func(r zkmeta.PartitionReassignment) bool {
		return r.Topic == p.topic && r.Partition == p.partition && slices.Equal(r.Replicas, target)
	}); err != nil {
		return err
	}
	if t.deleting[p.topic] && !t.topicReassigning(p.topic) {
		return t.retryDeletions()
	}
	return nil
}

// stopRemovedReplicas takes replicas that no longer belong to p out of its ISR (leader epoch
// bump, LeaderAndIsr to the remaining replicas) and tells their brokers to delete it.
func (t *term) stopRemovedReplicas(p tp, removed []int32) error {
	if len(removed) == 0 {
		return nil
	}
	err := t.updateState(p, "reassignment removed replicas", func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
		isr := without(cur.ISR, removed)
		if len(isr) == len(cur.ISR) || len(isr) == 0 {
			return cur, errNoChange
		}
		next := cur
		next.ISR, next.LeaderEpoch = isr, cur.LeaderEpoch+1
		if slices.Contains(removed, cur.Leader) {
			next.Leader = -1
		}
		return next, nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return err
	}
	if err == nil {
		t.addLeaderAndIsr(without(t.replicas(p), removed), p, false)
	}
	epoch := noEpoch
	if st := t.state(p); st != nil {
		epoch = st.LeaderEpoch
	}
	for _, r := range removed {
		t.addStopReplicaAt(r, p, true, epoch)
	}
	return nil
}

// resumeReassignments moves on every partition whose znode lists adding or removing replicas
// (controller failover), then reads the legacy znode.
func (t *term) resumeReassignments() error {
	for _, name := range t.sortedTopics() {
		ti := t.topics[name]
		for _, pn := range sortedParts(ti.replicas) {
			p := tp{name, pn}
			if a := t.assignment(p); a.reassigning() && ti.states[pn] != nil {
				if err := t.reassign(p, a); err != nil {
					return err
				}
			}
		}
	}
	return t.onZkReassignment()
}

// errorCode and message of one partition of an AlterPartitionReassignments request.
type reassignResult struct {
	code *kerr.Error
	msg  string
}

// requestReassignment validates and starts one requested reassignment; target nil cancels.
func (t *term) requestReassignment(p tp, target []int32) (reassignResult, error) {
	ti := t.topics[p.topic]
	if ti == nil || t.deleting[p.topic] {
		return reassignResult{kerr.UnknownTopicOrPartition, "The partition does not exist."}, nil
	}
	if _, ok := ti.replicas[p.partition]; !ok || ti.states[p.partition] == nil {
		return reassignResult{kerr.UnknownTopicOrPartition, "The partition does not exist."}, nil
	}
	cur := t.assignment(p)
	if target == nil {
		if !cur.reassigning() {
			return reassignResult{kerr.NoReassignmentInProgress, "No reassignment in progress for this partition."}, nil
		}
		target = cur.origin()
	} else if res, ok := t.validateReplicas(cur, target); !ok {
		return res, nil
	}
	return reassignResult{}, t.reassign(p, cur.reassignTo(target))
}

// validateReplicas checks a target replica list as Kafka's controller does.
func (t *term) validateReplicas(cur replicaAssignment, target []int32) (reassignResult, bool) {
	seen := map[int32]bool{}
	for _, r := range target {
		if seen[r] {
			return reassignResult{kerr.InvalidReplicaAssignment, fmt.Sprintf("Duplicate replica ids in partition reassignment replica list: %v", target)}, false
		}
		seen[r] = true
	}
	switch {
	case len(target) == 0:
		return reassignResult{kerr.InvalidReplicaAssignment, "Empty replica list specified in partition reassignment."}, false
	case slices.ContainsFunc(target, func(r int32) bool { return r < 0 }):
		return reassignResult{kerr.InvalidReplicaAssignment, fmt.Sprintf("Invalid broker id in replica list: %v", target)}, false
	}
	for _, r := range cur.reassignTo(target).adding {
		if !t.live(r) {
			return reassignResult{kerr.InvalidReplicaAssignment, fmt.Sprintf("Replica assignment has brokers that are not alive. Replica list: %v, live broker list: %v",
				cur.reassignTo(target).adding, t.liveBrokerIDs())}, false
		}
	}
	return reassignResult{}, true
}

// AlterPartitionReassignments starts, replaces or cancels reassignments (KIP-455). Per
// partition: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty, duplicates,
// negative or not-live new brokers), NO_REASSIGNMENT_IN_PROGRESS (cancelling nothing). NOT_CONTROLLER
// when not the controller.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp, err := call(ctx, c, func(t *term) (*kmsg.AlterPartitionAssignmentsResponse, error) {
		return t.alterPartitionReassignments(req)
	})
	if err != nil {
		resp = req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode = errorCodeFor(ctx, err)
	}
	return resp
}

func (t *term) alterPartitionReassignments(req *kmsg.AlterPartitionAssignmentsRequest) (*kmsg.AlterPartitionAssignmentsResponse, error) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	requested := map[tp]bool{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			requested[tp{rt.Topic, rp.Partition}] = true
		}
	}
	// The latest reassignment wins: the API takes partitions out of a legacy request.
	if err := t.removeFromZkReassignment(func(r zkmeta.PartitionReassignment) bool {
		return requested[tp{r.Topic, r.Partition}]
	}); err != nil {
		return nil, err
	}
	for _, rt := range req.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			res, err := t.requestReassignment(tp{rt.Topic, rp.Partition}, rp.Replicas)
			if err != nil {
				return nil, err
			}
			r := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			r.Partition = rp.Partition
			if res.code != nil {
				r.ErrorCode = res.code.Code
				msg := res.msg
				r.ErrorMessage = &msg
			}
			out.Partitions = append(out.Partitions, r)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}

// ListPartitionReassignments lists the partitions being reassigned (of the requested topics
// and partitions, or all) with their replicas, adding and removing replicas.
func (c *Controller) ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp, err := call(ctx, c, func(t *term) (*kmsg.ListPartitionReassignmentsResponse, error) {
		return t.listPartitionReassignments(req), nil
	})
	if err != nil {
		resp = req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode = errorCodeFor(ctx, err)
	}
	return resp
}

func (t *term) listPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	wanted := map[string][]int32{}
	var order []string
	if req.Topics == nil {
		for _, name := range t.sortedTopics() {
			if t.topicReassigning(name) {
				order = append(order, name)
				wanted[name] = sortedParts(t.topics[name].replicas)
			}
		}
	} else {
		for _, rt := range req.Topics {
			if _, ok := wanted[rt.Topic]; !ok {
				order = append(order, rt.Topic)
			}
			wanted[rt.Topic] = append(wanted[rt.Topic], rt.Partitions...)
		}
	}
	for _, name := range order {
		out := kmsg.NewListPartitionReassignmentsResponseTopic()
		out.Topic = name
		for _, pn := range wanted[name] {
			a := t.assignment(tp{name, pn})
			if !a.reassigning() {
				continue
			}
			r := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas = pn, a.replicas, nonNil(a.adding), nonNil(a.removing)
			out.Partitions = append(out.Partitions, r)
		}
		if len(out.Partitions) > 0 {
			resp.Topics = append(resp.Topics, out)
		}
	}
	return resp
}

// onZkReassignment reads the legacy /admin/reassign_partitions znode (watching for its
// creation) and starts what it asks; partitions that fail validation are dropped from it.
func (t *term) onZkReassignment() error {
	ok, _, ch, err := t.c.meta.Store().ExistsW(t.ctx, zkmeta.ReassignPartitionsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evZkReassignment{})
	if !ok {
		return nil
	}
	rs, _, err := t.c.meta.PartitionReassignments(t.ctx)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil
	}
	if err != nil {
		t.logger.Warn().Err(err).Msg("unreadable /admin/reassign_partitions; removing it")
		return t.removeFromZkReassignment(func(zkmeta.PartitionReassignment) bool { return true })
	}
	failed := map[tp]bool{}
	for _, r := range rs {
		p := tp{r.Topic, r.Partition}
		target := r.Replicas
		if target == nil {
			target = []int32{}
		}
		res, err := t.requestReassignment(p, target)
		if err != nil {
			return err
		}
		if res.code != nil {
			t.logger.Warn().Str("topic", r.Topic).Int32("partition", r.Partition).Ints32("replicas", r.Replicas).
				Str("error", res.code.Message).Str("reason", res.msg).Msg("reassignment through /admin/reassign_partitions refused")
			failed[p] = true
		}
	}
	// Refused partitions leave the znode now; the others as they complete.
	return t.removeFromZkReassignment(func(r zkmeta.PartitionReassignment) bool { return failed[tp{r.Topic, r.Partition}] })
}

// removeFromZkReassignment drops the partitions drop selects from the legacy znode, deleting
// it when none is left.
func (t *term) removeFromZkReassignment(drop func(zkmeta.PartitionReassignment) bool) error {
	for attempt := 0; ; attempt++ {
		rs, version, err := t.c.meta.PartitionReassignments(t.ctx)
		if errors.Is(err, zkmeta.ErrNoNode) {
			return nil
		}
		if err != nil {
			rs = nil // unreadable: delete it
		}
		kept := slices.DeleteFunc(slices.Clone(rs), drop)
		if err == nil && len(kept) == len(rs) {
			return nil
		}
		err = t.fenced.SetPartitionReassignments(t.ctx, kept, version)
		if (errors.Is(err, zkmeta.ErrBadVersion) || errors.Is(err, zkmeta.ErrNoNode)) && attempt < maxPartitionWriteAttempts {
			continue
		}
		return err
	}
}
