package controller

import (
	"errors"
	"fmt"

	"kbroker/zkmeta"
)

// errNoChange from a compute function leaves the partition alone.
var errNoChange = errors.New("controller: no change")

// updateState writes the state compute derives from the current one, with
// the current znode version as expected version, behind the controller
// fence. On a version conflict the state is read again and compute runs
// again. It returns errNoChange when compute made no change.
func (t *term) updateState(p tp, why string, compute func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error)) error {
	ti := t.topics[p.topic]
	if ti == nil || ti.states[p.partition] == nil {
		return errNoChange
	}
	for attempt := 0; ; attempt++ {
		cur := ti.states[p.partition]
		next, err := compute(cur.PartitionState)
		if err != nil {
			return err
		}
		next.ControllerEpoch = t.epoch
		v, err := t.fenced.SetPartitionState(t.ctx, p.topic, p.partition, next, cur.version)
		if err == nil {
			ti.states[p.partition] = &partState{PartitionState: next, version: v}
			t.logState(p, next, why)
			if next.Leader >= 0 && next.Leader != cur.Leader && t.c.cfg.OnElection != nil {
				t.c.cfg.OnElection(next.LeaderRecoveryState == zkmeta.LeaderRecoveryRecovering && cur.LeaderRecoveryState != zkmeta.LeaderRecoveryRecovering)
			}
			return nil
		}
		if !errors.Is(err, zkmeta.ErrBadVersion) || attempt >= maxPartitionWriteAttempts {
			return err
		}
		st, ver, rerr := t.c.meta.PartitionState(t.ctx, p.topic, p.partition)
		if rerr != nil {
			return rerr
		}
		if st.ControllerEpoch > t.epoch {
			return fmt.Errorf("%w: %s-%d was written by controller epoch %d", zkmeta.ErrControllerMoved, p.topic, p.partition, st.ControllerEpoch)
		}
		ti.states[p.partition] = &partState{PartitionState: st, version: ver}
	}
}

// initNewPartitions creates the state znodes of the partitions of a topic
// that have none and a live replica: leader = first live replica, ISR = the
// live replicas, leader epoch 0. LeaderAndIsr(isNew) goes to the ISR.
func (t *term) initNewPartitions(ti *topicInfo, parts []int32) error {
	states := map[int32]zkmeta.PartitionState{}
	for _, p := range parts {
		if ti.states[p] != nil {
			continue
		}
		leader, isr, ok := electNew(ti.replicas[p], t.live)
		if !ok {
			t.logger.Warn().Str("topic", ti.name).Int32("partition", p).Ints32("replicas", ti.replicas[p]).
				Msg("no live replica for new partition; it stays offline")
			continue
		}
		states[p] = zkmeta.PartitionState{Leader: leader, ISR: isr, ControllerEpoch: t.epoch}
	}
	if len(states) == 0 {
		return nil
	}
	err := t.fenced.CreatePartitionStates(t.ctx, ti.name, states)
	if errors.Is(err, zkmeta.ErrNodeExists) {
		// Some state exists already (written by a broker or an earlier
		// controller): go one by one and adopt the stored ones.
		err = nil
		for _, p := range sortedParts(states) {
			cerr := t.fenced.CreatePartitionState(t.ctx, ti.name, p, states[p])
			if errors.Is(cerr, zkmeta.ErrNodeExists) {
				st, ver, rerr := t.c.meta.PartitionState(t.ctx, ti.name, p)
				if rerr != nil {
					return rerr
				}
				ti.states[p] = &partState{PartitionState: st, version: ver}
				delete(states, p)
				continue
			}
			if cerr != nil {
				return cerr
			}
		}
	}
	if err != nil {
		return err
	}
	for _, p := range sortedParts(states) {
		st := states[p]
		ti.states[p] = &partState{PartitionState: st, version: 0}
		t.logState(tp{ti.name, p}, st, "new partition")
		t.addLeaderAndIsr(st.ISR, tp{ti.name, p}, true)
	}
	return nil
}

// offline reports whether a partition with a state has no usable leader.
func (t *term) offline(st *partState) bool {
	return st.Leader < 0 || !t.registered(st.Leader)
}

// unclean reports whether a topic allows unclean leader election; the
// overrides are read from ZooKeeper only when needed.
func (t *term) unclean(topic string) func() bool {
	return func() bool {
		if t.c.cfg.UncleanLeaderElection == nil {
			return false
		}
		overrides, err := t.c.meta.TopicConfig(t.ctx, topic)
		if err != nil {
			t.logger.Warn().Err(err).Str("topic", topic).Msg("reading topic config for unclean election")
			overrides = map[string]string{}
		}
		return t.c.cfg.UncleanLeaderElection(overrides)
	}
}

// electOfflinePartition elects a leader for one offline partition; unclean
// forces unclean election when set (ElectLeaders type 1).
func (t *term) electOfflinePartition(p tp, unclean func() bool) error {
	replicas := t.replicas(p)
	err := t.updateState(p, "offline partition election", func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
		if cur.Leader >= 0 && t.registered(cur.Leader) {
			return cur, errNoChange
		}
		leader, isr, recovering, ok := electOffline(replicas, cur.ISR, t.live, unclean)
		if !ok {
			return cur, errNoChange
		}
		next := cur
		next.Leader, next.ISR, next.LeaderEpoch = leader, isr, cur.LeaderEpoch+1
		if recovering {
			next.LeaderRecoveryState = zkmeta.LeaderRecoveryRecovering
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	t.addLeaderAndIsr(replicas, p, false)
	return nil
}

// triggerOnline elects leaders for every new or offline partition of the
// topics not queued for deletion (Kafka's triggerOnlinePartitionStateChange).
func (t *term) triggerOnline() error {
	for _, name := range t.sortedTopics() {
		if t.deleting[name] {
			continue
		}
		ti := t.topics[name]
		var fresh []int32
		for _, p := range sortedParts(ti.replicas) {
			st := ti.states[p]
			if st == nil {
				fresh = append(fresh, p)
				continue
			}
			if !t.offline(st) {
				continue
			}
			err := t.electOfflinePartition(tp{name, p}, t.unclean(name))
			if err != nil && !errors.Is(err, errNoChange) {
				return err
			}
		}
		if err := t.initNewPartitions(ti, fresh); err != nil {
			return err
		}
	}
	return nil
}

// removeReplicaFromISRs takes a broker out of the ISR of the given
// partitions (leader -1 if it led, ISR never emptied, leader epoch + 1) and
// sends LeaderAndIsr to the other replicas (Kafka's OfflineReplica).
func (t *term) removeReplicaFromISRs(id int32, ps []tp) error {
	for _, p := range ps {
		if t.deleting[p.topic] {
			continue
		}
		err := t.updateState(p, fmt.Sprintf("broker %d out of ISR", id), func(cur zkmeta.PartitionState) (zkmeta.PartitionState, error) {
			if !contains(cur.ISR, id) {
				return cur, errNoChange
			}
			next := cur
			next.Leader, next.ISR = removeFromISR(cur.Leader, cur.ISR, id)
			next.LeaderEpoch = cur.LeaderEpoch + 1
			return next, nil
		})
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return err
		}
		var others []int32
		for _, r := range t.replicas(p) {
			if r != id {
				others = append(others, r)
			}
		}
		t.addLeaderAndIsr(others, p, false)
	}
	return nil
}

// partitionsOn returns the partitions with a replica on broker id.
func (t *term) partitionsOn(id int32) []tp {
	var out []tp
	for _, name := range t.sortedTopics() {
		ti := t.topics[name]
		for _, p := range sortedParts(ti.replicas) {
			if contains(ti.replicas[p], id) {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}
