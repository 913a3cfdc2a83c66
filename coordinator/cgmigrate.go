package coordinator

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Moving a group between the classic protocol and KIP-848 (group.consumer.migration.policy).

// Migration policies (Kafka's ConsumerGroupMigrationPolicy).
const (
	MigrationDisabled      = "disabled"
	MigrationUpgrade       = "upgrade"
	MigrationDowngrade     = "downgrade"
	MigrationBidirectional = "bidirectional"
)

func (m *Machine) upgradeEnabled() bool {
	return m.cfg.MigrationPolicy == MigrationUpgrade || m.cfg.MigrationPolicy == MigrationBidirectional
}

func (m *Machine) downgradeEnabled() bool {
	return m.cfg.MigrationPolicy == MigrationDowngrade || m.cfg.MigrationPolicy == MigrationBidirectional
}

// leaveClassic clears the classic side of a group entry that becomes a consumer group:
// parked JoinGroup and SyncGroup requests learn that another rebalance is under way
// (REBALANCE_IN_PROGRESS), and the classic timers stop.
func (m *Machine) leaveClassic(g *group) {
	for _, id := range g.order {
		mem := g.members[id]
		if mem.joinReq != 0 {
			m.reply(mem.joinReq, joinErr(id, kerr.RebalanceInProgress.Code))
		}
		if mem.syncReq != 0 {
			m.reply(mem.syncReq, SyncResult{Err: kerr.RebalanceInProgress.Code})
		}
		m.cancel(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: id})
	}
	for id := range g.pending {
		m.cancel(TimerKey{Kind: TimerPending, Group: g.id, Member: id})
	}
	m.cancel(TimerKey{Kind: TimerJoin, Group: g.id})
	m.cancel(TimerKey{Kind: TimerSync, Group: g.id})
	g.resetClassic()
}

// resetClassic empties the classic part of a group entry (its offsets stay).
func (g *group) resetClassic() {
	g.state = Empty
	g.generation = 0
	g.protocolType, g.protocol, g.leader = "", "", ""
	g.members = map[string]*member{}
	g.order = nil
	g.static = map[string]string{}
	g.pending = map[string]bool{}
	g.pendingSync = map[string]bool{}
	g.numAwaiting = 0
	g.newMemberAdded = false
	g.join = nil
	g.subscribed, g.subscribedKnown = nil, false
}

// validateOnlineUpgrade is Kafka's: a classic group of the consumer protocol type converts to
// a consumer group when a member joins with ConsumerGroupHeartbeat, if the policy allows it.
func (m *Machine) validateOnlineUpgrade(g *group) bool {
	switch {
	case !m.upgradeEnabled():
		m.logger.Info().Str("group", g.id).Msg("cannot upgrade the classic group to a consumer group: online upgrade is disabled")
		return false
	case g.protocolType != consumerProtocolType:
		m.logger.Info().Str("group", g.id).Str("protocol_type", g.protocolType).Msg("cannot upgrade the classic group to a consumer group: it does not use the consumer protocol")
		return false
	case len(g.members) > m.cfg.ConsumerMaxSize:
		m.logger.Info().Str("group", g.id).Msg("cannot upgrade the classic group to a consumer group: it has more members than group.consumer.max.size")
		return false
	}
	return true
}

// convertToConsumerGroup is Kafka's: the classic group's members become members of a new
// consumer group (still speaking the classic protocol), at the classic generation, with
// their last assignment as target and current assignment. The records go into tx; the
// heartbeat that triggered the upgrade continues on the converted group.
func (m *Machine) convertToConsumerGroup(g *group, tx *cgTxn) *cgErr {
	cg := newConsumerGroup()
	cg.groupEpoch, cg.assignmentEpoch = g.generation, g.generation
	var records []Record
	ids := append([]string(nil), g.order...)
	for _, id := range ids {
		mem := g.members[id]
		sub, err := subscriptionOf([]Protocol{{Metadata: mem.metadataFor(g.protocol)}})
		if err != nil {
			return cgErrf(errGroupIDNotFound, "Cannot upgrade the classic group %s to consumer group because the embedded consumer protocol is malformed.", g.id)
		}
		named := map[string][]int32{}
		if len(mem.assignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(mem.assignment); err != nil {
				return cgErrf(errGroupIDNotFound, "Cannot upgrade the classic group %s to consumer group because the embedded consumer protocol is malformed.", g.id)
			}
			for _, t := range a.Topics {
				named[t.Topic] = append(named[t.Topic], t.Partitions...)
			}
		}
		assigned := m.toIDAssignment(named)
		cm := &cgMember{
			id: id, epoch: g.generation, prevEpoch: g.generation, state: msStable,
			instanceID: mem.instanceID, rackID: sub.Rack, rebalanceTimeoutMs: mem.rebalanceTimeoutMs,
			clientID: mem.clientID, clientHost: mem.clientHost, subscribedNames: normalizeNames(sub.Topics),
			assigned: assigned, pendingRevocation: assignment{},
			classic: &classicMemberMetadata{sessionTimeoutMs: mem.sessionTimeoutMs, protocols: mem.protocols},
		}
		cg.updateMember(cm)
		cg.target[id] = assigned
	}
	records = append(records, groupTombstone(g.id))
	for _, id := range ids {
		records = append(records, cgMemberMetadataRecord(g.id, id, cg.members[id].metadataValue()))
	}
	records = append(records, cgEpochRecord(g.id, cg.groupEpoch))
	for _, id := range ids {
		records = append(records, cgTargetMemberRecord(g.id, id, cg.target[id]))
	}
	records = append(records, cgTargetMetadataRecord(g.id, cg.assignmentEpoch))
	for _, id := range ids {
		records = append(records, cgCurrentAssignmentRecord(g.id, id, cg.members[id].currentValue()))
	}
	tx.cg = cg
	tx.records = append(tx.records, records...)
	sessions := map[string]int32{}
	for _, id := range ids {
		sessions[id] = g.members[id].sessionTimeoutMs
	}
	prevAfter := tx.after
	tx.after = func(live *consumerGroup) {
		if prevAfter != nil {
			prevAfter(live)
		}
		for id, ms := range sessions {
			m.arm(TimerKey{Kind: TimerCGSession, Group: g.id, Member: id}, int64(ms))
		}
	}
	m.logger.Info().Str("group", g.id).Int32("generation", g.generation).Int("members", len(ids)).Msg("upgrading the classic group to a consumer group")
	return nil
}

// validateOnlineDowngrade is Kafka's validateOnlineDowngradeWithFencedMember: when the last
// member of the consumer protocol leaves and others remain, the group goes back to the
// classic protocol if the policy allows it.
func (m *Machine) validateOnlineDowngrade(cg *consumerGroup, leaving string) bool {
	switch {
	case !cg.allClassicExcept(leaving), len(cg.members) <= 1:
		return false
	case !m.downgradeEnabled():
		m.logger.Info().Msg("cannot downgrade the consumer group to a classic group: online downgrade is disabled")
		return false
	case len(cg.members)-1 > m.cfg.MaxSize:
		m.logger.Info().Msg("cannot downgrade the consumer group to a classic group: it has more members than group.max.size")
		return false
	}
	return true
}

// validateOnlineDowngradeReplacing is Kafka's validateOnlineDowngradeWithReplacedMemberId:
// a classic static member takes the place of the last member of the consumer protocol.
func (m *Machine) validateOnlineDowngradeReplacing(cg *consumerGroup, replaced string) bool {
	return cg.allClassicExcept(replaced) && m.downgradeEnabled() && len(cg.members) <= m.cfg.MaxSize
}

// convertToClassicGroup is Kafka's: the consumer group becomes a classic group of its
// remaining (classic) members, at generation = group epoch, with their target assignments;
// when a member left, the new classic group rebalances. The group's records get tombstones
// and the classic group's metadata is written; the state changes directly (tx.downgrade).
func (m *Machine) convertToClassicGroup(tx *cgTxn, leaving string, joining *cgMember) {
	cg := tx.cg
	ids := cg.memberIDs()
	replaced := func(id string) string {
		if joining != nil && id == leaving {
			return joining.id
		}
		return id
	}
	for _, id := range ids {
		tx.records = append(tx.records, cgCurrentAssignmentTombstone(tx.id, replaced(id)))
	}
	for _, id := range ids {
		tx.records = append(tx.records, cgTargetMemberTombstone(tx.id, replaced(id)))
	}
	tx.records = append(tx.records, cgTargetMetadataTombstone(tx.id))
	for _, id := range ids {
		tx.records = append(tx.records, cgMemberMetadataTombstone(tx.id, replaced(id)))
	}
	for _, r := range sortedKeys(cg.regexes) {
		tx.records = append(tx.records, cgRegexTombstone(tx.id, r))
	}
	tx.records = append(tx.records, cgPartitionMetadataTombstone(tx.id), cgEpochTombstone(tx.id))

	// The classic group, built aside: its record goes with the tombstones.
	cl := newGroup(tx.id, m.partitionFor(tx.id), m.now)
	cl.state, cl.generation, cl.protocolType = Stable, cg.groupEpoch, consumerProtocolType
	targetOf := map[string]string{}
	add := func(mem *cgMember, id, targetID string) {
		cl.add(&member{id: id, instanceID: mem.instanceID, clientID: mem.clientID, clientHost: mem.clientHost,
			rebalanceTimeoutMs: mem.rebalanceTimeoutMs, sessionTimeoutMs: mem.classic.sessionTimeoutMs,
			protocolType: consumerProtocolType, protocols: mem.classic.protocols})
		targetOf[id] = targetID
	}
	for _, id := range ids {
		if id != leaving {
			add(cg.members[id], id, id)
		}
	}
	if joining != nil {
		add(joining, joining.id, leaving)
	}
	cl.protocol = cl.selectProtocol()
	cl.computeSubscribed()
	for _, id := range cl.order {
		mem := cl.members[id]
		mem.assignment = m.classicAssignment(cg.target[targetOf[id]], mem.metadataFor(cl.protocol))
	}
	tx.records = append(tx.records, groupRecord(cl, cl.assignments()))
	m.logger.Info().Str("group", tx.id).Int32("generation", cl.generation).Int("members", len(cl.members)).Msg("downgrading the consumer group to a classic group")
	tx.downgrade = func(g *group) {
		m.cancelAllCGTimers(g)
		offsets, pending, txn := g.offsets, g.pendingCommits, g.pendingTxn
		*g = *cl
		g.offsets, g.pendingCommits, g.pendingTxn = offsets, pending, txn
		g.cg = nil
		m.transition(g, Stable)
		for _, id := range g.order {
			m.scheduleHeartbeat(g, g.members[id], int64(g.members[id].sessionTimeoutMs))
		}
		if joining == nil {
			m.prepareRebalance(g)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
