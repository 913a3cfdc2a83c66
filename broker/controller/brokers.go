package controller

import (
	"errors"
	"sort"

	"kbroker/zkmeta"
)

// onBrokersChanged handles a change of /brokers/ids: joins, losses and
// bounces (same id, new epoch: a loss then a join), as Kafka's
// processBrokerChange.
func (t *term) onBrokersChanged() error {
	names, _, ch, err := t.c.meta.Store().ChildrenW(t.ctx, zkmeta.BrokerIDsPath)
	if err != nil {
		return err
	}
	t.forward(ch, evBrokersChanged{})
	current, err := t.readBrokers(names)
	if err != nil {
		return err
	}
	seen := map[int32]bool{}
	var joined, bounced, dead []zkmeta.BrokerInfo
	for _, b := range current {
		seen[b.ID] = true
		old, ok := t.brokers[b.ID]
		switch {
		case !ok:
			joined = append(joined, b)
		case old.Epoch != b.Epoch:
			bounced = append(bounced, b)
		}
	}
	for id, b := range t.brokers {
		if !seen[id] {
			dead = append(dead, b)
		}
	}
	sort.Slice(dead, func(i, j int) bool { return dead[i].ID < dead[j].ID })
	if len(joined)+len(bounced)+len(dead) == 0 {
		return nil
	}
	t.logger.Info().Ints32("joined", ids(joined)).Ints32("bounced", ids(bounced)).Ints32("dead", ids(dead)).Msg("broker change")

	if len(joined) > 0 {
		if err := t.onBrokerStartup(joined); err != nil {
			return err
		}
	}
	if len(bounced) > 0 {
		if err := t.onBrokerFailure(bounced); err != nil {
			return err
		}
		if err := t.onBrokerStartup(bounced); err != nil {
			return err
		}
	}
	if len(dead) > 0 {
		if err := t.onBrokerFailure(dead); err != nil {
			return err
		}
	}
	return nil
}

func ids(bs []zkmeta.BrokerInfo) []int32 {
	out := make([]int32, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

// onBrokerStartup: the other brokers learn of the new ones, the new ones get
// every partition's metadata and LeaderAndIsr for their replicas, and
// offline partitions are elected again.
func (t *term) onBrokerStartup(joined []zkmeta.BrokerInfo) error {
	isNew := map[int32]bool{}
	for _, b := range joined {
		t.brokers[b.ID] = b
		delete(t.shuttingDown, b.ID)
		t.startQueue(b)
		isNew[b.ID] = true
	}
	var existing, fresh []int32
	for _, id := range t.liveBrokerIDs() {
		if isNew[id] {
			fresh = append(fresh, id)
		} else {
			existing = append(existing, id)
		}
	}
	t.addUpdateMetadata(existing)
	t.addAllPartitionsMetadata(fresh)
	t.flush()
	for _, id := range fresh {
		for _, p := range t.partitionsOn(id) {
			if t.deleting[p.topic] || t.state(p) == nil {
				continue
			}
			t.addLeaderAndIsr([]int32{id}, p, false)
		}
	}
	if err := t.triggerOnline(); err != nil {
		return err
	}
	t.flush()
	for _, id := range fresh {
		t.watchBroker(id)
	}
	return t.retryDeletions()
}

// onBrokerFailure: partitions led by the lost brokers are elected again,
// the lost brokers leave every ISR, and the others learn the live brokers.
func (t *term) onBrokerFailure(lost []zkmeta.BrokerInfo) error {
	for _, b := range lost {
		delete(t.brokers, b.ID)
		delete(t.shuttingDown, b.ID)
		t.stopQueue(b.ID)
	}
	if err := t.triggerOnline(); err != nil {
		return err
	}
	for _, b := range lost {
		if err := t.removeReplicaFromISRs(b.ID, t.partitionsOn(b.ID)); err != nil {
			return err
		}
	}
	t.addUpdateMetadata(t.liveBrokerIDs())
	return nil
}

// onBrokerData handles a change of a broker's registration (endpoints).
func (t *term) onBrokerData(id int32) error {
	delete(t.watchedBrkr, id)
	old, ok := t.brokers[id]
	if !ok {
		return nil
	}
	t.watchBroker(id)
	b, err := t.c.meta.Broker(t.ctx, id)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return nil // the children watch handles the loss
	}
	if err != nil {
		return err
	}
	if b.Epoch != old.Epoch {
		return nil // a bounce: the children watch handles it
	}
	t.brokers[id] = b
	t.startQueue(b)
	t.addUpdateMetadata(t.liveBrokerIDs())
	return nil
}
