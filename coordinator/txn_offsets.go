package coordinator

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Transactional offset commits (Kafka's handleTxnCommitOffsets): the offsets are written in
// a transactional batch of the producer and wait in the group, invisible to OffsetFetch,
// until the transaction's marker reaches the group's __consumer_offsets partition
// (TxnCompleted): a commit applies them unless a later commit of the partition was written
// meanwhile, an abort drops them.

func (g *group) hasPendingTxn(tp topicPartition) bool {
	for _, offs := range g.pendingTxn {
		if _, ok := offs[tp]; ok {
			return true
		}
	}
	return false
}

// txnCommit is Kafka's handleTxnCommitOffsets and doTxnCommitOffsets.
func (m *Machine) txnCommit(ev *TxnCommitOffsets) {
	fail := func(code int16) {
		errs := make([]int16, len(ev.Offsets))
		for i := range errs {
			errs[i] = code
		}
		m.reply(ev.Req, CommitResult{Errs: errs})
	}
	if code := m.groupStatus(ev.Group, false); code != 0 {
		fail(code)
		return
	}
	g := m.groups[ev.Group]
	created := g == nil
	if created {
		g = newGroup(ev.Group, m.partitionFor(ev.Group), m.now)
	}
	if code := g.validateTxnCommit(ev); code != 0 {
		fail(code)
		return
	}
	if created {
		m.groups[ev.Group] = g
	}
	errs := make([]int16, len(ev.Offsets))
	var records []Record
	var idx []int
	for i, o := range ev.Offsets {
		if len(o.Metadata) > m.cfg.OffsetMetadataMaxBytes {
			errs[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		records = append(records, offsetRecord(g.id, topicPartition{o.Topic, o.Partition}, offsetEntry{
			offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTs: o.CommitTs, expireTs: -1,
		}))
		idx = append(idx, i)
	}
	if len(records) == 0 {
		m.reply(ev.Req, CommitResult{Errs: errs})
		return
	}
	m.seq++
	m.appends[m.seq] = func(code int16) {
		order := m.nextOrder()
		current := m.groups[g.id] == g && !g.is(Dead)
		if code == 0 && current {
			offs := g.pendingTxn[ev.ProducerID]
			if offs == nil {
				offs = map[topicPartition]offsetEntry{}
				g.pendingTxn[ev.ProducerID] = offs
			}
			for _, i := range idx {
				o := ev.Offsets[i]
				offs[topicPartition{o.Topic, o.Partition}] = offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch,
					metadata: o.Metadata, commitTs: o.CommitTs, expireTs: -1, order: order}
			}
		}
		for _, i := range idx {
			errs[i] = code
		}
		m.reply(ev.Req, CommitResult{Errs: errs})
	}
	m.out = append(m.out, Append{Token: m.seq, Partition: g.partition, Records: records,
		Txn: &TxnProducer{ProducerID: ev.ProducerID, ProducerEpoch: ev.ProducerEpoch}})
}

// validateTxnCommit is Kafka's validateOffsetCommit for transactional commits: a request
// with a generation, member id or instance id (v3+, KIP-447) must come from a current
// member of that generation; one without may commit whatever the group's state.
func (g *group) validateTxnCommit(ev *TxnCommitOffsets) int16 {
	if g.cg != nil {
		return g.cg.validateCommit(ev.MemberID, ev.Generation, 0, true) // KIP-848: member epochs
	}
	switch {
	case g.is(Dead):
		return kerr.CoordinatorNotAvailable.Code
	case ev.Generation < 0 && g.is(Empty):
		return 0
	case ev.Generation >= 0 || ev.MemberID != "" || ev.InstanceID != "":
		if code := g.validateMember(ev.MemberID, ev.InstanceID); code != 0 {
			return code
		}
		if ev.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	}
	return 0
}

// txnCompleted applies (commit) or drops (abort) the producer's pending offsets of the
// groups of a partition, once its marker is written there.
func (m *Machine) txnCompleted(ev TxnCompleted) {
	ids := make([]string, 0)
	for id, g := range m.groups {
		if g.partition == ev.Partition && g.pendingTxn[ev.ProducerID] != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := m.groups[id]
		offs := g.pendingTxn[ev.ProducerID]
		delete(g.pendingTxn, ev.ProducerID)
		if g.is(Dead) || !ev.Commit {
			continue
		}
		for tp, e := range offs {
			if cur, ok := g.offsets[tp]; ok && cur.order > e.order {
				continue
			}
			g.offsets[tp] = e
		}
		m.logger.Debug().Str("group", id).Int64("producer_id", ev.ProducerID).Int("offsets", len(offs)).Msg("transactional offsets committed")
	}
}
