package coordinator

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Members of a KIP-848 group that speak the classic protocol (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup): the members of a classic group that was upgraded online, and
// classic consumers joining a group whose members moved on (Kafka's classicGroupJoinTo-
// ConsumerGroup and friends). The coordinator assigns for them: JoinGroup answers at once
// with the member's epoch as the generation and no leader, SyncGroup hands out the
// member's current assignment, and Heartbeat asks for a rejoin (REBALANCE_IN_PROGRESS)
// while the member has to move to a newer epoch.

const consumerProtocolType = "consumer"

// subscriptionOf decodes a classic member's embedded consumer protocol subscription.
func subscriptionOf(protocols []Protocol) (*kmsg.ConsumerMemberMetadata, error) {
	if len(protocols) == 0 {
		return nil, fmt.Errorf("no protocols")
	}
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(protocols[0].Metadata); err != nil {
		return nil, err
	}
	return &meta, nil
}

// toIDAssignment maps named partitions to topic ids (topics the image lacks are left out).
func (m *Machine) toIDAssignment(topics map[string][]int32) assignment {
	a := assignment{}
	for name, ps := range topics {
		if t, ok := m.image.topic(name); ok {
			a[t.ID] = normalizePartitions(append(a[t.ID], ps...))
		}
	}
	return a
}

// classicAssignment serializes an assignment for a classic member (ConsumerProtocol
// assignment of the member's subscription version, at most 3).
func (m *Machine) classicAssignment(a assignment, metadata []byte) []byte {
	version := int16(0)
	if len(metadata) >= 2 {
		version = int16(metadata[0])<<8 | int16(metadata[1])
	}
	if version > 3 {
		version = 3
	}
	if version < 0 {
		version = 0
	}
	out := kmsg.NewConsumerMemberAssignment()
	out.Version = version
	for _, id := range a.topicIDs() {
		name, ok := m.image.nameOf(id)
		if !ok {
			continue
		}
		out.Topics = append(out.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: name, Partitions: append([]int32(nil), a[id]...)})
	}
	return out.AppendTo(nil)
}

// supportsClassicProtocols is ConsumerGroup.supportsClassicProtocols.
func (cg *consumerGroup) supportsClassicProtocols(protocolType string, protocols []Protocol) bool {
	if protocolType != consumerProtocolType {
		return false
	}
	if cg.state() == CGEmpty {
		return len(protocols) > 0
	}
	n := cg.numClassic()
	counts := map[string]int{}
	for _, mem := range cg.members {
		if mem.classic != nil {
			for _, p := range mem.classic.protocols {
				counts[p.Name]++
			}
		}
	}
	for _, p := range protocols {
		if counts[p.Name] == n {
			return true
		}
	}
	return false
}

// classicJoinToCG is Kafka's classicGroupJoinToConsumerGroup.
func (m *Machine) classicJoinToCG(g *group, ev *JoinGroup) {
	fail := func(e *cgErr) { m.reply(ev.Req, joinErr(ev.MemberID, e.code)) }
	cg := g.cg
	memberID := ev.MemberID
	unknown := memberID == ""
	if unknown {
		memberID = m.cfg.NewConsumerMemberID()
	}
	if e := m.throwIfCGFull(cg, memberID); e != nil {
		fail(e)
		return
	}
	if !cg.supportsClassicProtocols(ev.ProtocolType, ev.Protocols) {
		fail(cgErrf(kerr.InconsistentGroupProtocol.Code, "Member %s's protocols are not supported.", memberID))
		return
	}
	if unknown && ev.RequireKnownMemberID && ev.InstanceID == "" {
		m.reply(ev.Req, joinErr(memberID, kerr.MemberIDRequired.Code))
		return
	}
	sub, err := subscriptionOf(ev.Protocols)
	if err != nil {
		fail(cgErrf(kerr.InconsistentGroupProtocol.Code, "Malformed embedded consumer protocol in subscription."))
		return
	}
	tx := &cgTxn{g: g, id: g.id, cg: cg}
	var member *cgMember
	var e *cgErr
	if ev.InstanceID == "" {
		member, e = m.dynamicMember(cg, memberID, -1, nil, true, true)
	} else {
		member, e = m.staticMember(tx, memberID, -1, ev.InstanceID, nil, unknown, true)
	}
	if e != nil {
		fail(e)
		return
	}
	updated := member.with()
	if ev.InstanceID != "" {
		updated.instanceID = ev.InstanceID
	}
	if sub.Rack != nil {
		updated.rackID = sub.Rack
	}
	if ev.RebalanceTimeoutMs != -1 {
		updated.rebalanceTimeoutMs = ev.RebalanceTimeoutMs
	}
	updated.subscribedNames = normalizeNames(sub.Topics)
	updated.clientID, updated.clientHost = ev.ClientID, ev.ClientHost
	updated.classic = &classicMemberMetadata{sessionTimeoutMs: ev.SessionTimeoutMs, protocols: ev.Protocols}

	target, targetEpoch, e := m.updateMemberAndTarget(tx, member, updated)
	if e != nil {
		fail(e)
		return
	}
	owned := map[string][]int32{}
	for _, op := range sub.OwnedPartitions {
		owned[op.Topic] = append(owned[op.Topic], op.Partitions...)
	}
	next, e := m.maybeReconcile(tx, updated, targetEpoch, target, m.toIDAssignment(owned))
	if e != nil {
		fail(e)
		return
	}
	// A static member replacing the last member of the consumer protocol takes the group
	// back to the classic protocol.
	if prev := cg.static[ev.InstanceID]; ev.InstanceID != "" && prev != "" && prev != next.id && m.validateOnlineDowngradeReplacing(cg, prev) {
		m.convertToClassicGroup(tx, prev, next)
	}
	res := JoinResult{MemberID: next.id, Generation: next.epoch, ProtocolType: consumerProtocolType, Protocol: ev.Protocols[0].Name}
	downgrade := tx.downgrade != nil
	m.commitCG(tx, func(code int16) {
		if code != 0 {
			m.reply(ev.Req, joinErr(ev.MemberID, code))
			return
		}
		m.cancel(TimerKey{Kind: TimerCGJoin, Group: g.id, Member: next.id})
		if !downgrade {
			m.arm(TimerKey{Kind: TimerCGSession, Group: g.id, Member: next.id}, int64(ev.SessionTimeoutMs))
			m.arm(TimerKey{Kind: TimerCGSync, Group: g.id, Member: next.id}, int64(ev.RebalanceTimeoutMs))
		}
		m.reply(ev.Req, res)
	})
}

// classicMemberOf is Kafka's validateConsumerGroupMember plus the check that the member uses
// the classic protocol.
func (cg *consumerGroup) classicMemberOf(memberID, instanceID string) (*cgMember, int16) {
	var mem *cgMember
	if instanceID == "" {
		mem = cg.members[memberID]
	} else {
		mem = cg.staticMember(instanceID)
		if mem != nil && mem.id != memberID {
			return nil, errFencedInstanceID
		}
	}
	if mem == nil || !mem.usesClassic() {
		return nil, errUnknownMemberID
	}
	return mem, 0
}

// classicSyncToCG is Kafka's classicGroupSyncToConsumerGroup.
func (m *Machine) classicSyncToCG(g *group, ev *SyncGroup) {
	cg := g.cg
	if cg.state() == CGEmpty {
		m.reply(ev.Req, SyncResult{Err: errUnknownMemberID})
		return
	}
	mem, code := cg.classicMemberOf(ev.MemberID, ev.InstanceID)
	switch {
	case code != 0:
	case ev.Generation != mem.epoch:
		code = errIllegalGeneration
	case ev.ProtocolType != nil && *ev.ProtocolType != consumerProtocolType,
		ev.Protocol != nil && *ev.Protocol != mem.classic.protocols[0].Name:
		code = kerr.InconsistentGroupProtocol.Code
	case cg.groupEpoch > mem.epoch && mem.state != msUnrevokedPartitions:
		m.armIfAbsent(TimerKey{Kind: TimerCGJoin, Group: g.id, Member: mem.id}, int64(mem.rebalanceTimeoutMs))
		code = kerr.RebalanceInProgress.Code
	}
	if code != 0 {
		m.reply(ev.Req, SyncResult{Err: code})
		return
	}
	m.cancel(TimerKey{Kind: TimerCGSync, Group: g.id, Member: mem.id})
	m.arm(TimerKey{Kind: TimerCGSession, Group: g.id, Member: mem.id}, int64(mem.classic.sessionTimeoutMs))
	m.reply(ev.Req, SyncResult{ProtocolType: consumerProtocolType, Protocol: mem.classic.protocols[0].Name,
		Assignment: m.classicAssignment(mem.assigned, mem.classic.protocols[0].Metadata)})
}

// classicHeartbeatToCG is Kafka's classicGroupHeartbeatToConsumerGroup.
func (m *Machine) classicHeartbeatToCG(g *group, ev *Heartbeat) int16 {
	cg := g.cg
	mem, code := cg.classicMemberOf(ev.MemberID, ev.InstanceID)
	if code != 0 {
		return code
	}
	if ev.Generation != mem.epoch {
		return errIllegalGeneration
	}
	m.arm(TimerKey{Kind: TimerCGSession, Group: g.id, Member: mem.id}, int64(mem.classic.sessionTimeoutMs))
	if mem.epoch < cg.groupEpoch || mem.state == msUnrevokedPartitions ||
		mem.state == msUnreleasedPartitions && !cg.waitingOnUnreleased(mem) {
		m.armIfAbsent(TimerKey{Kind: TimerCGJoin, Group: g.id, Member: mem.id}, int64(mem.rebalanceTimeoutMs))
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// waitingOnUnreleased is ConsumerGroup.waitingOnUnreleasedPartition: a partition of the
// member's target is still held by another member.
func (cg *consumerGroup) waitingOnUnreleased(mem *cgMember) bool {
	if mem.state != msUnreleasedPartitions {
		return false
	}
	for id, ps := range cg.target[mem.id] {
		for _, p := range ps {
			if !mem.assigned.has(id, p) && cg.currentPartitionEpoch(id, p) != -1 {
				return true
			}
		}
	}
	return false
}

// classicLeaveToCG is Kafka's classicGroupLeaveToConsumerGroup.
func (m *Machine) classicLeaveToCG(g *group, ev *LeaveGroup) {
	cg := g.cg
	tx := &cgTxn{g: g, id: g.id, cg: cg}
	errs := make([]int16, len(ev.Members))
	members := copyMap(cg.members)
	for i, lm := range ev.Members {
		var mem *cgMember
		if lm.InstanceID == "" {
			mem = cg.members[lm.MemberID]
		} else {
			mem = cg.staticMember(lm.InstanceID)
			if mem != nil && lm.MemberID != "" && mem.id != lm.MemberID {
				errs[i] = errFencedInstanceID
				continue
			}
		}
		if mem == nil || !mem.usesClassic() || members[mem.id] == nil {
			errs[i] = errUnknownMemberID
			continue
		}
		m.logger.Info().Str("group", g.id).Str("member", mem.id).Msg("classic member left the consumer group")
		delete(members, mem.id)
		tx.records = append(tx.records, memberTombstones(g.id, mem.id)...)
		m.cancelCGTimers(g.id, mem.id)
	}
	if len(tx.records) > 0 {
		m.membersLeft(tx, members)
	}
	m.commitCG(tx, func(code int16) {
		if code != 0 {
			m.reply(ev.Req, LeaveResult{Err: code})
			return
		}
		m.reply(ev.Req, LeaveResult{Members: errs})
	})
}

// armIfAbsent arms a timer unless it is armed already (Kafka's scheduleIfAbsent).
func (m *Machine) armIfAbsent(key TimerKey, afterMs int64) {
	if _, ok := m.timers[key]; !ok {
		m.arm(key, afterMs)
	}
}

// --- conversions ---

// dropEmptyConsumerGroup removes an empty KIP-848 group before a classic
// JoinGroup creates a classic group (Kafka's maybeDeleteEmptyConsumerGroup): its records
// get tombstones; its offsets stay.
func (m *Machine) dropEmptyConsumerGroup(g *group) {
	records := cgDeleteRecords(g.id, g.cg)
	m.cancelAllCGTimers(g)
	g.cg = nil
	m.appendRecords(g.partition, records, func(code int16) {
		if code != 0 {
			m.logger.Warn().Str("group", g.id).Int16("error", code).Msg("failed to write the tombstones of an empty consumer group")
		}
	})
}
