package controller

import (
	"errors"

	"kbroker/zkmeta"
)

// onTopicsChanged handles a change of /brokers/topics: new topics get their
// partition states (the creating broker wrote the assignment), removed ones
// leave the context.
func (t *term) onTopicsChanged() error {
	names, _, ch, err := t.c.meta.Store().ChildrenW(t.ctx, zkmeta.BrokerTopicsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evTopicsChanged{})
	present := map[string]bool{}
	for _, name := range names {
		present[name] = true
		if t.topics[name] != nil {
			continue
		}
		if err := t.loadTopic(name); err != nil {
			return err
		}
		ti := t.topics[name]
		if ti == nil {
			continue
		}
		t.logger.Info().Str("topic", name).Int("partitions", len(ti.replicas)).Msg("new topic")
		if err := t.onNewPartitions(ti, sortedParts(ti.replicas)); err != nil {
			return err
		}
	}
	for name := range t.topics {
		if !present[name] {
			t.forgetTopic(name)
		}
	}
	return nil
}

// onNewPartitions creates the states of new partitions; partitions that had
// a state already get LeaderAndIsr to their replicas.
func (t *term) onNewPartitions(ti *topicInfo, parts []int32) error {
	var fresh []int32
	for _, p := range parts {
		if ti.states[p] == nil {
			fresh = append(fresh, p)
		} else {
			t.addLeaderAndIsr(ti.replicas[p], tp{ti.name, p}, false)
		}
	}
	return t.initNewPartitions(ti, fresh)
}

// forgetTopic drops a topic from the context.
func (t *term) forgetTopic(name string) {
	if ti := t.topics[name]; ti != nil {
		delete(t.topicIDs, ti.id)
	}
	delete(t.topics, name)
	delete(t.deleting, name)
}

// onTopicData handles a change of /brokers/topics/<t>: added partitions.
func (t *term) onTopicData(name string) error {
	delete(t.watchedTopic, name)
	ti := t.topics[name]
	if ti == nil {
		return nil
	}
	_, _, ch, err := t.c.meta.Store().GetW(t.ctx, zkmeta.TopicPath(name))
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil // deleted: the children watch handles it
	}
	if err != nil {
		return err
	}
	t.watchedTopic[name] = true
	t.forward(ch, evTopicData{topic: name})
	if t.deleting[name] {
		return nil
	}
	ta, _, err := t.c.meta.Topic(t.ctx, name)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	var added []int32
	for _, p := range sortedParts(ta.Partitions) {
		if _, ok := ti.replicas[p]; !ok {
			ti.replicas[p] = ta.Partitions[p]
			added = append(added, p)
		}
	}
	if ta.ID != ([16]byte{}) && ta.ID != ti.id {
		delete(t.topicIDs, ti.id)
		ti.id = ta.ID
		t.topicIDs[ti.id] = name
	}
	if len(added) == 0 {
		return nil
	}
	t.logger.Info().Str("topic", name).Ints32("added", added).Msg("partitions added")
	return t.onNewPartitions(ti, added)
}

// onDeletions handles a change of /admin/delete_topics.
func (t *term) onDeletions() error {
	marked, _, ch, err := t.c.meta.Store().ChildrenW(t.ctx, zkmeta.DeleteTopicsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evDeletions{})
	return t.queueDeletions(marked)
}

// queueDeletions queues the marked topics for deletion and tries them.
// Markers for unknown topics, or all markers when deletion is disabled,
// are removed.
func (t *term) queueDeletions(marked []string) error {
	for _, name := range marked {
		if !t.c.cfg.DeleteTopicEnable || t.topics[name] == nil {
			why := "topic does not exist"
			if !t.c.cfg.DeleteTopicEnable {
				why = "delete.topic.enable is false"
			}
			t.logger.Info().Str("topic", name).Str("reason", why).Msg("removing topic deletion marker")
			err := t.fencedMulti(zkmeta.DeleteOp{Path: zkmeta.DeleteTopicPath(name), Version: -1})
			if err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
				return err
			}
			continue
		}
		if !t.deleting[name] {
			t.logger.Info().Str("topic", name).Msg("topic queued for deletion")
			t.deleting[name] = true
		}
	}
	return t.retryDeletions()
}

// retryDeletions deletes the queued topics whose replicas are all on live
// brokers: UpdateMetadata (leader -2) to every broker, StopReplica(delete)
// to every replica, then the topic's znodes. The others wait for their
// brokers to come back.
func (t *term) retryDeletions() error {
	for _, name := range t.sortedTopics() {
		if !t.deleting[name] {
			continue
		}
		ti := t.topics[name]
		if t.topicReassigning(name) {
			t.logger.Info().Str("topic", name).Msg("topic deletion waits for its partitions' reassignment")
			continue
		}
		ready := true
		for _, rs := range ti.replicas {
			for _, r := range rs {
				if !t.registered(r) {
					ready = false
				}
			}
		}
		if !ready {
			t.logger.Info().Str("topic", name).Msg("topic deletion waits for offline replicas")
			continue
		}
		var ps []tp
		for _, p := range sortedParts(ti.replicas) {
			ps = append(ps, tp{name, p})
		}
		t.addUpdateMetadata(t.liveBrokerIDs(), ps...)
		for _, p := range ps {
			for _, r := range ti.replicas[p.partition] {
				t.addStopReplica(r, p, true)
			}
		}
		t.flush()
		if err := t.fenced.DeleteTopic(t.ctx, name); err != nil {
			return err
		}
		t.forgetTopic(name)
		t.logger.Info().Str("topic", name).Msg("topic deleted")
	}
	return nil
}
