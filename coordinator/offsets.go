package coordinator

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// commit is Kafka's handleCommitOffsets.
func (m *Machine) commit(ev *CommitOffsets) {
	fail := func(code int16) {
		errs := make([]int16, len(ev.Offsets))
		for i := range errs {
			errs[i] = code
		}
		m.reply(ev.Req, CommitResult{Errs: errs})
	}
	if code := m.groupStatus(ev.Group, true); code != 0 {
		fail(code)
		return
	}
	g := m.groups[ev.Group]
	if g == nil {
		if ev.Generation >= 0 {
			// A commit from an older generation of a group that no longer exists.
			fail(kerr.IllegalGeneration.Code)
			return
		}
		// Not using group management (simple consumers, admin tools): allow it.
		g = newGroup(ev.Group, m.partitionFor(ev.Group), m.now)
		m.groups[ev.Group] = g
	}
	if g.cg != nil {
		// A KIP-848 group: member epochs instead of generations.
		if code := g.cg.validateCommit(ev.MemberID, ev.Generation, ev.Version, false); code != 0 {
			fail(code)
			return
		}
		m.storeOffsets(g, ev)
		return
	}
	if code := g.validateCommit(ev); code != 0 {
		fail(code)
		return
	}
	switch g.state {
	case Empty:
		m.storeOffsets(g, ev)
	case Stable, PreparingRebalance:
		// Commits are allowed while preparing: the heartbeat tells the member to rejoin.
		mem := g.members[ev.MemberID]
		m.scheduleHeartbeat(g, mem, int64(mem.sessionTimeoutMs))
		m.storeOffsets(g, ev)
	case CompletingRebalance:
		// The member knows the new generation but has no assignment yet.
		fail(kerr.RebalanceInProgress.Code)
	}
}

// validateCommit is Kafka's validateOffsetCommit for non-transactional commits.
func (g *group) validateCommit(ev *CommitOffsets) int16 {
	switch {
	case g.is(Dead):
		return kerr.CoordinatorNotAvailable.Code
	case ev.Generation >= 0 || ev.MemberID != "" || ev.InstanceID != "":
		if code := g.validateMember(ev.MemberID, ev.InstanceID); code != 0 {
			return code
		}
		if ev.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	case !g.is(Empty):
		// Only members may commit for a group with members.
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// storeOffsets appends the offsets and answers once they are in the log; only then do they
// become visible to OffsetFetch.
func (m *Machine) storeOffsets(g *group, ev *CommitOffsets) {
	errs := make([]int16, len(ev.Offsets))
	var records []Record
	var idx []int
	for i, o := range ev.Offsets {
		if len(o.Metadata) > m.cfg.OffsetMetadataMaxBytes {
			errs[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		tp := topicPartition{o.Topic, o.Partition}
		records = append(records, offsetRecord(g.id, tp, offsetEntry{
			offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTs: o.CommitTs, expireTs: o.ExpireTs,
		}))
		idx = append(idx, i)
		g.pendingCommits[tp]++
	}
	if len(records) == 0 {
		m.reply(ev.Req, CommitResult{Errs: errs})
		return
	}
	m.appendRecords(g.partition, records, func(code int16) {
		current := m.groups[g.id] == g && !g.is(Dead)
		order := m.nextOrder()
		for _, i := range idx {
			o := ev.Offsets[i]
			tp := topicPartition{o.Topic, o.Partition}
			if g.pendingCommits[tp]--; g.pendingCommits[tp] <= 0 {
				delete(g.pendingCommits, tp)
			}
			errs[i] = code
			if code == 0 && current {
				g.offsets[tp] = offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTs: o.CommitTs, expireTs: o.ExpireTs, order: order}
			}
		}
		m.reply(ev.Req, CommitResult{Errs: errs})
	})
}

// fetchOffsets is Kafka's handleFetchOffsets.
func (m *Machine) fetchOffsets(ev *FetchOffsets) {
	if code := m.groupStatus(ev.Group, true); code != 0 {
		m.reply(ev.Req, FetchResult{Err: code})
		return
	}
	g := m.groups[ev.Group]
	if g != nil && g.is(Dead) {
		g = nil
	}
	if g != nil && g.cg != nil {
		if code := g.cg.validateFetch(ev.MemberID, ev.MemberEpoch); code != 0 {
			m.reply(ev.Req, FetchResult{Err: code})
			return
		}
	}
	var res FetchResult
	// With require_stable (OffsetFetch v7+, KIP-447), a partition with a commit in flight or
	// a transactional commit awaiting its marker is UNSTABLE_OFFSET_COMMIT: the consumer
	// asks again.
	unstable := func(fo *FetchedOffset) {
		tp := topicPartition{fo.Topic, fo.Partition}
		if ev.RequireStable && g != nil && (g.pendingCommits[tp] > 0 || g.hasPendingTxn(tp)) {
			fo.Offset, fo.LeaderEpoch, fo.Metadata, fo.Err = -1, -1, "", kerr.UnstableOffsetCommit.Code
		}
	}
	if ev.Topics == nil {
		if g != nil {
			for tp, e := range g.offsets {
				fo := FetchedOffset{Topic: tp.topic, Partition: tp.partition, Offset: e.offset, LeaderEpoch: e.leaderEpoch, Metadata: e.metadata}
				unstable(&fo)
				res.Offsets = append(res.Offsets, fo)
			}
		}
		sort.Slice(res.Offsets, func(i, j int) bool {
			a, b := res.Offsets[i], res.Offsets[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		m.reply(ev.Req, res)
		return
	}
	for _, t := range ev.Topics {
		for _, p := range t.Partitions {
			fo := FetchedOffset{Topic: t.Topic, Partition: p, Offset: -1, LeaderEpoch: -1}
			if g != nil {
				if e, ok := g.offsets[topicPartition{t.Topic, p}]; ok {
					fo.Offset, fo.LeaderEpoch, fo.Metadata = e.offset, e.leaderEpoch, e.metadata
				}
			}
			unstable(&fo)
			res.Offsets = append(res.Offsets, fo)
		}
	}
	m.reply(ev.Req, res)
}

// deleteOffsets is Kafka's handleDeleteOffsets (OffsetDelete).
func (m *Machine) deleteOffsets(ev *DeleteOffsets) {
	if code := m.groupStatus(ev.Group, true); code != 0 {
		m.reply(ev.Req, DeleteOffsetsResult{Err: code})
		return
	}
	g := m.groups[ev.Group]
	if g == nil || g.is(Dead) {
		m.reply(ev.Req, DeleteOffsetsResult{Err: kerr.GroupIDNotFound.Code})
		return
	}
	if !g.is(Empty) && g.protocolType != "consumer" {
		m.reply(ev.Req, DeleteOffsetsResult{Err: kerr.NonEmptyGroup.Code})
		return
	}
	res := DeleteOffsetsResult{Errs: make([][]int16, len(ev.Partitions))}
	var remove []topicPartition
	for i, t := range ev.Partitions {
		res.Errs[i] = make([]int16, len(t.Partitions))
		subscribed := !g.is(Empty) && g.isSubscribedTo(t.Topic)
		if g.cg != nil {
			subscribed = g.cg.subscribedTo(t.Topic)
		}
		for j, p := range t.Partitions {
			if subscribed {
				res.Errs[i][j] = kerr.GroupSubscribedToTopic.Code
				continue
			}
			remove = append(remove, topicPartition{t.Topic, p})
		}
	}
	if len(remove) == 0 {
		m.reply(ev.Req, res)
		return
	}
	records := m.cleanupGroup(g, remove)
	m.appendRecords(g.partition, records, func(code int16) {
		if code != 0 {
			res = DeleteOffsetsResult{Err: code}
		}
		m.reply(ev.Req, res)
	})
}

// cleanupGroup removes offsets from a group and returns their tombstones; a group left Empty
// without offsets becomes Dead, is forgotten and gets a tombstone too (Kafka's
// cleanupGroupMetadata).
func (m *Machine) cleanupGroup(g *group, remove []topicPartition) []Record {
	var records []Record
	for _, tp := range remove {
		if _, ok := g.offsets[tp]; ok {
			delete(g.offsets, tp)
			records = append(records, offsetTombstone(g.id, tp))
		}
	}
	if g.cg != nil {
		// A KIP-848 group goes when deleted, or when empty and without offsets.
		if !g.is(Dead) && (g.cg.state() != CGEmpty || len(g.offsets) > 0 || len(g.pendingCommits) > 0 || len(g.pendingTxn) > 0) {
			return records
		}
		records = append(records, cgDeleteRecords(g.id, g.cg)...)
		m.cancelAllCGTimers(g)
		g.cg = nil
		if !g.is(Dead) {
			m.transition(g, Dead)
		}
		if m.groups[g.id] == g {
			delete(m.groups, g.id)
		}
		return records
	}
	if g.is(Empty) && len(g.offsets) == 0 && len(g.pendingCommits) == 0 && len(g.pendingTxn) == 0 {
		m.transition(g, Dead)
	}
	if g.is(Dead) {
		if m.groups[g.id] == g {
			delete(m.groups, g.id)
		}
		records = append(records, groupTombstone(g.id))
	}
	return records
}

// expireOffsets is Kafka's offsets cleanup: offsets of Empty groups expire
// offsets.retention.minutes after the group became Empty; groups without group management
// expire each offset that long after its commit; Stable consumer groups expire offsets of
// topics they no longer subscribe to. Offsets with a commit in flight never expire.
func (m *Machine) expireOffsets() {
	byPartition := map[int32][]Record{}
	ids := make([]string, 0, len(m.groups))
	for id := range m.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := m.groups[id]
		if m.parts[g.partition] != partActive {
			continue
		}
		var expired []topicPartition
		check := func(base func(offsetEntry) int64, skip func(string) bool) {
			for tp, e := range g.offsets {
				if g.pendingCommits[tp] > 0 || g.hasPendingTxn(tp) || skip != nil && skip(tp.topic) {
					continue
				}
				if e.expireTs >= 0 {
					if m.now >= e.expireTs {
						expired = append(expired, tp)
					}
				} else if m.now-base(e) >= m.cfg.OffsetsRetentionMs {
					expired = append(expired, tp)
				}
			}
		}
		switch {
		case g.cg != nil:
			// Kafka's ConsumerGroup: offsets of topics no member subscribes to expire
			// offsets.retention.minutes after their commit.
			check(func(e offsetEntry) int64 { return e.commitTs }, g.cg.subscribedTo)
		case g.protocolType != "" && g.is(Empty):
			check(func(e offsetEntry) int64 {
				if g.stateTs >= 0 {
					return g.stateTs
				}
				return e.commitTs
			}, nil)
		case g.protocolType == "consumer" && g.subscribedKnown && g.is(Stable):
			check(func(e offsetEntry) int64 { return e.commitTs }, func(t string) bool { return g.subscribed[t] })
		case g.protocolType == "":
			check(func(e offsetEntry) int64 { return e.commitTs }, nil)
		}
		if len(expired) == 0 && !(g.is(Empty) && len(g.offsets) == 0) {
			continue
		}
		sort.Slice(expired, func(i, j int) bool {
			return expired[i].topic < expired[j].topic || expired[i].topic == expired[j].topic && expired[i].partition < expired[j].partition
		})
		if len(expired) > 0 {
			m.logger.Info().Str("group", g.id).Int("offsets", len(expired)).Msg("expiring committed offsets")
		}
		byPartition[g.partition] = append(byPartition[g.partition], m.cleanupGroup(g, expired)...)
	}
	parts := make([]int32, 0, len(byPartition))
	for p := range byPartition {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		p := p
		m.appendRecords(p, byPartition[p], func(code int16) {
			if code != 0 {
				m.logger.Warn().Int32("partition", p).Int16("error", code).Msg("failed to write expired offset tombstones")
			}
		})
	}
}
