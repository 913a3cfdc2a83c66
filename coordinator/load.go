package coordinator

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// loaded installs the groups and offsets read from a partition: groups with members come
// back Stable with fresh sessions, groups without members Empty, and groups that only have
// offsets (simple consumers) Empty without a protocol type.
func (m *Machine) loaded(p int32, snap *snapshot) {
	if m.parts[p] != partLoading {
		return // unloaded while loading
	}
	m.parts[p] = partActive
	ids := make([]string, 0, len(snap.groups)+len(snap.offsets))
	seen := map[string]bool{}
	for id := range snap.groups {
		ids, seen[id] = append(ids, id), true
	}
	for id := range snap.offsets {
		if !seen[id] {
			ids, seen[id] = append(ids, id), true
		}
	}
	for id := range snap.cgs.groups {
		if !seen[id] {
			ids, seen[id] = append(ids, id), true
		}
	}
	for _, byGroup := range snap.pendingTxn {
		for id := range byGroup {
			if !seen[id] {
				ids, seen[id] = append(ids, id), true
			}
		}
	}
	m.order = max(m.order, snap.maxOffset)
	sort.Strings(ids)
	for _, id := range ids {
		g := newGroup(id, p, -1)
		if v := snap.groups[id]; v != nil {
			g.protocolType = v.ProtocolType
			g.generation = v.Generation
			if v.Protocol != nil {
				g.protocol = *v.Protocol
			}
			if v.Leader != nil {
				g.leader = *v.Leader
			}
			g.stateTs = v.CurrentStateTimestamp
			if v.Version < 2 {
				g.stateTs = -1
			}
			for _, mv := range v.Members {
				mem := &member{
					id:                 mv.MemberID,
					clientID:           mv.ClientID,
					clientHost:         mv.ClientHost,
					rebalanceTimeoutMs: mv.RebalanceTimeoutMillis,
					sessionTimeoutMs:   mv.SessionTimeoutMillis,
					protocolType:       v.ProtocolType,
					protocols:          []Protocol{{Name: g.protocol, Metadata: mv.Subscription}},
					assignment:         mv.Assignment,
				}
				if v.Version == 0 {
					mem.rebalanceTimeoutMs = mv.SessionTimeoutMillis
				}
				if mv.InstanceID != nil {
					mem.instanceID = *mv.InstanceID
				}
				g.members[mem.id] = mem
				g.order = append(g.order, mem.id)
				if mem.instanceID != "" {
					g.static[mem.instanceID] = mem.id
				}
			}
			if _, ok := g.members[g.leader]; !ok && len(g.order) > 0 {
				g.leader = g.order[0]
			}
			if len(g.members) > 0 {
				g.state = Stable
			}
			g.computeSubscribed()
		}
		if snap.cgs.wins(id) {
			g.resetClassic()
			g.cg = snap.cgs.groups[id]
		}
		for tp, e := range snap.offsets[id] {
			g.offsets[tp] = e
		}
		for pid, byGroup := range snap.pendingTxn {
			if offs := byGroup[id]; len(offs) > 0 {
				g.pendingTxn[pid] = offs
			}
		}
		m.groups[id] = g
		if g.cg != nil {
			m.loadedCG(g)
			continue
		}
		for _, mid := range g.order {
			m.scheduleHeartbeat(g, g.members[mid], int64(g.members[mid].sessionTimeoutMs))
		}
	}
	m.logger.Info().Int32("partition", p).Int("groups", len(ids)).Msg("loaded group metadata and offsets")
	if _, armed := m.timers[TimerKey{Kind: TimerRetention}]; !armed && m.cfg.RetentionCheckMs > 0 {
		m.arm(TimerKey{Kind: TimerRetention}, m.cfg.RetentionCheckMs)
	}
}

// unload forgets the groups of a partition this broker no longer leads; parked requests are
// answered NOT_COORDINATOR so that clients look the coordinator up again.
func (m *Machine) unload(p int32) {
	delete(m.parts, p)
	ids := make([]string, 0)
	for id, g := range m.groups {
		if g.partition == p {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := m.groups[id]
		for _, mid := range g.order {
			mem := g.members[mid]
			if mem.joinReq != 0 {
				m.reply(mem.joinReq, joinErr(mid, kerr.NotCoordinator.Code))
			}
			if mem.syncReq != 0 {
				m.reply(mem.syncReq, SyncResult{Err: kerr.NotCoordinator.Code})
			}
			m.cancel(TimerKey{Kind: TimerHeartbeat, Group: id, Member: mid})
		}
		for mid := range g.pending {
			m.cancel(TimerKey{Kind: TimerPending, Group: id, Member: mid})
		}
		m.cancel(TimerKey{Kind: TimerJoin, Group: id})
		m.cancel(TimerKey{Kind: TimerSync, Group: id})
		m.cancelAllCGTimers(g)
		delete(m.groups, id)
	}
}

// LoadPartition returns the event that installs a partition's state, rebuilt from its
// batches (whole magic-2 batches as stored, from the log start). It runs outside the
// machine (in the loader goroutine).
func LoadPartition(partition int32, batches [][]byte) (PartitionLoaded, error) {
	snap := newSnapshot()
	for _, b := range batches {
		if _, err := forEachRecord(b, snap.applyRecord); err != nil {
			return PartitionLoaded{}, err
		}
	}
	return PartitionLoaded{Partition: partition, snap: snap}, nil
}
