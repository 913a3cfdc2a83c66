package coordinator

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Describing, listing, deleting and committing offsets for KIP-848 consumer groups.

// consumerDescribe is Kafka's consumerGroupDescribe: consumer groups are described; an
// unknown group, or one that is not a consumer group, is GROUP_ID_NOT_FOUND.
func (m *Machine) consumerDescribe(ev *ConsumerGroupDescribe) {
	m.seeImage(ev.Image)
	res := ConsumerGroupDescribeResult{Groups: make([]CGDescription, 0, len(ev.Groups))}
	for _, id := range ev.Groups {
		d := CGDescription{Group: id}
		if code := m.groupStatus(id, true); code != 0 {
			d.Err = code
			res.Groups = append(res.Groups, d)
			continue
		}
		g := m.groups[id]
		switch {
		case g == nil || g.is(Dead) && g.cg == nil:
			d.Err, d.ErrMsg = errGroupIDNotFound, "Group "+id+" not found."
		case g.cg == nil:
			d.Err, d.ErrMsg = errGroupIDNotFound, "Group "+id+" is not a consumer group."
		default:
			d = m.describeCG(g)
		}
		res.Groups = append(res.Groups, d)
	}
	m.reply(ev.Req, res)
}

func (m *Machine) describeCG(g *group) CGDescription {
	cg := g.cg
	d := CGDescription{
		Group:           g.id,
		State:           cg.state().String(),
		Epoch:           cg.groupEpoch,
		AssignmentEpoch: cg.assignmentEpoch,
		Assignor:        preferredAssignor(cg.members),
	}
	if d.Assignor == "" {
		if a := assignorByName(m.cfg.ConsumerAssignors[0]); a != nil {
			d.Assignor = a.name()
		}
	}
	for _, id := range cg.memberIDs() {
		mem := cg.members[id]
		d.Members = append(d.Members, CGMemberDescription{
			MemberID:         mem.id,
			InstanceID:       mem.instanceID,
			RackID:           mem.rackID,
			MemberEpoch:      mem.epoch,
			ClientID:         mem.clientID,
			ClientHost:       mem.clientHost,
			SubscribedTopics: mem.subscribedNames,
			SubscribedRegex:  mem.subscribedRegex,
			Assignment:       m.namedPartitions(mem.assigned),
			TargetAssignment: m.namedPartitions(cg.target[id]),
			Classic:          mem.usesClassic(),
		})
	}
	return d
}

// namedPartitions lists an assignment with topic names (topics the image no longer has
// are left out, as Kafka does).
func (m *Machine) namedPartitions(a assignment) []CGTopicPartitions {
	out := []CGTopicPartitions{}
	for _, id := range a.topicIDs() {
		name, ok := m.image.nameOf(id)
		if !ok {
			continue
		}
		out = append(out, CGTopicPartitions{ID: id, Name: name, Partitions: append([]int32(nil), a[id]...)})
	}
	return out
}

// groupType is the group's type for ListGroups v5: "consumer" or "classic".
func (g *group) groupType() string {
	if g.cg != nil {
		return "consumer"
	}
	return "classic"
}

// listState is the state ListGroups shows.
func (g *group) listState() string {
	if g.cg != nil {
		return g.cg.state().String()
	}
	return g.state.String()
}

// listProtocolType is the protocol type ListGroups shows ("consumer" for KIP-848 groups).
func (g *group) listProtocolType() string {
	if g.cg != nil {
		return "consumer"
	}
	return g.protocolType
}

// cgValidateCommit is ConsumerGroup.validateOffsetCommit: an empty group takes commits
// from anyone (admin tools, simple consumers); otherwise the member must exist and send its
// current epoch (STALE_MEMBER_EPOCH, or ILLEGAL_GENERATION for classic members); members of
// the consumer protocol must use OffsetCommit v9+.
// Transactional commits (txn) skip the version check.
func (cg *consumerGroup) validateCommit(memberID string, epoch int32, version int16, txn bool) int16 {
	if epoch < 0 && len(cg.members) == 0 {
		return 0
	}
	mem := cg.members[memberID]
	if mem == nil {
		return errUnknownMemberID
	}
	if !txn && !mem.usesClassic() && version < 9 {
		return errUnsupportedVersionErr
	}
	return cg.validateEpoch(mem, epoch)
}

func (cg *consumerGroup) validateEpoch(mem *cgMember, epoch int32) int16 {
	if epoch == mem.epoch {
		return 0
	}
	if mem.usesClassic() {
		return errIllegalGeneration
	}
	return errStaleMemberEpoch
}

// validateFetch is ConsumerGroup.validateOffsetFetch (OffsetFetch v9 member id and epoch).
func (cg *consumerGroup) validateFetch(memberID *string, epoch int32) int16 {
	if memberID == nil && epoch < 0 {
		return 0
	}
	mem := cg.members[deref(memberID)]
	if mem == nil {
		return errUnknownMemberID
	}
	return cg.validateEpoch(mem, epoch)
}

// cgDeleteRecords are the tombstones that delete an empty consumer group (Kafka's
// ConsumerGroup.createGroupTombstoneRecords, with its regular expressions).
func cgDeleteRecords(id string, cg *consumerGroup) []Record {
	var records []Record
	ids := cg.memberIDs()
	for _, mid := range ids {
		records = append(records, cgCurrentAssignmentTombstone(id, mid))
	}
	for _, mid := range ids {
		records = append(records, cgTargetMemberTombstone(id, mid))
	}
	records = append(records, cgTargetMetadataTombstone(id))
	for _, mid := range ids {
		records = append(records, cgMemberMetadataTombstone(id, mid))
	}
	regexes := make([]string, 0, len(cg.regexes))
	for r := range cg.regexes {
		regexes = append(regexes, r)
	}
	sort.Strings(regexes)
	for _, r := range regexes {
		records = append(records, cgRegexTombstone(id, r))
	}
	records = append(records, cgPartitionMetadataTombstone(id), cgEpochTombstone(id))
	return records
}

// subscribedTo reports whether a consumer group's members subscribe to topic (OffsetDelete
// refuses those: GROUP_SUBSCRIBED_TO_TOPIC).
func (cg *consumerGroup) subscribedTo(topic string) bool {
	_, ok := cg.subscription[topic]
	if ok {
		return true
	}
	resolved := cg.resolvedRegexes()
	for _, mem := range cg.members {
		if slices.Contains(memberTopics(mem, resolved), topic) {
			return true
		}
	}
	return false
}

var errNonEmptyGroup = kerr.NonEmptyGroup.Code

// loadedCG starts the timers of a consumer group read from the log (Kafka's onLoaded):
// every member gets a fresh session, members revoking partitions their rebalance timeout.
func (m *Machine) loadedCG(g *group) {
	for _, id := range g.cg.memberIDs() {
		mem := g.cg.members[id]
		m.arm(TimerKey{Kind: TimerCGSession, Group: g.id, Member: id}, int64(m.cfg.ConsumerSessionTimeoutMs))
		if mem.state == msUnrevokedPartitions && !mem.usesClassic() {
			g.cg.rebalanceEpoch[id] = mem.epoch
			m.arm(TimerKey{Kind: TimerCGRebalance, Group: g.id, Member: id}, int64(mem.rebalanceTimeoutMs))
		}
	}
	m.logger.Info().Str("group", g.id).Int32("epoch", g.cg.groupEpoch).Int("members", len(g.cg.members)).Msg("loaded consumer group")
}

// cancelAllCGTimers stops the timers of every member of a consumer group.
func (m *Machine) cancelAllCGTimers(g *group) {
	if g.cg == nil {
		return
	}
	for id := range g.cg.members {
		m.cancelCGTimers(g.id, id)
	}
}
