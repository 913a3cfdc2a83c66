package coordinator

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// sync is Kafka's handleSyncGroup.
func (m *Machine) sync(ev *SyncGroup) {
	if code := m.groupStatus(ev.Group, false); code != 0 {
		if code == kerr.CoordinatorLoadInProgress.Code {
			// The rebalance state was lost: make the member rejoin (older clients do not
			// expect COORDINATOR_LOAD_IN_PROGRESS here).
			code = kerr.RebalanceInProgress.Code
		}
		m.reply(ev.Req, SyncResult{Err: code})
		return
	}
	g := m.groups[ev.Group]
	if g == nil {
		m.reply(ev.Req, SyncResult{Err: kerr.UnknownMemberID.Code})
		return
	}
	if g.cg != nil {
		m.seeImage(ev.Image)
		m.classicSyncToCG(g, ev)
		return
	}
	if g.is(Dead) {
		m.reply(ev.Req, SyncResult{Err: kerr.CoordinatorNotAvailable.Code})
		return
	}
	if code := g.validateMember(ev.MemberID, ev.InstanceID); code != 0 {
		m.reply(ev.Req, SyncResult{Err: code})
		return
	}
	switch {
	case ev.Generation != g.generation:
		m.reply(ev.Req, SyncResult{Err: kerr.IllegalGeneration.Code})
		return
	case ev.ProtocolType != nil && *ev.ProtocolType != g.protocolType,
		ev.Protocol != nil && (g.protocol == "" || *ev.Protocol != g.protocol):
		m.reply(ev.Req, SyncResult{Err: kerr.InconsistentGroupProtocol.Code})
		return
	}
	mem := g.members[ev.MemberID]
	switch g.state {
	case Empty:
		m.reply(ev.Req, SyncResult{Err: kerr.UnknownMemberID.Code})
	case PreparingRebalance:
		m.reply(ev.Req, SyncResult{Err: kerr.RebalanceInProgress.Code})
	case CompletingRebalance:
		if mem.syncReq != 0 && mem.syncReq != ev.Req {
			m.reply(mem.syncReq, SyncResult{Err: kerr.RebalanceInProgress.Code})
		}
		mem.syncReq = ev.Req
		m.removePendingSync(g, mem.id)
		if !g.isLeader(mem.id) {
			return
		}
		assignment := make(map[string][]byte, len(g.members))
		for id := range g.members {
			assignment[id] = ev.Assignments[id]
			if assignment[id] == nil {
				assignment[id] = []byte{}
			}
		}
		gen := g.generation
		m.storeGroup(g, assignment, func(code int16) {
			if !g.is(CompletingRebalance) || g.generation != gen || m.groups[g.id] != g {
				return
			}
			if code != 0 {
				m.resetAndPropagateAssignmentError(g, code)
				m.maybePrepareRebalance(g)
				return
			}
			for id, mem := range g.members {
				mem.assignment = assignment[id]
			}
			m.propagateAssignment(g, 0)
			m.transition(g, Stable)
		})
	case Stable:
		m.removePendingSync(g, mem.id)
		m.reply(ev.Req, SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: mem.assignment})
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
	}
}

func (m *Machine) removePendingSync(g *group, id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		m.cancel(TimerKey{Kind: TimerSync, Group: g.id})
	}
}

// syncTimerFired removes the members that did not send SyncGroup within the rebalance
// timeout and rebalances.
func (m *Machine) syncTimerFired(g *group) {
	if g.syncGen != g.generation || !(g.is(CompletingRebalance) || g.is(Stable)) || len(g.pendingSync) == 0 {
		return
	}
	for _, id := range append([]string(nil), g.order...) {
		if g.pendingSync[id] {
			m.logger.Info().Str("group", g.id).Str("member", id).Msg("removing member that did not sync in the rebalance timeout")
			g.remove(id)
			m.cancel(TimerKey{Kind: TimerHeartbeat, Group: g.id, Member: id})
		}
	}
	m.prepareRebalance(g)
}

func (m *Machine) resetAndPropagateAssignmentError(g *group, code int16) {
	for _, mem := range g.members {
		mem.assignment = nil
	}
	m.propagateAssignment(g, code)
}

// propagateAssignment answers every parked SyncGroup and restarts those members' sessions.
func (m *Machine) propagateAssignment(g *group, code int16) {
	for _, id := range g.order {
		mem := g.members[id]
		if mem.syncReq == 0 {
			continue
		}
		res := SyncResult{Err: code}
		if code == 0 {
			res.ProtocolType, res.Protocol, res.Assignment = g.protocolType, g.protocol, mem.assignment
		}
		m.reply(mem.syncReq, res)
		mem.syncReq = 0
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
	}
}

// heartbeat is Kafka's handleHeartbeat.
func (m *Machine) heartbeat(ev *Heartbeat) {
	code := m.groupStatus(ev.Group, false)
	if code == kerr.CoordinatorLoadInProgress.Code {
		m.reply(ev.Req, ErrResult{}) // the group is loading: answer blindly
		return
	}
	if code != 0 {
		m.reply(ev.Req, ErrResult{Err: code})
		return
	}
	m.reply(ev.Req, ErrResult{Err: m.doHeartbeat(ev)})
}

func (m *Machine) doHeartbeat(ev *Heartbeat) int16 {
	g := m.groups[ev.Group]
	switch {
	case g == nil:
		return kerr.UnknownMemberID.Code
	case g.is(Dead):
		return kerr.CoordinatorNotAvailable.Code
	case g.cg != nil:
		return m.classicHeartbeatToCG(g, ev)
	}
	if code := g.validateMember(ev.MemberID, ev.InstanceID); code != 0 {
		return code
	}
	if ev.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	mem := g.members[ev.MemberID]
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID.Code
	case PreparingRebalance:
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
		return kerr.RebalanceInProgress.Code
	default:
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
		return 0
	}
}

// leave is Kafka's handleLeaveGroup.
func (m *Machine) leave(ev *LeaveGroup) {
	if code := m.groupStatus(ev.Group, false); code != 0 {
		m.reply(ev.Req, LeaveResult{Err: code})
		return
	}
	g := m.groups[ev.Group]
	errs := make([]int16, len(ev.Members))
	if g == nil {
		for i := range errs {
			errs[i] = kerr.UnknownMemberID.Code
		}
		m.reply(ev.Req, LeaveResult{Members: errs})
		return
	}
	if g.is(Dead) {
		m.reply(ev.Req, LeaveResult{Err: kerr.CoordinatorNotAvailable.Code})
		return
	}
	if g.cg != nil {
		m.classicLeaveToCG(g, ev)
		return
	}
	for i, lm := range ev.Members {
		switch {
		case lm.MemberID == "":
			// Administrative removal of a static member by instance id.
			cur, ok := g.static[lm.InstanceID]
			if lm.InstanceID == "" || !ok {
				errs[i] = kerr.UnknownMemberID.Code
				continue
			}
			m.memberLeft(g, cur)
		case g.pending[lm.MemberID]:
			m.removePending(g, lm.MemberID)
		default:
			if code := g.validateMember(lm.MemberID, lm.InstanceID); code != 0 {
				errs[i] = code
				continue
			}
			m.memberLeft(g, lm.MemberID)
		}
	}
	m.reply(ev.Req, LeaveResult{Members: errs})
}

func (m *Machine) memberLeft(g *group, id string) {
	m.logger.Info().Str("group", g.id).Str("member", id).Msg("member left the group")
	m.removeMemberAndUpdate(g, g.members[id])
}
