package coordinator

import (
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
)

func randomMemberID(prefix string) string { return prefix + "-" + uuid.NewString() }

func joinErr(memberID string, code int16) JoinResult {
	return JoinResult{Err: code, MemberID: memberID, Generation: -1}
}

// join is Kafka's handleJoinGroup.
func (m *Machine) join(ev *JoinGroup) {
	if code := m.groupStatus(ev.Group, false); code != 0 {
		m.reply(ev.Req, joinErr(ev.MemberID, code))
		return
	}
	if int64(ev.SessionTimeoutMs) < m.cfg.MinSessionTimeoutMs || int64(ev.SessionTimeoutMs) > m.cfg.MaxSessionTimeoutMs {
		m.reply(ev.Req, joinErr(ev.MemberID, kerr.InvalidSessionTimeout.Code))
		return
	}
	unknown := ev.MemberID == ""
	g := m.groups[ev.Group]
	if g == nil {
		if !unknown {
			m.reply(ev.Req, joinErr(ev.MemberID, kerr.UnknownMemberID.Code))
			return
		}
		g = newGroup(ev.Group, m.partitionFor(ev.Group), m.now)
		m.groups[ev.Group] = g
	}
	switch {
	case !m.acceptJoining(g, ev.MemberID):
		g.remove(ev.MemberID)
		m.reply(ev.Req, joinErr("", kerr.GroupMaxSizeReached.Code))
	case unknown:
		m.newMemberJoin(g, ev)
	default:
		m.currentMemberJoin(g, ev)
	}
	if g.is(PreparingRebalance) {
		m.checkJoin(g)
	}
}

// acceptJoining applies group.max.size (Kafka's acceptJoiningMember).
func (m *Machine) acceptJoining(g *group, id string) bool {
	switch g.state {
	case PreparingRebalance:
		if mem, ok := g.members[id]; ok && mem.awaitingJoin() {
			return true
		}
		return g.numAwaiting < m.cfg.MaxSize
	case CompletingRebalance, Stable:
		return g.has(id) || len(g.members) < m.cfg.MaxSize
	}
	return true
}

func (m *Machine) newMemberJoin(g *group, ev *JoinGroup) {
	switch {
	case g.is(Dead):
		m.reply(ev.Req, joinErr("", kerr.CoordinatorNotAvailable.Code))
		return
	case !g.supportsProtocols(ev.ProtocolType, ev.Protocols):
		m.reply(ev.Req, joinErr("", kerr.InconsistentGroupProtocol.Code))
		return
	}
	prefix := ev.ClientID
	if ev.InstanceID != "" {
		prefix = ev.InstanceID
	}
	newID := m.cfg.NewMemberID(prefix)
	switch {
	case ev.InstanceID != "":
		if oldID, ok := g.static[ev.InstanceID]; ok && g.has(oldID) {
			m.replaceStaticMember(g, ev, oldID, newID)
		} else {
			m.addMemberAndRebalance(g, ev, newID)
		}
	case ev.RequireKnownMemberID:
		g.pending[newID] = true
		m.arm(TimerKey{Kind: TimerPending, Group: g.id, Member: newID}, int64(ev.SessionTimeoutMs))
		m.reply(ev.Req, joinErr(newID, kerr.MemberIDRequired.Code))
	default:
		m.addMemberAndRebalance(g, ev, newID)
	}
}

func (m *Machine) currentMemberJoin(g *group, ev *JoinGroup) {
	switch {
	case g.is(Dead):
		m.reply(ev.Req, joinErr(ev.MemberID, kerr.CoordinatorNotAvailable.Code))
		return
	case !g.supportsProtocols(ev.ProtocolType, ev.Protocols):
		m.reply(ev.Req, joinErr(ev.MemberID, kerr.InconsistentGroupProtocol.Code))
		return
	case g.pending[ev.MemberID]:
		m.cancel(TimerKey{Kind: TimerPending, Group: g.id, Member: ev.MemberID})
		m.addMemberAndRebalance(g, ev, ev.MemberID)
		return
	}
	if code := g.validateMember(ev.MemberID, ev.InstanceID); code != 0 {
		m.reply(ev.Req, joinErr(ev.MemberID, code))
		return
	}
	mem := g.members[ev.MemberID]
	switch g.state {
	case PreparingRebalance:
		m.updateMemberAndRebalance(g, mem, ev)
	case CompletingRebalance:
		if mem.matches(ev.Protocols) {
			// The member lost our answer: give it again.
			res := m.joinAnswer(g, mem.id, g.isLeader(mem.id))
			m.reply(ev.Req, res)
		} else {
			m.updateMemberAndRebalance(g, mem, ev)
		}
	case Stable:
		if g.isLeader(mem.id) || !mem.matches(ev.Protocols) {
			// A leader rejoining forces a rebalance (its view of the topics may have changed).
			m.updateMemberAndRebalance(g, mem, ev)
		} else {
			m.reply(ev.Req, m.joinAnswer(g, mem.id, false))
		}
	default:
		m.reply(ev.Req, joinErr(ev.MemberID, kerr.UnknownMemberID.Code))
	}
}

// validateMember is Kafka's validateCurrentMember.
func (g *group) validateMember(memberID, instanceID string) int16 {
	if instanceID != "" {
		cur, ok := g.static[instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case cur != memberID:
			return kerr.FencedInstanceID.Code
		}
	}
	if !g.has(memberID) {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// joinAnswer is the JoinGroup answer of the current generation for a member.
func (m *Machine) joinAnswer(g *group, memberID string, withMembers bool) JoinResult {
	res := JoinResult{
		MemberID:     memberID,
		Generation:   g.generation,
		ProtocolType: g.protocolType,
		Protocol:     g.protocol,
		Leader:       g.leader,
	}
	if withMembers {
		res.Members = g.memberList()
	}
	return res
}

func (m *Machine) addMemberAndRebalance(g *group, ev *JoinGroup, id string) {
	mem := &member{
		id:                 id,
		instanceID:         ev.InstanceID,
		clientID:           ev.ClientID,
		clientHost:         ev.ClientHost,
		rebalanceTimeoutMs: ev.RebalanceTimeoutMs,
		sessionTimeoutMs:   ev.SessionTimeoutMs,
		protocolType:       ev.ProtocolType,
		protocols:          ev.Protocols,
		joinReq:            ev.Req,
		joinSkip:           ev.SupportSkippingAssignment,
		isNew:              true,
	}
	if g.is(PreparingRebalance) && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(mem)
	m.scheduleHeartbeat(g, mem, newMemberJoinTimeoutMs)
	m.maybePrepareRebalance(g)
}

func (m *Machine) updateMemberAndRebalance(g *group, mem *member, ev *JoinGroup) {
	m.updateMember(g, mem, ev)
	m.maybePrepareRebalance(g)
}

func (m *Machine) updateMember(g *group, mem *member, ev *JoinGroup) {
	mem.protocols = ev.Protocols
	mem.rebalanceTimeoutMs = ev.RebalanceTimeoutMs
	mem.sessionTimeoutMs = ev.SessionTimeoutMs
	if mem.joinReq != 0 && mem.joinReq != ev.Req {
		// A JoinGroup replaced by a newer one (the client gave up on it): end it.
		m.reply(mem.joinReq, joinErr(mem.id, kerr.RebalanceInProgress.Code))
	}
	g.setJoin(mem, ev.Req, ev.SupportSkippingAssignment)
}

// replaceStaticMember is KIP-345: a static member that comes back with an unknown member id
// takes over its instance's membership (and assignment); the old member id is fenced.
func (m *Machine) replaceStaticMember(g *group, ev *JoinGroup, oldID, newID string) {
	mem := g.members[oldID]
	currentLeader := g.leader
	if mem.joinReq != 0 {
		m.reply(mem.joinReq, joinErr(oldID, kerr.FencedInstanceID.Code))
		g.setJoin(mem, 0, false)
	}
	if mem.syncReq != 0 {
		m.reply(mem.syncReq, SyncResult{Err: kerr.FencedInstanceID.Code})
		mem.syncReq = 0
	}
	m.cancel(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: oldID})
	g.rename(oldID, newID)
	m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))

	oldProtocols, oldRebalance, oldSession := mem.protocols, mem.rebalanceTimeoutMs, mem.sessionTimeoutMs
	m.updateMember(g, mem, ev)

	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			m.maybePrepareRebalance(g)
			return
		}
		// Same protocol: keep the assignment, persist the new member id, answer without a rebalance.
		gen := g.generation
		m.storeGroup(g, g.assignments(), func(code int16) {
			if code != 0 {
				if g.has(newID) {
					g.setJoin(mem, 0, false)
					g.rename(newID, oldID)
					mem.protocols, mem.rebalanceTimeoutMs, mem.sessionTimeoutMs = oldProtocols, oldRebalance, oldSession
				}
				m.reply(ev.Req, joinErr("", code))
				return
			}
			if !g.has(newID) || g.generation != gen || mem.joinReq != ev.Req {
				return
			}
			isLeader := g.isLeader(newID)
			res := m.joinAnswer(g, newID, false)
			if ev.SupportSkippingAssignment {
				// KIP-814: the leader learns it leads but skips the assignment.
				res.SkipAssignment = isLeader
				if isLeader {
					res.Members = g.memberList()
				}
			} else {
				// The old leader id keeps a replaced leader from assigning in a Stable group,
				// where a new assignment would not be propagated.
				res.Leader = currentLeader
			}
			g.setJoin(mem, 0, false)
			m.reply(ev.Req, res)
		})
	case CompletingRebalance:
		// The leader may be assigning with the old member id: rebalance again.
		m.prepareRebalance(g)
	}
}

// rename moves a member to a new id, keeping its place, leadership and pending sync.
func (g *group) rename(oldID, newID string) {
	mem := g.members[oldID]
	delete(g.members, oldID)
	mem.id = newID
	g.members[newID] = mem
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.leader == oldID {
		g.leader = newID
	}
	if mem.instanceID != "" {
		g.static[mem.instanceID] = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
}

// assignments returns every member's current assignment.
func (g *group) assignments() map[string][]byte {
	out := make(map[string][]byte, len(g.members))
	for id, mem := range g.members {
		out[id] = mem.assignment
	}
	return out
}

func (m *Machine) maybePrepareRebalance(g *group) {
	if g.canRebalance() {
		m.prepareRebalance(g)
	}
}

// purgatoryTickMs is the shortest an initial rebalance waits. Kafka completes even a zero
// group.initial.rebalance.delay.ms through its delayed-operation purgatory, never inside the
// JoinGroup that started it: the InitialDelayedJoin expires through the purgatory's timer wheel
// and reaper and runs on another thread, and it waits once more whenever a new member joined
// meanwhile. That latency is not specified; here it is 100 ms, re-armed while new members keep
// arriving, so that members started together land in the first generation (as on Kafka)
// instead of the first JoinGroup completing a generation of one: librdkafka consumers started
// at the same instant were seen to send their JoinGroup up to 50 ms apart. Non-zero delays are
// as configured.
const purgatoryTickMs = 100

// prepareRebalance enters PreparingRebalance. An Empty group waits
// group.initial.rebalance.delay.ms first (at least one purgatory tick; extended while members
// keep joining, up to the rebalance timeout); otherwise the join completes when every member
// rejoined or after the rebalance timeout.
func (m *Machine) prepareRebalance(g *group) {
	if g.is(CompletingRebalance) {
		m.resetAndPropagateAssignmentError(g, kerr.RebalanceInProgress.Code)
	}
	m.cancel(TimerKey{Kind: TimerSync, Group: g.id})
	if g.is(Empty) {
		delay := max(m.cfg.InitialRebalanceDelayMs, purgatoryTickMs)
		g.join = &joinTimer{initial: true, delayMs: delay, remaining: max(g.rebalanceTimeoutMs()-m.cfg.InitialRebalanceDelayMs, 0)}
	} else {
		g.join = &joinTimer{delayMs: g.rebalanceTimeoutMs()}
	}
	m.transition(g, PreparingRebalance)
	m.arm(TimerKey{Kind: TimerJoin, Group: g.id}, g.join.delayMs)
	m.checkJoin(g)
}

// checkJoin completes a (non-initial) delayed join once every member has rejoined.
func (m *Machine) checkJoin(g *group) {
	if g.join != nil && !g.join.initial && g.allMembersJoined() {
		m.cancel(TimerKey{Kind: TimerJoin, Group: g.id})
		m.completeJoin(g)
	}
}

func (m *Machine) joinTimerFired(g *group) {
	j := g.join
	if j == nil || !g.is(PreparingRebalance) {
		return
	}
	if j.initial && g.newMemberAdded && j.remaining != 0 {
		// Kafka's InitialDelayedJoin: new members arrived, wait again (bounded by the rebalance timeout).
		g.newMemberAdded = false
		delay := min(m.cfg.InitialRebalanceDelayMs, j.remaining)
		g.join = &joinTimer{initial: true, delayMs: delay, remaining: max(j.remaining-j.delayMs, 0)}
		m.arm(TimerKey{Kind: TimerJoin, Group: g.id}, max(delay, purgatoryTickMs))
		return
	}
	m.completeJoin(g)
}

// completeJoin is Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the
// next generation and answer every parked JoinGroup.
func (m *Machine) completeJoin(g *group) {
	g.join = nil
	for _, id := range append([]string(nil), g.order...) {
		mem := g.members[id]
		if !mem.awaitingJoin() && mem.instanceID == "" {
			m.logger.Info().Str("group", g.id).Str("member", id).Msg("removing member that did not rejoin in the rebalance timeout")
			g.remove(id)
			m.cancel(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: id})
		}
	}
	if g.is(Dead) {
		return
	}
	if !m.electJoinedLeader(g) && len(g.members) > 0 {
		// Nobody rejoined (only static members remain): wait another rebalance timeout.
		g.join = &joinTimer{delayMs: g.rebalanceTimeoutMs()}
		m.arm(TimerKey{Kind: TimerJoin, Group: g.id}, g.join.delayMs)
		m.checkJoin(g)
		return
	}
	g.generation++
	g.pendingSync = map[string]bool{}
	if len(g.members) == 0 {
		g.protocol = ""
		g.computeSubscribed()
		m.transition(g, Empty)
		m.storeGroup(g, nil, func(code int16) {
			if code != 0 {
				m.logger.Warn().Str("group", g.id).Int32("generation", g.generation).Int16("error", code).Msg("failed to write the metadata of the empty group")
			}
		})
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	m.transition(g, CompletingRebalance)
	for _, id := range g.order {
		mem := g.members[id]
		if mem.joinReq != 0 {
			res := m.joinAnswer(g, id, g.isLeader(id))
			m.reply(mem.joinReq, res)
			g.setJoin(mem, 0, false)
		}
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
		mem.isNew = false
		g.pendingSync[id] = true
	}
	g.syncGen = g.generation
	m.arm(TimerKey{Kind: TimerSync, Group: g.id}, g.rebalanceTimeoutMs())
}

// electJoinedLeader keeps the leader if it rejoined, else picks a member that did; false
// when no member rejoined.
func (m *Machine) electJoinedLeader(g *group) bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].awaitingJoin() {
		return true
	}
	for _, id := range g.order {
		if g.members[id].awaitingJoin() {
			g.leader = id
			return true
		}
	}
	return false
}

// scheduleHeartbeat (re)arms a member's session timer.
func (m *Machine) scheduleHeartbeat(g *group, mem *member, afterMs int64) {
	m.arm(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: mem.id}, afterMs)
}

// heartbeatExpired removes a member whose session ended, unless it is parked in a rebalance
// (members awaiting join or sync satisfy heartbeats; new members do not).
func (m *Machine) heartbeatExpired(g *group, id string) {
	mem := g.members[id]
	if mem == nil || g.is(Dead) {
		return
	}
	if !mem.isNew && (mem.awaitingJoin() || mem.awaitingSync()) {
		return
	}
	m.logger.Info().Str("group", g.id).Str("member", id).Int32("session_timeout_ms", mem.sessionTimeoutMs).Msg("member session expired; removing it from the group")
	m.removeMemberAndUpdate(g, mem)
}

// removeMemberAndUpdate removes a member and moves the group on.
func (m *Machine) removeMemberAndUpdate(g *group, mem *member) {
	if mem == nil {
		return
	}
	if mem.joinReq != 0 {
		m.reply(mem.joinReq, joinErr("", kerr.UnknownMemberID.Code))
	}
	if mem.syncReq != 0 {
		m.reply(mem.syncReq, SyncResult{Err: kerr.UnknownMemberID.Code})
	}
	g.remove(mem.id)
	m.cancel(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: mem.id})
	switch g.state {
	case Stable, CompletingRebalance:
		m.maybePrepareRebalance(g)
	case PreparingRebalance:
		m.checkJoin(g)
	}
}

func (m *Machine) removePending(g *group, id string) {
	delete(g.pending, id)
	m.cancel(TimerKey{Kind: TimerPending, Group: g.id, Member: id})
	if g.is(PreparingRebalance) {
		m.checkJoin(g)
	}
}

// storeGroup appends the group's metadata record with the given assignments.
func (m *Machine) storeGroup(g *group, assignment map[string][]byte, done func(code int16)) {
	m.appendRecords(g.partition, []Record{groupRecord(g, assignment)}, done)
}
