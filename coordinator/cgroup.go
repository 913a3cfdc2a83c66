package coordinator

import (
	"fmt"
	"sort"
)

// The state of a KIP-848 consumer group (Kafka's ConsumerGroup and ConsumerGroupMember).
// It changes only by replaying records: the handlers compute the records a request needs,
// the machine appends them and replays them into the group, and loading a partition replays
// the same records from the log, so a coordinator that takes over a partition rebuilds
// exactly the state the previous one had.

// CGState is a consumer group's state; String gives Kafka's names.
type CGState int8

// The states of a KIP-848 group.
const (
	CGEmpty CGState = iota
	CGAssigning
	CGReconciling
	CGStable
	CGDead
)

func (s CGState) String() string {
	switch s {
	case CGEmpty:
		return "Empty"
	case CGAssigning:
		return "Assigning"
	case CGReconciling:
		return "Reconciling"
	case CGStable:
		return "Stable"
	}
	return "Dead"
}

// Member states (Kafka's MemberState).
const (
	msStable               int8 = 0
	msUnrevokedPartitions  int8 = 1
	msUnreleasedPartitions int8 = 2
	msUnknown              int8 = 127
)

func memberStateName(s int8) string {
	switch s {
	case msStable:
		return "stable"
	case msUnrevokedPartitions:
		return "unrevoked_partitions"
	case msUnreleasedPartitions:
		return "unreleased_partitions"
	}
	return "unknown"
}

// Member epochs with a meaning of their own.
const (
	leaveGroupMemberEpoch       int32 = -1
	leaveGroupStaticMemberEpoch int32 = -2
)

// cgMember is one member of a consumer group. Members are values: a change makes a new
// member (with) and never writes into an old one, whose maps may be shared.
type cgMember struct {
	id                 string
	epoch              int32
	prevEpoch          int32
	state              int8
	instanceID         string // "" for dynamic members
	rackID             *string
	rebalanceTimeoutMs int32
	clientID           string
	clientHost         string
	subscribedNames    []string // sorted
	subscribedRegex    string   // "" when none
	serverAssignor     string   // "" when none
	assigned           assignment
	pendingRevocation  assignment
	classic            *classicMemberMetadata // members that use JoinGroup/SyncGroup
}

func newCGMember(id string) *cgMember {
	return &cgMember{id: id, prevEpoch: -1, rebalanceTimeoutMs: -1, assigned: assignment{}, pendingRevocation: assignment{}}
}

func (m *cgMember) with() *cgMember {
	c := *m
	return &c
}

func (m *cgMember) usesClassic() bool { return m.classic != nil }

func (m *cgMember) reconciledTo(epoch int32) bool { return m.state == msStable && m.epoch == epoch }

// metadataValue is the member's ConsumerGroupMemberMetadataValue.
func (m *cgMember) metadataValue() *cgMemberMetadataValue {
	regex := m.subscribedRegex
	v := &cgMemberMetadataValue{
		rackID:               m.rackID,
		clientID:             m.clientID,
		clientHost:           m.clientHost,
		subscribedTopicNames: m.subscribedNames,
		subscribedTopicRegex: &regex,
		rebalanceTimeoutMs:   m.rebalanceTimeoutMs,
		classic:              m.classic,
	}
	if m.instanceID != "" {
		v.instanceID = strPtr(m.instanceID)
	}
	if m.serverAssignor != "" {
		v.serverAssignor = strPtr(m.serverAssignor)
	}
	return v
}

func (m *cgMember) currentValue() *cgCurrentAssignmentValue {
	return &cgCurrentAssignmentValue{memberEpoch: m.epoch, previousMemberEpoch: m.prevEpoch, state: m.state,
		assigned: m.assigned, pendingRevocation: m.pendingRevocation}
}

// sameMetadata reports whether two members would write the same metadata record.
func (m *cgMember) sameMetadata(o *cgMember) bool {
	return string(cgMemberMetadataRecord("", "", m.metadataValue()).Value) == string(cgMemberMetadataRecord("", "", o.metadataValue()).Value)
}

// consumerGroup is the hard state of one KIP-848 group (what its records say) and a little
// soft state (timers' bookkeeping, when the subscription metadata was last computed).
type consumerGroup struct {
	groupEpoch      int32
	assignmentEpoch int32
	members         map[string]*cgMember
	static          map[string]string // instance id -> member id
	subscription    map[string]cgTopicMetadata
	target          map[string]assignment
	regexes         map[string]*cgRegexValue
	partitionEpochs map[[16]byte]map[int32]int32 // who holds a partition now, by member epoch

	// Soft state.
	metadataImage  int64            // image version the subscription metadata was computed with
	metadataEpoch  int32            // group epoch it was computed at
	regexRefreshTs int64            // last time the regular expressions were resolved (ms)
	rebalanceEpoch map[string]int32 // member -> epoch its rebalance timer was armed for
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members:         map[string]*cgMember{},
		static:          map[string]string{},
		subscription:    map[string]cgTopicMetadata{},
		target:          map[string]assignment{},
		regexes:         map[string]*cgRegexValue{},
		partitionEpochs: map[[16]byte]map[int32]int32{},
		metadataImage:   -1,
		rebalanceEpoch:  map[string]int32{},
	}
}

// clone copies the group deeply enough that replaying records into the copy leaves the
// original as it was (members and assignments are never written in place).
func (cg *consumerGroup) clone() *consumerGroup {
	c := *cg
	c.members = make(map[string]*cgMember, len(cg.members))
	for k, v := range cg.members {
		c.members[k] = v
	}
	c.static = copyMap(cg.static)
	c.subscription = copyMap(cg.subscription)
	c.target = copyMap(cg.target)
	c.regexes = copyMap(cg.regexes)
	c.rebalanceEpoch = copyMap(cg.rebalanceEpoch)
	c.partitionEpochs = make(map[[16]byte]map[int32]int32, len(cg.partitionEpochs))
	for k, v := range cg.partitionEpochs {
		c.partitionEpochs[k] = copyMap(v)
	}
	return &c
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// state is Kafka's ConsumerGroup.maybeUpdateGroupState.
func (cg *consumerGroup) state() CGState {
	switch {
	case len(cg.members) == 0:
		return CGEmpty
	case cg.groupEpoch > cg.assignmentEpoch:
		return CGAssigning
	}
	for _, m := range cg.members {
		if !m.reconciledTo(cg.assignmentEpoch) {
			return CGReconciling
		}
	}
	return CGStable
}

// memberIDs returns the member ids, sorted.
func (cg *consumerGroup) memberIDs() []string {
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (cg *consumerGroup) staticMember(instanceID string) *cgMember {
	if instanceID == "" {
		return nil
	}
	if id, ok := cg.static[instanceID]; ok {
		return cg.members[id]
	}
	return nil
}

// currentPartitionEpoch is the epoch of the member holding a partition, or -1.
func (cg *consumerGroup) currentPartitionEpoch(id [16]byte, p int32) int32 {
	if e, ok := cg.partitionEpochs[id][p]; ok {
		return e
	}
	return -1
}

// targetFor is a member's target assignment; a static member taking the place of another
// inherits that one's.
func (cg *consumerGroup) targetFor(memberID, instanceID string) assignment {
	if instanceID != "" {
		if prev, ok := cg.static[instanceID]; ok {
			return cg.target[prev]
		}
		return nil
	}
	return cg.target[memberID]
}

func (cg *consumerGroup) numClassic() int {
	n := 0
	for _, m := range cg.members {
		if m.usesClassic() {
			n++
		}
	}
	return n
}

// allClassicExcept reports whether every member but id uses the classic protocol, and id does not.
func (cg *consumerGroup) allClassicExcept(id string) bool {
	m := cg.members[id]
	return m != nil && !m.usesClassic() && cg.numClassic() == len(cg.members)-1
}

// resolvedRegexes maps each resolved regular expression to its topics.
func (cg *consumerGroup) resolvedRegexes() map[string][]string {
	out := make(map[string][]string, len(cg.regexes))
	for r, v := range cg.regexes {
		out[r] = v.topics
	}
	return out
}

// preferredAssignor is the server assignor most members ask for (ties: the smaller name).
func preferredAssignor(members map[string]*cgMember) string {
	counts := map[string]int{}
	for _, m := range members {
		if m.serverAssignor != "" {
			counts[m.serverAssignor]++
		}
	}
	best := ""
	for name, n := range counts {
		if best == "" || n > counts[best] || n == counts[best] && name < best {
			best = name
		}
	}
	return best
}

// --- replay ---

// updateMember installs a member (Kafka's ConsumerGroup.updateMember).
func (cg *consumerGroup) updateMember(m *cgMember) {
	old := cg.members[m.id]
	cg.members[m.id] = m
	if old != nil {
		cg.removePartitionEpochs(old)
		if old.instanceID != "" && old.instanceID != m.instanceID && cg.static[old.instanceID] == m.id {
			delete(cg.static, old.instanceID)
		}
	}
	cg.addPartitionEpochs(m.assigned, m.epoch)
	cg.addPartitionEpochs(m.pendingRevocation, m.epoch)
	if m.instanceID != "" {
		cg.static[m.instanceID] = m.id
	}
}

func (cg *consumerGroup) removeMember(id string) {
	old := cg.members[id]
	if old == nil {
		return
	}
	delete(cg.members, id)
	cg.removePartitionEpochs(old)
	if old.instanceID != "" && cg.static[old.instanceID] == id {
		delete(cg.static, old.instanceID)
	}
	delete(cg.rebalanceEpoch, id)
}

func (cg *consumerGroup) removePartitionEpochs(m *cgMember) {
	for _, a := range []assignment{m.assigned, m.pendingRevocation} {
		for id, ps := range a {
			held := cg.partitionEpochs[id]
			for _, p := range ps {
				if e, ok := held[p]; ok && e == m.epoch {
					delete(held, p)
				}
			}
			if len(held) == 0 {
				delete(cg.partitionEpochs, id)
			}
		}
	}
}

func (cg *consumerGroup) addPartitionEpochs(a assignment, epoch int32) {
	for id, ps := range a {
		held := cg.partitionEpochs[id]
		if held == nil {
			held = map[int32]int32{}
			cg.partitionEpochs[id] = held
		}
		for _, p := range ps {
			held[p] = epoch
		}
	}
}

// replay applies one record to the group. It returns true when the record deletes the
// group (the ConsumerGroupMetadata tombstone).
func (cg *consumerGroup) replay(k cgRecordKey, value []byte) (deleted bool, err error) {
	switch k.typ {
	case recConsumerGroupMetadata:
		if value == nil {
			return true, nil
		}
		cg.groupEpoch, err = decodeCGEpoch(value)
	case recConsumerGroupPartitionMeta:
		if value == nil {
			cg.subscription = map[string]cgTopicMetadata{}
			return false, nil
		}
		var sub map[string]cgTopicMetadata
		if sub, err = decodeCGPartitionMetadata(value); err == nil {
			cg.subscription = sub
		}
	case recConsumerGroupMemberMetadata:
		if value == nil {
			cg.removeMember(k.member)
			return false, nil
		}
		var v *cgMemberMetadataValue
		if v, err = decodeCGMemberMetadata(value); err != nil {
			break
		}
		m := cg.members[k.member]
		if m == nil {
			m = newCGMember(k.member)
		}
		m = m.with()
		m.instanceID = deref(v.instanceID)
		m.rackID = v.rackID
		m.clientID, m.clientHost = v.clientID, v.clientHost
		m.subscribedNames = normalizeNames(v.subscribedTopicNames)
		m.subscribedRegex = deref(v.subscribedTopicRegex)
		m.rebalanceTimeoutMs = v.rebalanceTimeoutMs
		m.serverAssignor = deref(v.serverAssignor)
		m.classic = v.classic
		cg.updateMember(m)
	case recConsumerGroupTargetMetadata:
		if value == nil {
			cg.assignmentEpoch = -1
			return false, nil
		}
		cg.assignmentEpoch, err = decodeCGEpoch(value)
	case recConsumerGroupTargetMember:
		if value == nil {
			delete(cg.target, k.member)
			return false, nil
		}
		var a assignment
		if a, err = decodeCGTargetMember(value); err == nil {
			cg.target[k.member] = a
		}
	case recConsumerGroupCurrentAssign:
		m := cg.members[k.member]
		if value == nil {
			if m != nil {
				m = m.with()
				m.epoch, m.prevEpoch = leaveGroupMemberEpoch, leaveGroupMemberEpoch
				m.assigned, m.pendingRevocation = assignment{}, assignment{}
				cg.updateMember(m)
			}
			return false, nil
		}
		var v *cgCurrentAssignmentValue
		if v, err = decodeCGCurrentAssignment(value); err != nil {
			break
		}
		if m == nil {
			m = newCGMember(k.member)
		}
		m = m.with()
		m.epoch, m.prevEpoch, m.state = v.memberEpoch, v.previousMemberEpoch, v.state
		if m.state != msStable && m.state != msUnrevokedPartitions && m.state != msUnreleasedPartitions {
			m.state = msUnknown
		}
		m.assigned, m.pendingRevocation = v.assigned, v.pendingRevocation
		cg.updateMember(m)
	case recConsumerGroupRegularExpresion:
		if value == nil {
			delete(cg.regexes, k.member)
			return false, nil
		}
		var v *cgRegexValue
		if v, err = decodeCGRegex(value); err == nil {
			cg.regexes[k.member] = v
		}
	default:
		err = fmt.Errorf("record type %d is not a consumer group record", k.typ)
	}
	if err != nil {
		return false, fmt.Errorf("group %s record type %d: %w", k.group, k.typ, err)
	}
	return false, nil
}

// normalizeNames sorts and removes duplicates.
func normalizeNames(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	w := 0
	for i, n := range out {
		if i > 0 && n == out[i-1] {
			continue
		}
		out[w] = n
		w++
	}
	return out[:w]
}

// isCGRecordType reports whether a record key type belongs to KIP-848 consumer groups.
func isCGRecordType(t int16) bool {
	switch t {
	case recConsumerGroupMetadata, recConsumerGroupPartitionMeta, recConsumerGroupMemberMetadata,
		recConsumerGroupTargetMetadata, recConsumerGroupTargetMember, recConsumerGroupCurrentAssign,
		recConsumerGroupRegularExpresion:
		return true
	}
	return false
}

// cgSnapshot collects the KIP-848 groups of a partition while it loads, replaying their
// records in log order. It also remembers when each group last saw a record of either
// kind, so that a group id with records of both kinds (a conversion between protocols)
// comes back as the kind written last.
type cgSnapshot struct {
	groups     map[string]*consumerGroup
	seq        int64
	cgSeq      map[string]int64
	classicSeq map[string]int64
}

func newCGSnapshot() *cgSnapshot {
	return &cgSnapshot{groups: map[string]*consumerGroup{}, cgSeq: map[string]int64{}, classicSeq: map[string]int64{}}
}

func (s *cgSnapshot) apply(key, value []byte) error {
	k, err := decodeCGKey(key)
	if err != nil {
		return err
	}
	s.cgSeq[k.group] = s.seq
	cg := s.groups[k.group]
	if cg == nil {
		if value == nil {
			return nil // a tombstone for a group that is gone
		}
		cg = newConsumerGroup()
		s.groups[k.group] = cg
	}
	deleted, err := cg.replay(k, value)
	if err != nil {
		return err
	}
	if deleted {
		delete(s.groups, k.group)
	}
	return nil
}

// wins reports whether the consumer group of id was written after its classic group.
func (s *cgSnapshot) wins(id string) bool {
	_, ok := s.groups[id]
	return ok && s.cgSeq[id] > s.classicSeq[id]
}
