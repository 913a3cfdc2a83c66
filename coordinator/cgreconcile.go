package coordinator

// reconcile is Kafka's CurrentAssignmentBuilder: it moves a member one step from its
// current assignment towards the target assignment of epoch targetEpoch. Partitions the
// member must give up are revoked first (state unrevoked_partitions, the member keeps its
// epoch); only once the member's heartbeat no longer reports them does it move to the
// target epoch and receive new partitions, and only those no other member still holds
// (partitionEpoch says who holds what); partitions still held elsewhere leave it in
// unreleased_partitions until they are freed. owned is what the member reported in this
// heartbeat (nil: not reported). An error is FENCED_MEMBER_EPOCH.
func reconcile(m *cgMember, targetEpoch int32, target assignment, partitionEpoch func([16]byte, int32) int32, owned assignment) (*cgMember, *cgErr) {
	switch m.state {
	case msStable:
		if m.epoch != targetEpoch {
			return nextAssignment(m, m.epoch, m.assigned, targetEpoch, target, partitionEpoch, owned), nil
		}
		return m, nil
	case msUnrevokedPartitions:
		if ownsAny(owned, m.pendingRevocation) {
			return m, nil
		}
		return nextAssignment(m, m.epoch+1, m.assigned, targetEpoch, target, partitionEpoch, owned), nil
	case msUnreleasedPartitions:
		return nextAssignment(m, m.epoch, m.assigned, targetEpoch, target, partitionEpoch, owned), nil
	default:
		if owned == nil || len(owned) > 0 {
			return nil, &cgErr{code: errFencedMemberEpoch, msg: "The consumer group member is in a unknown state. The member must abandon all its partitions and rejoin."}
		}
		return nextAssignment(m, targetEpoch, m.assigned, targetEpoch, target, partitionEpoch, owned), nil
	}
}

// ownsAny reports whether the member still owns one of pending; a member that did not
// report its partitions is assumed to own them all.
func ownsAny(owned, pending assignment) bool {
	if owned == nil {
		return true
	}
	for id, ps := range owned {
		for _, p := range ps {
			if pending.has(id, p) {
				return true
			}
		}
	}
	return false
}

// nextAssignment is Kafka's computeNextAssignment.
func nextAssignment(m *cgMember, memberEpoch int32, current assignment, targetEpoch int32, target assignment, partitionEpoch func([16]byte, int32) int32, owned assignment) *cgMember {
	unreleased := false
	assigned, revoking, toAssign := assignment{}, assignment{}, assignment{}
	ids := map[[16]byte]bool{}
	for id := range target {
		ids[id] = true
	}
	for id := range current {
		ids[id] = true
	}
	for id := range ids {
		want := target[id]
		for _, p := range current[id] {
			if target.has(id, p) {
				assigned[id] = append(assigned[id], p)
			} else {
				revoking[id] = append(revoking[id], p)
			}
		}
		for _, p := range want {
			if current.has(id, p) {
				continue
			}
			if partitionEpoch(id, p) != -1 {
				unreleased = true
				continue
			}
			toAssign[id] = append(toAssign[id], p)
		}
	}
	next := m.with()
	next.prevEpoch = m.epoch // Kafka's updateMemberEpoch, even when the epoch stays
	switch {
	case len(revoking) > 0 && ownsAny(owned, revoking):
		// Revoke first: the member keeps (at most) its epoch until it confirms.
		next.state = msUnrevokedPartitions
		next.epoch = memberEpoch
		next.assigned, next.pendingRevocation = assigned, revoking
	default:
		for id, ps := range toAssign {
			for _, p := range ps {
				assigned.add(id, p)
			}
		}
		next.state = msStable
		if unreleased {
			next.state = msUnreleasedPartitions
		}
		next.epoch = targetEpoch
		next.assigned, next.pendingRevocation = assigned, assignment{}
	}
	return next
}

// sameAssignmentState reports whether reconciliation changed nothing worth a record.
func sameAssignmentState(a, b *cgMember) bool {
	return a.epoch == b.epoch && a.prevEpoch == b.prevEpoch && a.state == b.state &&
		a.assigned.equal(b.assigned) && a.pendingRevocation.equal(b.pendingRevocation)
}
