package controller

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"kbroker/zkmeta"
)

// failover reads the cluster and brings every broker up to date (Kafka's
// onControllerFailover).
func (t *term) failover() error {
	if err := t.c.meta.EnsurePaths(t.ctx); err != nil {
		return err
	}
	store := t.c.meta.Store()
	brokerNames, _, ch, err := store.ChildrenW(t.ctx, zkmeta.BrokerIDsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evBrokersChanged{})
	topicNames, _, ch, err := store.ChildrenW(t.ctx, zkmeta.BrokerTopicsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evTopicsChanged{})

	brokers, err := t.readBrokers(brokerNames)
	if err != nil {
		return err
	}
	for _, b := range brokers {
		t.brokers[b.ID] = b
		t.startQueue(b)
		t.watchBroker(b.ID)
	}
	for _, name := range topicNames {
		if err := t.loadTopic(name); err != nil {
			return err
		}
	}
	marked, _, ch, err := store.ChildrenW(t.ctx, zkmeta.DeleteTopicsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evDeletions{})

	// Brokers learn the live brokers first, then their partitions.
	t.addUpdateMetadata(t.liveBrokerIDs())
	t.flush()
	for _, name := range t.sortedTopics() {
		if t.deleting[name] {
			continue
		}
		ti := t.topics[name]
		for _, p := range sortedParts(ti.states) {
			t.addLeaderAndIsr(ti.replicas[p], tp{name, p}, false)
		}
	}
	if err := t.triggerOnline(); err != nil {
		return err
	}
	// Replicas on brokers that are not registered leave the ISRs, as Kafka's replica state
	// machine moves them to OfflineReplica at failover; otherwise a broker that died with
	// the previous controller would hold acks=all produces until replica.lag.time.max.ms.
	for _, id := range t.unregisteredReplicaBrokers() {
		if err := t.removeReplicaFromISRs(id, t.partitionsOn(id)); err != nil {
			return err
		}
	}
	t.flush()
	if err := t.resumeReassignments(); err != nil {
		return err
	}
	t.flush()
	if err := t.queueDeletions(marked); err != nil {
		return err
	}
	if t.c.cfg.AutoLeaderRebalanceEnable {
		t.scheduleRebalance(min(firstRebalanceDelay, t.c.cfg.LeaderImbalanceCheckInterval))
	}
	t.logger.Info().Int("brokers", len(t.brokers)).Int("topics", len(t.topics)).Msg("controller failover done")
	return nil
}

// readBrokers reads the registrations of the named brokers (skipping ones
// that are gone or not broker ids).
func (t *term) readBrokers(names []string) ([]zkmeta.BrokerInfo, error) {
	var out []zkmeta.BrokerInfo
	for _, n := range names {
		id, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			continue
		}
		b, err := t.c.meta.Broker(t.ctx, int32(id))
		if errors.Is(err, zkmeta.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// watchBroker sets a data watch on a broker's registration (endpoint changes).
func (t *term) watchBroker(id int32) {
	if t.watchedBrkr[id] {
		return
	}
	_, _, ch, err := t.c.meta.Store().GetW(t.ctx, zkmeta.BrokerPath(id))
	if err != nil {
		return
	}
	t.watchedBrkr[id] = true
	t.forward(ch, evBrokerData{id: id})
}

// loadTopic reads a topic's assignment and partition states into the
// context and watches the topic for partition additions. A topic without a
// topic id gets one.
func (t *term) loadTopic(name string) error {
	if !t.watchedTopic[name] {
		_, _, ch, err := t.c.meta.Store().GetW(t.ctx, zkmeta.TopicPath(name))
		if errors.Is(err, zkmeta.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		t.watchedTopic[name] = true
		t.forward(ch, evTopicData{topic: name})
	}
	ta, version, err := t.c.meta.Topic(t.ctx, name)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	if ta.ID == ([16]byte{}) {
		id, err := zkmeta.RandomUUID()
		if err != nil {
			return err
		}
		ta.ID = id
		if err := t.fenced.SetTopicAssignment(t.ctx, ta, version); err != nil {
			return fmt.Errorf("adding topic id to %s: %w", name, err)
		}
	}
	states, versions, err := t.c.meta.PartitionStates(t.ctx, name)
	if err != nil {
		return err
	}
	ti := &topicInfo{name: name, id: ta.ID, replicas: ta.Partitions, adding: ta.AddingReplicas, removing: ta.RemovingReplicas, states: map[int32]*partState{}}
	if ti.adding == nil {
		ti.adding = map[int32][]int32{}
	}
	if ti.removing == nil {
		ti.removing = map[int32][]int32{}
	}
	for p, st := range states {
		if _, ok := ti.replicas[p]; !ok {
			continue
		}
		ti.states[p] = &partState{PartitionState: st, version: versions[p]}
	}
	t.topics[name] = ti
	t.topicIDs[ti.id] = name
	return nil
}

// scheduleRebalance arms the auto-rebalance timer.
func (t *term) scheduleRebalance(d time.Duration) {
	t.rebalance = time.AfterFunc(d, func() { t.post(evRebalance{}) })
}

// unregisteredReplicaBrokers lists the broker ids that hold replicas but are not registered.
func (t *term) unregisteredReplicaBrokers() []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, name := range t.sortedTopics() {
		ti := t.topics[name]
		for _, p := range sortedParts(ti.replicas) {
			for _, r := range ti.replicas[p] {
				if !seen[r] && !t.registered(r) {
					seen[r] = true
					out = append(out, r)
				}
			}
		}
	}
	return out
}
