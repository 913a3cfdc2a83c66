package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
	"kbroker/protocol"
)

// Follower replication: one fetcher goroutine per leader broker fetches every partition this
// broker follows from that leader with Fetch v12 (replica id = this broker), appends what it
// gets with the leader's offsets, and takes the leader's high watermark. Divergent logs are cut
// back with LastFetchedEpoch/DivergingEpoch (KIP-595 "truncation on fetch").

const (
	replicaFetchVersion   = 12
	replicaFetchWait      = 500 * time.Millisecond // replica.fetch.wait.max.ms
	replicaFetchMaxBytes  = 10 << 20               // replica.fetch.response.max.bytes
	replicaFetchPartBytes = 1 << 20                // replica.fetch.max.bytes
	replicaFetchBackoff   = 500 * time.Millisecond // replica.fetch.backoff.ms
)

// fetcherManager owns the replica fetchers, one per leader.
type fetcherManager struct {
	self   int32
	logger zerolog.Logger
	addrOf func(id int32) (string, bool) // a broker's address, from the metadata cache
	ctx    context.Context
	spawn  func(func()) // starts a goroutine the server waits for

	mu       sync.Mutex
	fetchers map[int32]*replicaFetcher
}

func newFetcherManager(ctx context.Context, self int32, logger zerolog.Logger, addrOf func(int32) (string, bool), spawn func(func())) *fetcherManager {
	return &fetcherManager{self: self, logger: logger, addrOf: addrOf, ctx: ctx, spawn: spawn, fetchers: make(map[int32]*replicaFetcher)}
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
		f = &replicaFetcher{m: m, leader: leader, parts: make(map[log.TopicPartition]*partition), wakeCh: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
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

type replicaFetcher struct {
	m      *fetcherManager
	leader int32
	logger zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	parts  map[log.TopicPartition]*partition
	delay  map[log.TopicPartition]time.Time // partitions backing off after an error
	wakeCh chan struct{}
	client *protocol.Client
}

func (f *replicaFetcher) add(p *partition) {
	f.mu.Lock()
	f.parts[p.tp] = p
	delete(f.delay, p.tp)
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

func (f *replicaFetcher) snapshot(now time.Time) []*partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*partition, 0, len(f.parts))
	for tp, p := range f.parts {
		if until, ok := f.delay[tp]; ok && now.Before(until) {
			continue
		}
		out = append(out, p)
	}
	return out
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
		parts := f.snapshot(time.Now())
		if len(parts) == 0 {
			if !f.sleep(replicaFetchBackoff) {
				return
			}
			continue
		}
		if err := f.fetchOnce(parts); err != nil {
			if f.client != nil {
				f.client.Close()
				f.client = nil
			}
			if f.ctx.Err() == nil {
				f.logger.Debug().Err(err).Msg("replica fetch failed")
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
	c, err := protocol.Dial(ctx, addr, "replica-fetcher")
	if err != nil {
		return err
	}
	f.client = c
	return nil
}

func (f *replicaFetcher) fetchOnce(parts []*partition) error {
	if err := f.connect(); err != nil {
		return err
	}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(replicaFetchVersion)
	req.ReplicaID = f.m.self
	req.MaxWaitMillis = int32(replicaFetchWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = replicaFetchMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	byTopic := map[string]int{}
	for _, p := range parts {
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
		rp.CurrentLeaderEpoch = p.leaderEpoch.Load()
		rp.FetchOffset = p.log.LogEndOffset()
		rp.LastFetchedEpoch = -1
		if e, ok := p.log.LatestEpoch(); ok {
			rp.LastFetchedEpoch = e
		}
		rp.LogStartOffset = p.log.LogStartOffset()
		rp.PartitionMaxBytes = replicaFetchPartBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
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
	f.mu.Lock()
	current := make(map[log.TopicPartition]*partition, len(f.parts))
	for tp, p := range f.parts {
		current[tp] = p
	}
	f.mu.Unlock()
	for _, rt := range resp.Topics {
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			tp := log.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			p, ok := current[tp]
			if !ok || p.isLeader.Load() {
				continue
			}
			if err := f.apply(p, rp); err != nil {
				ev := f.logger.Warn()
				var ke *kerr.Error
				if errors.As(err, &ke) && ke.Retriable {
					ev = f.logger.Debug() // leadership moving: the next LeaderAndIsr settles it
				}
				ev.Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("replica fetch partition failed")
				f.backoff(tp)
			}
		}
	}
	return nil
}

// apply handles one partition of a fetch response on the follower.
func (f *replicaFetcher) apply(p *partition, rp *kmsg.FetchResponseTopicPartition) error {
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
			f.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int64("offset", rp.HighWatermark).Msg("follower ahead of the leader; truncating to the high watermark")
			err := p.log.TruncateTo(rp.HighWatermark)
			p.clampHW()
			return err
		}
		return kerr.OffsetOutOfRange
	default:
		return kerr.ErrorForCode(rp.ErrorCode)
	}
	if rp.DivergingEpoch.Epoch >= 0 && rp.DivergingEpoch.EndOffset >= 0 {
		end := rp.DivergingEpoch.EndOffset
		if end < p.log.LogEndOffset() {
			f.logger.Info().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int32("epoch", rp.DivergingEpoch.Epoch).
				Int64("offset", end).Msg("follower log diverged from the leader; truncating")
			if err := p.log.TruncateTo(end); err != nil {
				return err
			}
			p.clampHW()
		}
		return nil
	}
	if len(rp.RecordBatches) > 0 {
		if _, err := p.log.AppendAsFollower(rp.RecordBatches); err != nil {
			return err
		}
	}
	p.setFollowerHW(rp.HighWatermark)
	return nil
}

// clampHW keeps a follower's high watermark within its log after a truncation.
func (p *partition) clampHW() {
	if leo := p.log.LogEndOffset(); p.hw.Load() > leo {
		p.hw.Store(leo)
	}
}
