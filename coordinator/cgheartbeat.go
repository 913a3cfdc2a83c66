package coordinator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka's GroupMetadataManager.consumerGroupHeartbeat and consumerGroupLeave.

var (
	errFencedMemberEpoch     = kerr.FencedMemberEpoch.Code
	errUnknownMemberID       = kerr.UnknownMemberID.Code
	errGroupIDNotFound       = kerr.GroupIDNotFound.Code
	errInvalidRequest        = kerr.InvalidRequest.Code
	errUnreleasedInstanceID  = kerr.UnreleasedInstanceID.Code
	errFencedInstanceID      = kerr.FencedInstanceID.Code
	errUnsupportedAssignor   = kerr.UnsupportedAssignor.Code
	errGroupMaxSizeReached   = kerr.GroupMaxSizeReached.Code
	errInvalidRegex          = kerr.InvalidRegularExpression.Code
	errStaleMemberEpoch      = kerr.StaleMemberEpoch.Code
	errIllegalGeneration     = kerr.IllegalGeneration.Code
	errUnsupportedVersionErr = kerr.UnsupportedVersion.Code
)

// cgErr is an error answer with Kafka's message.
type cgErr struct {
	code int16
	msg  string
}

func cgErrf(code int16, format string, args ...any) *cgErr {
	return &cgErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// regexRefreshIntervalMs is Kafka's REGEX_BATCH_REFRESH_INTERVAL_MS: a group resolves its
// regular expressions again at most this often.
const regexRefreshIntervalMs = 10_000

// randomConsumerMemberID is a member id as Kafka's Uuid.randomUuid().toString() prints it:
// 16 random bytes in URL-safe base64 without padding.
func randomConsumerMemberID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validateCGHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid (4.0).
func (m *Machine) validateCGHeartbeat(ev *ConsumerGroupHeartbeat) *cgErr {
	blank := func(s *string) bool { return s != nil && strings.TrimSpace(*s) == "" }
	if ev.Version >= 1 || ev.MemberEpoch > 0 || ev.MemberEpoch == leaveGroupMemberEpoch {
		if blank(&ev.MemberID) {
			return cgErrf(errInvalidRequest, "MemberId can't be empty.")
		}
	}
	switch {
	case blank(&ev.Group):
		return cgErrf(errInvalidRequest, "GroupId can't be empty.")
	case blank(ev.InstanceID):
		return cgErrf(errInvalidRequest, "InstanceId can't be empty.")
	case blank(ev.RackID):
		return cgErrf(errInvalidRequest, "RackId can't be empty.")
	}
	switch {
	case ev.MemberEpoch == 0:
		if ev.RebalanceTimeoutMs == -1 {
			return cgErrf(errInvalidRequest, "RebalanceTimeoutMs must be provided in first request.")
		}
		if ev.Topics == nil || len(ev.Topics) > 0 {
			return cgErrf(errInvalidRequest, "TopicPartitions must be empty when (re-)joining.")
		}
		if len(ev.SubscribedTopicNames) == 0 && (ev.SubscribedTopicRegex == nil || *ev.SubscribedTopicRegex == "") {
			return cgErrf(errInvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	case ev.MemberEpoch == leaveGroupStaticMemberEpoch:
		if ev.InstanceID == nil {
			return cgErrf(errInvalidRequest, "InstanceId can't be null.")
		}
	case ev.MemberEpoch < leaveGroupStaticMemberEpoch:
		return cgErrf(errInvalidRequest, "MemberEpoch is invalid.")
	}
	if ev.ServerAssignor != nil && m.assignor(*ev.ServerAssignor) == nil {
		return cgErrf(errUnsupportedAssignor, "ServerAssignor %s is not supported. Supported assignors: %s.",
			*ev.ServerAssignor, strings.Join(m.assignorNames(), ", "))
	}
	return nil
}

// consumerHeartbeat handles a ConsumerGroupHeartbeat.
func (m *Machine) consumerHeartbeat(ev *ConsumerGroupHeartbeat) {
	m.seeImage(ev.Image)
	fail := func(e *cgErr) {
		m.reply(ev.Req, ConsumerGroupHeartbeatResult{Err: e.code, ErrMsg: e.msg})
	}
	if e := m.validateCGHeartbeat(ev); e != nil {
		fail(e)
		return
	}
	if code := m.groupStatus(ev.Group, false); code != 0 {
		fail(&cgErr{code: code})
		return
	}
	if ev.MemberEpoch == leaveGroupMemberEpoch || ev.MemberEpoch == leaveGroupStaticMemberEpoch {
		m.cgLeave(ev)
		return
	}
	tx, res, e := m.cgHeartbeat(ev)
	if e != nil {
		fail(e)
		return
	}
	m.commitCG(tx, func(code int16) {
		if code != 0 {
			m.reply(ev.Req, ConsumerGroupHeartbeatResult{Err: code})
			return
		}
		m.reply(ev.Req, res)
	})
}

// cgTxn is the outcome of a request to a consumer group: the records to write and how the
// group's entry in the machine changes (a new group, an upgraded classic group).
type cgTxn struct {
	g       *group         // the group's entry (nil: a new group, created on commit)
	id      string         // group id
	cg      *consumerGroup // the consumer group the records apply to
	records []Record
	after   func(cg *consumerGroup) // runs once the records are applied (timers)
	// downgrade turns the entry back into a classic group (instead of replaying records).
	downgrade func(g *group)
}

// consumerGroupFor is Kafka's getOrMaybeCreateConsumerGroup: the consumer group of id, a
// new one (replacing an empty classic group, whose metadata gets a tombstone), or a
// classic group converted by an online upgrade.
func (m *Machine) consumerGroupFor(id string, create bool, tx *cgTxn) *cgErr {
	g := m.groups[id]
	tx.g, tx.id = g, id
	switch {
	case g != nil && g.cg != nil:
		tx.cg = g.cg
		return nil
	case g == nil || g.is(Dead):
		if !create {
			return cgErrf(errGroupIDNotFound, "Consumer group %s not found.", id)
		}
		tx.g = nil
		tx.cg = newConsumerGroup()
		return nil
	case create && g.is(Empty):
		// An empty classic group (or one that only holds offsets) gives way.
		if g.protocolType != "" || g.generation > 0 {
			tx.records = append(tx.records, groupTombstone(id))
		}
		tx.cg = newConsumerGroup()
		return nil
	case create && m.validateOnlineUpgrade(g):
		return m.convertToConsumerGroup(g, tx)
	}
	return cgErrf(errGroupIDNotFound, "Group %s is not a consumer group", id)
}

// cgHeartbeat computes the records and the answer of a regular heartbeat (epoch >= 0).
func (m *Machine) cgHeartbeat(ev *ConsumerGroupHeartbeat) (*cgTxn, ConsumerGroupHeartbeatResult, *cgErr) {
	var res ConsumerGroupHeartbeatResult
	tx := &cgTxn{}
	create := ev.MemberEpoch == 0
	if e := m.consumerGroupFor(ev.Group, create, tx); e != nil {
		return nil, res, e
	}
	cg := tx.cg
	memberID := ev.MemberID
	if e := m.throwIfCGFull(cg, memberID); e != nil {
		return nil, res, e
	}
	if memberID == "" {
		memberID = m.cfg.NewConsumerMemberID()
	}
	owned := ownedAssignment(ev.Topics)
	instanceID := deref(ev.InstanceID)

	var member *cgMember
	var e *cgErr
	if instanceID == "" {
		member, e = m.dynamicMember(cg, memberID, ev.MemberEpoch, owned, create, false)
	} else {
		member, e = m.staticMember(tx, memberID, ev.MemberEpoch, instanceID, owned, create, false)
	}
	if e != nil {
		return nil, res, e
	}

	updated := member.with()
	if ev.InstanceID != nil {
		updated.instanceID = *ev.InstanceID
	}
	if ev.RackID != nil {
		updated.rackID = ev.RackID
	}
	if ev.RebalanceTimeoutMs != -1 {
		updated.rebalanceTimeoutMs = ev.RebalanceTimeoutMs
	}
	if ev.ServerAssignor != nil {
		updated.serverAssignor = *ev.ServerAssignor
	}
	if ev.SubscribedTopicNames != nil {
		updated.subscribedNames = normalizeNames(ev.SubscribedTopicNames)
	}
	if ev.SubscribedTopicRegex != nil {
		updated.subscribedRegex = *ev.SubscribedTopicRegex
	}
	updated.clientID, updated.clientHost = ev.ClientID, ev.ClientHost
	updated.classic = nil

	target, targetEpoch, e := m.updateMemberAndTarget(tx, member, updated)
	if e != nil {
		return nil, res, e
	}
	next, e := m.maybeReconcile(tx, updated, targetEpoch, target, owned)
	if e != nil {
		return nil, res, e
	}
	key := TimerKey{Kind: TimerCGSession, Group: ev.Group, Member: next.id}
	prevAfter := tx.after
	tx.after = func(cg *consumerGroup) {
		if prevAfter != nil {
			prevAfter(cg)
		}
		m.arm(key, int64(m.cfg.ConsumerSessionTimeoutMs))
	}

	res = ConsumerGroupHeartbeatResult{MemberID: next.id, MemberEpoch: next.epoch, HeartbeatIntervalMs: m.cfg.ConsumerHeartbeatIntervalMs}
	if r := m.cfg.ReconcilingHeartbeatIntervalMs; r > 0 && r < res.HeartbeatIntervalMs && !next.reconciledTo(targetEpoch) {
		res.HeartbeatIntervalMs = r
	}
	full := ev.MemberEpoch == 0 || ev.RebalanceTimeoutMs != -1 && ev.SubscribedTopicNames != nil && ev.Topics != nil
	if full || !member.assigned.equal(next.assigned) {
		res.HasAssignment = true
		res.Assignment = toTopicIDPartitions(next.assigned)
	}
	return tx, res, nil
}

// updateMemberAndTarget is steps 1 and 2 of Kafka's heartbeat: persist the member's new
// metadata, refresh the regular expressions and the subscription metadata, bump the group
// epoch when the subscriptions changed, and compute a new target assignment when the group
// epoch is ahead of it. It returns the member's target and its epoch.
func (m *Machine) updateMemberAndTarget(tx *cgTxn, member, updated *cgMember) (assignment, int32, *cgErr) {
	cg := tx.cg
	_, exists := cg.members[member.id]
	bump := cg.groupEpoch == 0
	if !exists || !member.sameMetadata(updated) {
		tx.records = append(tx.records, cgMemberMetadataRecord(tx.id, updated.id, updated.metadataValue()))
		if !slices.Equal(member.subscribedNames, updated.subscribedNames) {
			bump = true
		}
	}
	// The members as they will be: the updated member in, a static member it replaces out.
	members := copyMap(cg.members)
	if prev := cg.static[updated.instanceID]; updated.instanceID != "" && prev != "" && prev != updated.id {
		delete(members, prev)
	}
	members[updated.id] = updated
	resolved, regexBump, e := m.maybeUpdateRegexes(tx, members, member, updated)
	if e != nil {
		return nil, 0, e
	}
	bump = bump || regexBump

	groupEpoch := cg.groupEpoch
	subscription := cg.subscription
	if bump || cg.metadataImage < m.image.Version() || cg.groupEpoch < cg.metadataEpoch {
		subscription = m.subscriptionMetadata(members, resolved)
		if !maps.Equal(subscription, cg.subscription) {
			bump = true
			tx.records = append(tx.records, cgPartitionMetadataRecord(tx.id, subscription))
		}
		if bump {
			groupEpoch++
			tx.records = append(tx.records, cgEpochRecord(tx.id, groupEpoch))
			m.logger.Info().Str("group", tx.id).Int32("epoch", groupEpoch).Msg("bumped consumer group epoch")
		}
		cg.metadataImage, cg.metadataEpoch = m.image.Version(), groupEpoch
	}
	if groupEpoch > cg.assignmentEpoch {
		return m.updateTarget(tx, members, subscription, resolved, groupEpoch, updated), groupEpoch, nil
	}
	return cg.targetFor(updated.id, updated.instanceID), cg.assignmentEpoch, nil
}

// updateTarget runs the assignor over members and writes the target assignment records of
// the members whose target changed, then the new assignment epoch.
func (m *Machine) updateTarget(tx *cgTxn, members map[string]*cgMember, subscription map[string]cgTopicMetadata, resolved map[string][]string, epoch int32, updated *cgMember) assignment {
	cg := tx.cg
	spec := m.groupSpec(cg, members, subscription, resolved, updated)
	name := preferredAssignor(members)
	a := m.assignor(name)
	if a == nil {
		a = assignorByName(m.cfg.ConsumerAssignors[0])
	}
	out := a.assign(spec)
	for _, ms := range spec.members {
		next := out[ms.id]
		if next == nil {
			next = assignment{}
		}
		if old, ok := cg.target[ms.id]; !ok || !old.equal(next) {
			tx.records = append(tx.records, cgTargetMemberRecord(tx.id, ms.id, next))
		}
	}
	tx.records = append(tx.records, cgTargetMetadataRecord(tx.id, epoch))
	m.logger.Info().Str("group", tx.id).Int32("epoch", epoch).Str("assignor", a.name()).Int("members", len(members)).
		Msg("computed a new target assignment")
	if t := out[updated.id]; t != nil {
		return t
	}
	return assignment{}
}

// groupSpec is the assignor's view of members.
func (m *Machine) groupSpec(cg *consumerGroup, members map[string]*cgMember, subscription map[string]cgTopicMetadata, resolved map[string][]string, updated *cgMember) *groupSpec {
	spec := &groupSpec{partitions: map[[16]byte]int32{}}
	for _, t := range subscription {
		spec.partitions[t.id] = t.partitions
	}
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	regexes := map[string]int{}
	names := map[string]int{}
	for _, id := range ids {
		mem := members[id]
		ms := &memberSpec{id: id, instanceID: mem.instanceID, topics: map[[16]byte]bool{}}
		for _, n := range memberTopics(mem, resolved) {
			if t, ok := m.image.topic(n); ok {
				ms.topics[t.ID] = true
			}
		}
		ms.current = cg.target[id]
		if mem == updated && mem.instanceID != "" {
			if prev := cg.static[mem.instanceID]; prev != "" && prev != id {
				ms.current = cg.target[prev] // a static member takes the place of its predecessor
			}
		}
		if ms.current == nil {
			ms.current = assignment{}
		}
		spec.members = append(spec.members, ms)
		if mem.subscribedRegex != "" {
			regexes[mem.subscribedRegex]++
		}
		for _, n := range mem.subscribedNames {
			names[n]++
		}
	}
	spec.homogeneous = subscriptionHomogeneous(regexes, names, len(members))
	return spec
}

// subscriptionHomogeneous is Kafka's ConsumerGroup.subscriptionType.
func subscriptionHomogeneous(regexes, names map[string]int, members int) bool {
	if len(regexes) == 0 {
		for _, n := range names {
			if n != members {
				return false
			}
		}
		return true
	}
	if len(regexes) == 1 && len(names) == 0 {
		for _, n := range regexes {
			return n == members
		}
	}
	return false
}

// memberTopics is every topic a member subscribes to: its names and what its regular
// expression resolved to.
func memberTopics(mem *cgMember, resolved map[string][]string) []string {
	if mem.subscribedRegex == "" {
		return mem.subscribedNames
	}
	return append(append([]string(nil), mem.subscribedNames...), resolved[mem.subscribedRegex]...)
}

// subscriptionMetadata is Kafka's computeSubscriptionMetadata: the existing topics the
// members subscribe to, with their ids and partition counts.
func (m *Machine) subscriptionMetadata(members map[string]*cgMember, resolved map[string][]string) map[string]cgTopicMetadata {
	out := map[string]cgTopicMetadata{}
	for _, mem := range members {
		for _, n := range memberTopics(mem, resolved) {
			if _, done := out[n]; done {
				continue
			}
			if t, ok := m.image.topic(n); ok {
				out[n] = cgTopicMetadata{id: t.ID, name: t.Name, partitions: t.Partitions}
			}
		}
	}
	return out
}

// maybeUpdateRegexes is Kafka's maybeUpdateRegularExpressions with the resolution done at
// once (Kafka resolves in the background and bumps the epoch when the result comes back;
// the image is in memory here, so the result is the same one step sooner). A new regular
// expression is checked (INVALID_REGULAR_EXPRESSION); the group's expressions are resolved
// again when one is unresolved or the topics changed since, at most every 10 s. It returns
// the resolutions to use and whether they changed.
func (m *Machine) maybeUpdateRegexes(tx *cgTxn, members map[string]*cgMember, member, updated *cgMember) (map[string][]string, bool, *cgErr) {
	cg := tx.cg
	resolved := cg.resolvedRegexes()
	subscribers := map[string]int{}
	for _, mem := range cg.members {
		if mem.subscribedRegex != "" {
			subscribers[mem.subscribedRegex]++
		}
	}
	oldRegex, newRegex := member.subscribedRegex, updated.subscribedRegex
	bump, refresh := false, false
	if oldRegex != newRegex {
		if oldRegex != "" && subscribers[oldRegex] == 1 && cg.members[member.id] != nil {
			tx.records = append(tx.records, cgRegexTombstone(tx.id, oldRegex))
			delete(resolved, oldRegex)
		}
		if newRegex != "" {
			if subscribers[newRegex] == 0 {
				if _, err := compileTopicRegex(newRegex); err != nil {
					return nil, false, cgErrf(errInvalidRegex, "SubscribedTopicRegex `%s` is not a valid regular expression: %s.", newRegex, err)
				}
				refresh = true
			} else if _, ok := cg.regexes[newRegex]; ok {
				bump = true
			}
		}
	}
	wanted := map[string]bool{}
	for _, mem := range members {
		if mem.subscribedRegex != "" {
			wanted[mem.subscribedRegex] = true
		}
	}
	if len(wanted) == 0 {
		return resolved, bump, nil
	}
	last := int64(-1 << 62)
	oldest := int64(1<<62 - 1)
	resolvedCount := 0
	for r, v := range cg.regexes {
		if wanted[r] {
			resolvedCount++
			last = max(last, v.timestamp)
			oldest = min(oldest, v.version)
		}
	}
	if m.now <= last+regexRefreshIntervalMs {
		return resolved, bump, nil
	}
	refresh = refresh || resolvedCount != len(wanted) || oldest < m.image.Version()
	if !refresh {
		return resolved, bump, nil
	}
	regexes := make([]string, 0, len(wanted))
	for r := range wanted {
		regexes = append(regexes, r)
	}
	sort.Strings(regexes)
	for _, r := range regexes {
		re, err := compileTopicRegex(r)
		if err != nil {
			continue // an expression already in the group was checked when it came
		}
		var topics []string
		for _, n := range m.image.topicNames() {
			if re.MatchString(n) {
				topics = append(topics, n)
			}
		}
		prev, had := cg.regexes[r]
		if !had || !slices.Equal(prev.topics, topics) {
			bump = true
			m.logger.Info().Str("group", tx.id).Str("regex", r).Strs("topics", topics).Msg("resolved subscribed regular expression")
		}
		tx.records = append(tx.records, cgRegexRecord(tx.id, r, &cgRegexValue{topics: topics, version: m.image.Version(), timestamp: m.now}))
		resolved[r] = topics
	}
	return resolved, bump, nil
}

// compileTopicRegex compiles a subscription pattern as RE2J does for Kafka: the whole topic
// name must match.
func compileTopicRegex(r string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + r + ")$")
}

// maybeReconcile is Kafka's maybeReconcile: the member moves towards its target; a change
// is persisted, and a member left revoking gets a rebalance timeout.
func (m *Machine) maybeReconcile(tx *cgTxn, updated *cgMember, targetEpoch int32, target assignment, owned assignment) (*cgMember, *cgErr) {
	if updated.reconciledTo(targetEpoch) {
		return updated, nil
	}
	if target == nil {
		target = assignment{}
	}
	next, e := reconcile(updated, targetEpoch, target, tx.cg.currentPartitionEpoch, owned)
	if e != nil {
		return nil, e
	}
	if sameAssignmentState(next, updated) {
		return updated, nil
	}
	tx.records = append(tx.records, cgCurrentAssignmentRecord(tx.id, next.id, next.currentValue()))
	m.logger.Debug().Str("group", tx.id).Str("member", next.id).Int32("epoch", next.epoch).Int32("previous_epoch", next.prevEpoch).
		Str("state", memberStateName(next.state)).Int("assigned", next.assigned.count()).Int("revoking", next.pendingRevocation.count()).
		Msg("member assignment changed")
	if !next.usesClassic() {
		key := TimerKey{Kind: TimerCGRebalance, Group: tx.id, Member: next.id}
		prevAfter := tx.after
		tx.after = func(cg *consumerGroup) {
			if prevAfter != nil {
				prevAfter(cg)
			}
			if next.state == msUnrevokedPartitions {
				cg.rebalanceEpoch[next.id] = next.epoch
				m.arm(key, int64(next.rebalanceTimeoutMs))
			} else {
				delete(cg.rebalanceEpoch, next.id)
				m.cancel(key)
			}
		}
	}
	return next, nil
}

// dynamicMember is Kafka's getOrMaybeSubscribeDynamicConsumerGroupMember.
func (m *Machine) dynamicMember(cg *consumerGroup, id string, epoch int32, owned assignment, create, classic bool) (*cgMember, *cgErr) {
	mem := cg.members[id]
	if mem == nil {
		if !create {
			return nil, cgErrf(errUnknownMemberID, "Member %s is not a member of group.", id)
		}
		mem = newCGMember(id)
	}
	if !classic {
		if e := checkMemberEpoch(mem, epoch, owned); e != nil {
			return nil, e
		}
	}
	return mem, nil
}

// staticMember is Kafka's getOrMaybeSubscribeStaticConsumerGroupMember: a static member that
// (re)joins takes over its instance id's membership, which must have been released (epoch
// -2) when both use the consumer protocol.
func (m *Machine) staticMember(tx *cgTxn, id string, epoch int32, instanceID string, owned assignment, create, classic bool) (*cgMember, *cgErr) {
	cg := tx.cg
	existing := cg.staticMember(instanceID)
	if !create {
		switch {
		case existing == nil:
			return nil, cgErrf(errUnknownMemberID, "Instance id %s is unknown.", instanceID)
		case existing.id != id:
			m.logger.Info().Str("group", tx.id).Str("member", id).Str("instance", instanceID).Str("by", existing.id).Msg("static member fenced by a newer one")
			return nil, cgErrf(errFencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", id, instanceID, existing.id)
		}
		if !classic {
			if e := checkMemberEpoch(existing, epoch, owned); e != nil {
				return nil, e
			}
		}
		return existing, nil
	}
	if existing == nil {
		mem := cg.members[id]
		if mem == nil {
			mem = newCGMember(id)
		}
		return mem, nil
	}
	if !classic && !existing.usesClassic() && existing.epoch != leaveGroupStaticMemberEpoch {
		return nil, cgErrf(errUnreleasedInstanceID, "Static member %s with instance id %s cannot join the group because the instance id is owned by %s member.", id, instanceID, existing.id)
	}
	mem := existing.with()
	mem.id = id
	mem.epoch, mem.prevEpoch = 0, 0
	m.replaceMember(tx, existing, mem)
	m.logger.Info().Str("group", tx.id).Str("instance", instanceID).Str("member", id).Str("replaces", existing.id).Msg("static member rejoined the consumer group")
	return mem, nil
}

// replaceMember writes the records that move a static membership to a new member id.
func (m *Machine) replaceMember(tx *cgTxn, old, mem *cgMember) {
	tx.records = append(tx.records, memberTombstones(tx.id, old.id)...)
	tx.records = append(tx.records,
		cgMemberMetadataRecord(tx.id, mem.id, mem.metadataValue()),
		cgTargetMemberRecord(tx.id, mem.id, orEmpty(tx.cg.target[old.id])),
		cgCurrentAssignmentRecord(tx.id, mem.id, mem.currentValue()))
}

func orEmpty(a assignment) assignment {
	if a == nil {
		return assignment{}
	}
	return a
}

// memberTombstones removes a member; the order matters for replay.
func memberTombstones(group, member string) []Record {
	return []Record{cgCurrentAssignmentTombstone(group, member), cgTargetMemberTombstone(group, member), cgMemberMetadataTombstone(group, member)}
}

// checkMemberEpoch is Kafka's throwIfConsumerGroupMemberEpochIsInvalid: an epoch ahead of
// the member's, or behind it other than the previous epoch with partitions the member
// still has (the answer with the new epoch was lost), is fenced.
func checkMemberEpoch(mem *cgMember, epoch int32, owned assignment) *cgErr {
	switch {
	case epoch > mem.epoch:
		return cgErrf(errFencedMemberEpoch, "The consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", epoch, mem.epoch)
	case epoch < mem.epoch:
		if epoch != mem.prevEpoch || !isSubset(owned, mem.assigned) {
			return cgErrf(errFencedMemberEpoch, "The consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", epoch, mem.epoch)
		}
	}
	return nil
}

func isSubset(owned, target assignment) bool {
	if owned == nil {
		return false
	}
	for id, ps := range owned {
		if _, ok := target[id]; !ok {
			return false
		}
		for _, p := range ps {
			if !target.has(id, p) {
				return false
			}
		}
	}
	return true
}

func (m *Machine) throwIfCGFull(cg *consumerGroup, memberID string) *cgErr {
	if len(cg.members) >= m.cfg.ConsumerMaxSize && (memberID == "" || cg.members[memberID] == nil) {
		return cgErrf(errGroupMaxSizeReached, "The consumer group has reached its maximum capacity of %d members.", m.cfg.ConsumerMaxSize)
	}
	return nil
}

// ownedAssignment turns the request's owned partitions into an assignment (nil stays nil).
func ownedAssignment(topics []TopicIDPartitions) assignment {
	if topics == nil {
		return nil
	}
	a := assignment{}
	for _, t := range topics {
		a[t.ID] = normalizePartitions(append(a[t.ID], t.Partitions...))
	}
	return a
}

func toTopicIDPartitions(a assignment) []TopicIDPartitions {
	out := make([]TopicIDPartitions, 0, len(a))
	for _, id := range a.topicIDs() {
		out = append(out, TopicIDPartitions{ID: id, Partitions: append([]int32(nil), a[id]...)})
	}
	return out
}

// --- leaving and fencing ---

// cgLeave is Kafka's consumerGroupLeave: epoch -1 leaves for good, -2 is a static member
// leaving for a while (it keeps its assignment until its session times out or it returns).
func (m *Machine) cgLeave(ev *ConsumerGroupHeartbeat) {
	fail := func(e *cgErr) { m.reply(ev.Req, ConsumerGroupHeartbeatResult{Err: e.code, ErrMsg: e.msg}) }
	g := m.groups[ev.Group]
	if g == nil || g.cg == nil {
		if g == nil || g.is(Dead) {
			fail(cgErrf(errGroupIDNotFound, "Group %s not found.", ev.Group))
		} else {
			fail(cgErrf(errGroupIDNotFound, "Group %s is not a consumer group", ev.Group))
		}
		return
	}
	cg := g.cg
	res := ConsumerGroupHeartbeatResult{MemberID: ev.MemberID, MemberEpoch: ev.MemberEpoch}
	var mem *cgMember
	if ev.InstanceID == nil {
		if mem = cg.members[ev.MemberID]; mem == nil {
			fail(cgErrf(errUnknownMemberID, "Member %s is not a member of group %s.", ev.MemberID, ev.Group))
			return
		}
		m.logger.Info().Str("group", ev.Group).Str("member", mem.id).Msg("member left the consumer group")
	} else {
		if mem = cg.staticMember(*ev.InstanceID); mem == nil {
			fail(cgErrf(errUnknownMemberID, "Instance id %s is unknown.", *ev.InstanceID))
			return
		}
		if mem.id != ev.MemberID {
			fail(cgErrf(errFencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", ev.MemberID, *ev.InstanceID, mem.id))
			return
		}
		if ev.MemberEpoch == leaveGroupStaticMemberEpoch {
			m.logger.Info().Str("group", ev.Group).Str("member", mem.id).Str("instance", mem.instanceID).Msg("static member temporarily left the consumer group")
			leaving := mem.with()
			leaving.epoch = leaveGroupStaticMemberEpoch
			leaving.pendingRevocation = assignment{}
			tx := &cgTxn{g: g, id: ev.Group, cg: cg, records: []Record{cgCurrentAssignmentRecord(ev.Group, mem.id, leaving.currentValue())}}
			m.commitCG(tx, func(code int16) {
				if code != 0 {
					m.reply(ev.Req, ConsumerGroupHeartbeatResult{Err: code})
					return
				}
				m.reply(ev.Req, ConsumerGroupHeartbeatResult{MemberID: mem.id, MemberEpoch: leaveGroupStaticMemberEpoch})
			})
			return
		}
		m.logger.Info().Str("group", ev.Group).Str("member", mem.id).Str("instance", mem.instanceID).Msg("static member left the consumer group")
	}
	tx := m.fenceMember(g, mem)
	m.commitCG(tx, func(code int16) {
		if code != 0 {
			res = ConsumerGroupHeartbeatResult{Err: code}
		}
		m.reply(ev.Req, res)
	})
}

// fenceMember is Kafka's consumerGroupFenceMember: the member's records get tombstones, the
// subscription metadata is computed without it and the group epoch is bumped (or, when the
// remaining members all use the classic protocol, the group goes back to being a classic
// group).
func (m *Machine) fenceMember(g *group, mem *cgMember) *cgTxn {
	cg := g.cg
	tx := &cgTxn{g: g, id: g.id, cg: cg}
	if m.validateOnlineDowngrade(cg, mem.id) {
		m.convertToClassicGroup(tx, mem.id, nil)
		return tx
	}
	tx.records = append(tx.records, memberTombstones(g.id, mem.id)...)
	members := copyMap(cg.members)
	delete(members, mem.id)
	m.membersLeft(tx, members)
	m.cancelCGTimers(g.id, mem.id)
	return tx
}

// membersLeft writes what follows members leaving (members are those that stay): the
// tombstones of regular expressions nobody subscribes to any more, the subscription
// metadata without them, and a new group epoch.
func (m *Machine) membersLeft(tx *cgTxn, members map[string]*cgMember) {
	cg := tx.cg
	resolved := cg.resolvedRegexes()
	for _, r := range sortedKeys(cg.regexes) {
		still := false
		for _, o := range members {
			still = still || o.subscribedRegex == r
		}
		if !still {
			tx.records = append(tx.records, cgRegexTombstone(tx.id, r))
			delete(resolved, r)
		}
	}
	if sub := m.subscriptionMetadata(members, resolved); !maps.Equal(sub, cg.subscription) {
		tx.records = append(tx.records, cgPartitionMetadataRecord(tx.id, sub))
	}
	tx.records = append(tx.records, cgEpochRecord(tx.id, cg.groupEpoch+1))
}

// fenceMemberByTimer fences a member whose session or rebalance timeout expired.
func (m *Machine) fenceMemberByTimer(g *group, memberID, reason string) {
	if g.cg == nil {
		return
	}
	mem := g.cg.members[memberID]
	if mem == nil {
		return
	}
	m.logger.Info().Str("group", g.id).Str("member", memberID).Str("reason", reason).Msg("member fenced from the consumer group")
	tx := m.fenceMember(g, mem)
	m.commitCG(tx, func(code int16) {
		if code != 0 {
			m.logger.Warn().Str("group", g.id).Str("member", memberID).Int16("error", code).Msg("failed to write the fencing of a member")
		}
	})
}

func (m *Machine) cancelCGTimers(group, member string) {
	for _, k := range []TimerKind{TimerCGSession, TimerCGRebalance, TimerCGJoin, TimerCGSync} {
		m.cancel(TimerKey{Kind: k, Group: group, Member: member})
	}
}

// cgTimerFired handles the timers of consumer groups.
func (m *Machine) cgTimerFired(g *group, key TimerKey) {
	if g.cg == nil {
		return
	}
	switch key.Kind {
	case TimerCGSession:
		m.fenceMemberByTimer(g, key.Member, "the member session expired")
	case TimerCGRebalance:
		mem := g.cg.members[key.Member]
		if mem == nil {
			return
		}
		epoch, ok := g.cg.rebalanceEpoch[key.Member]
		delete(g.cg.rebalanceEpoch, key.Member)
		if ok && mem.epoch == epoch {
			m.fenceMemberByTimer(g, key.Member, fmt.Sprintf("it failed to revoke its partitions and move on from epoch %d within %d ms", epoch, mem.rebalanceTimeoutMs))
		}
	case TimerCGJoin:
		m.fenceMemberByTimer(g, key.Member, "the classic member failed to join within the rebalance timeout")
	case TimerCGSync:
		m.fenceMemberByTimer(g, key.Member, "the member failed to sync within the rebalance timeout")
	}
}

// --- applying ---

// seeImage keeps the newest topics image the machine has been given.
func (m *Machine) seeImage(im *TopicsImage) {
	if im != nil && im.Version() > m.image.Version() {
		m.image = im
	}
}

// commitCG applies a transaction's records to its group, installs the group's entry when
// it is new, appends the records and calls done with the outcome. The group is restored as
// it was when the append fails (no other event runs in between: the driver appends in
// line, before it takes the next event).
func (m *Machine) commitCG(tx *cgTxn, done func(code int16)) {
	if tx == nil {
		done(0)
		return
	}
	g := tx.g
	if g == nil {
		g = m.groups[tx.id]
	}
	if len(tx.records) == 0 && tx.downgrade == nil {
		if tx.after != nil && g != nil && g.cg != nil {
			tx.after(g.cg)
		}
		done(0)
		return
	}
	var restore func()
	if g == nil {
		g = newGroup(tx.id, m.partitionFor(tx.id), m.now)
		m.groups[tx.id] = g
		restore = func() {
			if m.groups[tx.id] == g {
				delete(m.groups, tx.id)
			}
		}
	} else {
		saved := *g
		var savedCG *consumerGroup
		if g.cg != nil {
			savedCG = g.cg.clone()
		}
		restore = func() {
			offsets, pending := g.offsets, g.pendingCommits
			*g = saved
			g.cg = savedCG
			g.offsets, g.pendingCommits = offsets, pending
			m.groups[tx.id] = g
		}
	}
	if tx.downgrade != nil {
		tx.downgrade(g)
	} else {
		if g.cg == nil {
			// A new consumer group, or one taking the place of a classic group: it is built
			// from the records alone.
			m.leaveClassic(g)
			g.cg = newConsumerGroup()
		}
		m.replayCG(g, tx.records)
		if tx.after != nil && g.cg != nil {
			tx.after(g.cg)
		}
	}
	m.appendRecords(g.partition, tx.records, func(code int16) {
		if code != 0 {
			m.logger.Warn().Str("group", tx.id).Int16("error", code).Msg("consumer group records were not written; state restored")
			restore()
		}
		done(code)
	})
}

// replayCG applies records to a group's consumer group state; classic group metadata
// tombstones among them are for the classic group this one replaced and need nothing here.
func (m *Machine) replayCG(g *group, records []Record) {
	for _, r := range records {
		if len(r.Key) < 2 {
			continue
		}
		k, err := decodeCGKey(r.Key)
		if err != nil || !isCGRecordType(k.typ) {
			continue
		}
		if g.cg == nil {
			g.cg = newConsumerGroup()
		}
		deleted, err := g.cg.replay(k, r.Value)
		if err != nil {
			m.logger.Error().Err(err).Str("group", g.id).Msg("bug: replaying a consumer group record the coordinator wrote")
		}
		if deleted {
			g.cg = nil
		}
	}
}
