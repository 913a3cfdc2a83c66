package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/controller"
	"kbroker/broker/metrics"
	"kbroker/broker/quota"
	"kbroker/log"
	"kbroker/protocol"
)

// Follower replication: one fetcher goroutine per leader broker fetches every partition this
// broker follows from that leader with Fetch v12 (replica id = this broker), appends what it
// gets with the leader's offsets, and takes the leader's high watermark.
//
// The follower also takes its leader's log start offset from every answer (bounded by its own
// high watermark, as Kafka's ReplicaFetcherThread does) and reports its own in every fetch.
//
// A follower's log can hold batches its leader never had (it led an earlier epoch, or a stale
// one, and appended before it was replaced). It is cut back to where the two logs agree, with
// Kafka's rule (log.TruncationPoint), in two places:
//   - when a partition joins a fetcher in a new leader epoch, before its first fetch: the
//     follower asks OffsetForLeaderEpoch for the end of its latest epoch on the leader, cuts,
//     and asks again about the epoch it is left with until the cut is complete (an empty epoch
//     cache cuts to the high watermark instead, as Kafka does);
//   - on every fetch, with LastFetchedEpoch: a leader whose end of that epoch is below the
//     fetch offset answers DivergingEpoch and no records (KIP-320 "truncation on fetch").
//
// Every cut is logged; the same divergence answered twice without the log changing is a
// warning, so a replica that cannot converge is never silent.

const (
	replicaFetchVersion   = 12
	replicaFetchWait      = 500 * time.Millisecond // replica.fetch.wait.max.ms
	replicaFetchMaxBytes  = 10 << 20               // replica.fetch.response.max.bytes
	replicaFetchPartBytes = 1 << 20                // replica.fetch.max.bytes
	replicaFetchBackoff   = 500 * time.Millisecond // replica.fetch.backoff.ms
	// offsetForLeaderEpochVersion is what Kafka 3.9 followers send (v3+ carries the replica id).
	offsetForLeaderEpochVersion = 4
)

// fetcherManager owns the replica fetchers, one per leader.
type fetcherManager struct {
	self   int32
	logger zerolog.Logger
	addrOf func(id int32) (string, bool) // a broker's address, from the metadata cache
	dial   controller.Dialer             // the server's inter-broker dialer
	ctx    context.Context
	spawn  func(func()) // starts a goroutine the server waits for

	// quota is the follower replication throttle (follower.replication.throttled.rate).
	quota *quota.Replication
	// metrics counts replicated bytes (nil: off).
	metrics *metrics.Metrics

	mu       sync.Mutex
	fetchers map[int32]*replicaFetcher
}

func newFetcherManager(ctx context.Context, self int32, logger zerolog.Logger, addrOf func(int32) (string, bool), dial controller.Dialer, spawn func(func()), q *quota.Replication) *fetcherManager {
	return &fetcherManager{self: self, logger: logger, addrOf: addrOf, dial: dial, ctx: ctx, spawn: spawn, quota: q, fetchers: make(map[int32]*replicaFetcher)}
}

// follow moves p to the fetcher of leader (creating it), removing it from any other.
func (m *fetcherManager) follow(leader int32, p *partition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, f := range m.fetchers {
		if id != leader {
			f.remove(p.tp)
		}
	}
	f, ok := m.fetchers[leader]
	if !ok {
		ctx, cancel := context.WithCancel(m.ctx)
		f = &replicaFetcher{m: m, leader: leader, parts: make(map[log.TopicPartition]*fetchState), wakeCh: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
			logger: m.logger.With().Int32("leader", leader).Logger()}
		m.fetchers[leader] = f
		m.spawn(f.run)
	}
	f.add(p)
}

// unfollow stops fetching tp from whichever leader.
func (m *fetcherManager) unfollow(tp log.TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.fetchers {
		f.remove(tp)
	}
}

// fetchState is one partition in a fetcher: the leader epoch it fetches in and whether its
// log still has to be reconciled with the leader's before fetching.
type fetchState struct {
	p          *partition
	epoch      int32
	truncating bool
	// The last divergence answered for this partition, and how many times in a row the same
	// answer came back for the same log.
	lastDivergence divergence
	repeats        int
	// caughtUp: the last fetch answer found the log at the leader's high watermark (Kafka's
	// isReplicaInSync for the follower throttle). Touched by the fetcher goroutine only.
	caughtUp bool
	// Failures in a row of this partition, and when one was last logged at info (fetcher
	// goroutine only).
	failures   int
	lastLogged time.Time
}

// throttled reports whether this replica is subject to the follower replication throttle:
// listed in follower.replication.throttled.replicas and behind the leader.
func (st *fetchState) throttled(self int32) bool {
	return !st.caughtUp && quota.ThrottledReplicas(st.p.cfg.Load().FollowerThrottledReplicas, st.p.tp.Partition, self)
}

// divergence is one leader answer about a follower's epoch, with the follower's log end and
// latest epoch when it came.
type divergence struct {
	leaderEpoch   int32
	leaderEnd     int64
	logEnd        int64
	followerEpoch int32
}

type replicaFetcher struct {
	m      *fetcherManager
	leader int32
	logger zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	parts  map[log.TopicPartition]*fetchState
	delay  map[log.TopicPartition]time.Time // partitions backing off after an error
	wakeCh chan struct{}
	client *protocol.Client

	// Failures in a row of the fetcher's requests, and when one was last logged at info:
	// a leader that cannot be fetched from for long shows in the log, not only at debug.
	failures   int
	lastLogged time.Time
}

// failureLogEvery is how often a fetcher that keeps failing says so at info.
const failureLogEvery = 10 * time.Second

// add starts fetching p; a partition already here keeps its state while its leader epoch is
// the same, and starts over (reconciling its log first) in a new one.
func (f *replicaFetcher) add(p *partition) {
	epoch := p.leaderEpoch.Load()
	f.mu.Lock()
	if st, ok := f.parts[p.tp]; !ok || st.p != p || st.epoch != epoch {
		f.parts[p.tp] = &fetchState{p: p, epoch: epoch, truncating: true}
		delete(f.delay, p.tp)
	}
	f.mu.Unlock()
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
}

func (f *replicaFetcher) remove(tp log.TopicPartition) {
	f.mu.Lock()
	delete(f.parts, tp)
	f.mu.Unlock()
}

// current reports whether st is still the fetcher's state for its partition.
func (f *replicaFetcher) current(st *fetchState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts[st.p.tp] == st
}

// snapshot returns the partitions ready to work on, split into those whose log must first be
// reconciled with the leader's and those that fetch.
func (f *replicaFetcher) snapshot(now time.Time) (truncating, fetching []*fetchState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tp, st := range f.parts {
		if until, ok := f.delay[tp]; ok && now.Before(until) {
			continue
		}
		if st.truncating {
			truncating = append(truncating, st)
		} else {
			fetching = append(fetching, st)
		}
	}
	return truncating, fetching
}

func (f *replicaFetcher) backoff(tp log.TopicPartition) {
	f.mu.Lock()
	if f.delay == nil {
		f.delay = make(map[log.TopicPartition]time.Time)
	}
	f.delay[tp] = time.Now().Add(replicaFetchBackoff)
	f.mu.Unlock()
}

func (f *replicaFetcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
		return false
	case <-f.wakeCh:
		return true
	case <-t.C:
		return true
	}
}

func (f *replicaFetcher) run() {
	defer func() {
		if f.client != nil {
			f.client.Close()
		}
	}()
	for f.ctx.Err() == nil {
		truncating, fetching := f.snapshot(time.Now())
		if len(truncating) == 0 && len(fetching) == 0 {
			if !f.sleep(replicaFetchBackoff) {
				return
			}
			continue
		}
		err := f.connect()
		if err == nil && len(truncating) > 0 {
			err = f.reconcile(truncating)
		}
		if err == nil && len(fetching) > 0 {
			err = f.fetchOnce(fetching)
		}
		if err == nil && f.failures > 0 {
			if !f.lastLogged.IsZero() {
				f.logger.Info().Int("failures_in_a_row", f.failures).Msg("replica fetch works again")
			}
			f.failures, f.lastLogged = 0, time.Time{}
		}
		if err != nil {
			if f.client != nil {
				f.client.Close()
				f.client = nil
			}
			if f.ctx.Err() == nil {
				f.failures++
				ev := f.logger.Debug()
				if now := time.Now(); f.failures >= 5 && now.Sub(f.lastLogged) >= failureLogEvery {
					ev, f.lastLogged = f.logger.Info(), now
				}
				ev.Err(err).Int("failures_in_a_row", f.failures).Msg("replica fetch failed")
			}
			if !f.sleep(replicaFetchBackoff) {
				return
			}
		}
	}
}

func (f *replicaFetcher) connect() error {
	if f.client != nil && f.client.Err() == nil {
		return nil
	}
	addr, ok := f.m.addrOf(f.leader)
	if !ok {
		return errors.New("leader address unknown")
	}
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	c, err := f.m.dial(ctx, addr, "replica-fetcher")
	if err != nil {
		return err
	}
	f.client = c
	return nil
}

// partitionFailed logs a partition's failure (retriable ones, such as a leadership move that
// the next LeaderAndIsr settles, at debug unless they go on) and backs it off.
func (f *replicaFetcher) partitionFailed(st *fetchState, err error, what string) {
	tp := st.p.tp
	st.failures++
	ev := f.logger.Warn()
	var ke *kerr.Error
	if errors.As(err, &ke) && ke.Retriable {
		ev = f.logger.Debug()
		if now := time.Now(); st.failures >= 5 && now.Sub(st.lastLogged) >= failureLogEvery {
			ev, st.lastLogged = f.logger.Info(), now
		}
	}
	ev.Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Int("failures_in_a_row", st.failures).Msg(what)
	f.backoff(tp)
}

// reconcile asks the leader, with OffsetForLeaderEpoch, where each partition's latest epoch
// ends, and cuts the follower's log there. A partition whose cut is complete starts fetching;
// one whose log does not know the leader's epoch asks again about the epoch it is left with.
func (f *replicaFetcher) reconcile(states []*fetchState) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(offsetForLeaderEpochVersion)
	req.ReplicaID = f.m.self
	byTopic := map[string]int{}
	asked := map[log.TopicPartition]*fetchState{}
	for _, st := range states {
		p := st.p
		latest, ok := p.log.LatestEpoch()
		if !ok {
			// No epoch to ask about: Kafka cuts to the high watermark.
			if err := f.truncate(st, p.highWatermark(), true, "no leader epoch in the follower's cache; truncating to the high watermark"); err != nil {
				f.partitionFailed(st, err, "truncating follower log")
			}
			continue
		}
		i, ok := byTopic[p.tp.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.tp.Topic] = i
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = p.tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = p.tp.Partition
		rp.CurrentLeaderEpoch = st.epoch
		rp.LeaderEpoch = latest
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked[p.tp] = st
	}
	if len(asked) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	raw, err := f.client.Request(ctx, req)
	if err != nil {
		return err
	}
	for _, rt := range raw.(*kmsg.OffsetForLeaderEpochResponse).Topics {
		for _, rp := range rt.Partitions {
			tp := log.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			st, ok := asked[tp]
			if !ok {
				continue
			}
			delete(asked, tp)
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				f.partitionFailed(st, err, "OffsetForLeaderEpoch to the leader failed")
				continue
			}
			if err := f.truncateToEpochEnd(st, rp.LeaderEpoch, rp.EndOffset, "offset for leader epoch"); err != nil {
				f.partitionFailed(st, err, "truncating follower log")
			}
		}
	}
	for _, st := range asked {
		f.partitionFailed(st, errors.New("partition missing from the answer"), "OffsetForLeaderEpoch to the leader failed")
	}
	return nil
}

// truncateToEpochEnd cuts st's log where the leader says its epoch leaderEpoch ends (an
// OffsetForLeaderEpoch answer or a DivergingEpoch), with Kafka's rule.
func (f *replicaFetcher) truncateToEpochEnd(st *fetchState, leaderEpoch int32, leaderEnd int64, source string) error {
	p := st.p
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if !f.current(st) || p.isLeader.Load() || p.leaderEpoch.Load() != st.epoch {
		return nil // the partition changed role or epoch meanwhile: the answer is stale
	}
	followerEpoch, _ := p.log.LatestEpoch()
	d := divergence{leaderEpoch: leaderEpoch, leaderEnd: leaderEnd, logEnd: p.log.LogEndOffset(), followerEpoch: followerEpoch}
	if d == st.lastDivergence {
		st.repeats++
	} else {
		st.lastDivergence, st.repeats = d, 0
	}
	offset, complete := p.log.TruncationPoint(leaderEpoch, leaderEnd, p.highWatermark())
	ev := f.logger.Info()
	if st.repeats > 0 {
		ev = f.logger.Warn().Int("repeats", st.repeats)
	}
	ev.Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int32("epoch", st.epoch).
		Str("source", source).Int32("leader_epoch_answer", leaderEpoch).Int64("leader_end_offset", leaderEnd).
		Int32("follower_epoch", followerEpoch).Int64("log_end_offset", d.logEnd).Int64("offset", offset).Bool("complete", complete).
		Msg(truncationMessage(st.repeats, offset, d.logEnd))
	return f.truncateLocked(st, offset, complete)
}

func truncationMessage(repeats int, offset, logEnd int64) string {
	switch {
	case repeats > 0:
		return "the leader answered the same divergence again for an unchanged follower log"
	case offset < logEnd:
		return "follower log diverged from the leader; truncating"
	default:
		return "follower log agrees with the leader up to its end"
	}
}

// truncate cuts st's log at offset (see truncateLocked), logging why.
func (f *replicaFetcher) truncate(st *fetchState, offset int64, complete bool, why string) error {
	p := st.p
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if !f.current(st) || p.isLeader.Load() || p.leaderEpoch.Load() != st.epoch {
		return nil
	}
	f.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int32("epoch", st.epoch).
		Int64("log_end_offset", p.log.LogEndOffset()).Int64("offset", offset).Msg(why)
	return f.truncateLocked(st, offset, complete)
}

// truncateLocked cuts the log (dropping epoch entries from the new end) and keeps the high
// watermark within it; a complete cut lets the partition fetch. Called with p.replicaMu held.
func (f *replicaFetcher) truncateLocked(st *fetchState, offset int64, complete bool) error {
	if err := st.p.log.TruncateTo(offset); err != nil {
		return err
	}
	st.p.clampHW()
	if complete {
		f.mu.Lock()
		st.truncating = false
		f.mu.Unlock()
	}
	return nil
}

// fetched is what a fetch asked for one partition, to tell a stale answer from a current one.
type fetched struct {
	st     *fetchState
	offset int64
}

func (f *replicaFetcher) fetchOnce(states []*fetchState) error {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(replicaFetchVersion)
	req.ReplicaID = f.m.self
	req.MaxWaitMillis = int32(replicaFetchWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = replicaFetchMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	byTopic := map[string]int{}
	asked := make(map[log.TopicPartition]fetched, len(states))
	now := time.Now()
	exceeded := f.m.quota.Exceeded(now)
	for _, st := range states {
		p := st.p
		if exceeded && st.throttled(f.m.self) {
			continue // the follower throttle holds this replica back for now
		}
		i, ok := byTopic[p.tp.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.tp.Topic] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = p.tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.tp.Partition
		rp.CurrentLeaderEpoch = st.epoch
		rp.FetchOffset = p.log.LogEndOffset()
		rp.LastFetchedEpoch = -1
		if e, ok := p.log.LatestEpoch(); ok {
			rp.LastFetchedEpoch = e
		}
		rp.LogStartOffset = p.log.LogStartOffset()
		rp.PartitionMaxBytes = replicaFetchPartBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked[p.tp] = fetched{st: st, offset: rp.FetchOffset}
	}
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	raw, err := f.client.Request(ctx, req)
	if err != nil {
		return err
	}
	resp := raw.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	for _, rt := range resp.Topics {
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			tp := log.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			a, ok := asked[tp]
			if !ok {
				continue
			}
			if a.st.throttled(f.m.self) {
				f.m.quota.Record(len(rp.RecordBatches), now)
			}
			f.m.metrics.ReplicationBytesIn(len(rp.RecordBatches))
			if err := f.apply(a, rp); err != nil {
				f.partitionFailed(a.st, err, "replica fetch partition failed")
			} else {
				a.st.failures, a.st.lastLogged = 0, time.Time{}
			}
		}
	}
	return nil
}

// apply handles one partition of a fetch response on the follower. An answer for a partition
// that changed role, epoch or log end since the request was built is dropped.
func (f *replicaFetcher) apply(a fetched, rp *kmsg.FetchResponseTopicPartition) error {
	st, p := a.st, a.st.p
	if rp.ErrorCode == 0 && rp.DivergingEpoch.EndOffset >= 0 {
		return f.truncateToEpochEnd(st, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset, "diverging epoch")
	}
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if !f.current(st) || p.isLeader.Load() || p.leaderEpoch.Load() != st.epoch || p.log.LogEndOffset() != a.offset {
		return nil
	}
	switch rp.ErrorCode {
	case 0:
	case kerr.OffsetOutOfRange.Code:
		leo := p.log.LogEndOffset()
		if leo < rp.LogStartOffset {
			f.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int64("offset", rp.LogStartOffset).Msg("follower behind the leader's log start; starting over there")
			err := p.log.TruncateFullyAndStartAt(rp.LogStartOffset)
			p.clampHW()
			return err
		}
		if rp.HighWatermark >= 0 && rp.HighWatermark < leo {
			f.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int64("log_end_offset", leo).Int64("offset", rp.HighWatermark).Msg("follower ahead of the leader; truncating to the high watermark")
			err := p.log.TruncateTo(rp.HighWatermark)
			p.clampHW()
			return err
		}
		return kerr.OffsetOutOfRange
	default:
		return kerr.ErrorForCode(rp.ErrorCode)
	}
	if len(rp.RecordBatches) > 0 {
		if _, err := p.log.AppendAsFollower(rp.RecordBatches); err != nil {
			return err
		}
	}
	p.setFollowerHW(rp.HighWatermark)
	// The leader's log start offset (moved by its retention or DeleteRecords), never past this
	// replica's high watermark; the segments below it go at this broker's next retention pass.
	if start := min(rp.LogStartOffset, p.highWatermark()); start > p.log.LogStartOffset() {
		if _, err := p.log.IncrementLogStartOffset(start, "leader's log start offset"); err != nil {
			return err
		}
	}
	st.caughtUp = p.log.LogEndOffset() >= rp.HighWatermark
	return nil
}

// clampHW keeps a follower's high watermark within its log after a truncation.
func (p *partition) clampHW() {
	if leo := p.log.LogEndOffset(); p.hw.Load() > leo {
		p.hw.Store(leo)
	}
}
