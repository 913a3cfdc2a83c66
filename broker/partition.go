package broker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kbroker/broker/config"
	"kbroker/log"
	"kbroker/protocol"
)

// partition is one partition this broker hosts, as leader or follower. Appends are serialised
// by the log; the high watermark and leader epoch are read atomically; fetches and acks=all
// produces that wait register a channel that appends and high-watermark moves signal.
type partition struct {
	tp      log.TopicPartition
	topicID [16]byte
	root    string // the log dir holding this partition's directory
	log     *log.Log
	self    int32 // this broker's id

	cfg         atomic.Pointer[config.TopicConfig]
	hw          atomic.Int64
	leaderEpoch atomic.Int32
	isLeader    atomic.Bool

	// replicaMu orders the follower's log writes (the replica fetcher's appends and
	// truncations) with role changes (LeaderAndIsr, StopReplica): a fetch answer is applied
	// wholly before or wholly after a partition becomes leader.
	replicaMu sync.Mutex

	mu      sync.Mutex
	waiters map[chan struct{}]struct{}
	// Replication state, guarded by mu.
	leader         int32
	partitionEpoch int32 // version of the state znode, sent back in AlterPartition
	replicas       []int32
	isr            []int32
	epochStart     int64                    // log end offset when this broker became leader for leaderEpoch
	followers      map[int32]*followerState // leader only: what each follower has fetched
	isrInFlight    bool                     // an AlterPartition is outstanding
	pendingISR     []int32                  // the ISR proposed by that AlterPartition
	expandAfter    time.Time                // no ISR expansion proposed before (after a refusal)
}

// followerState is the leader's view of one follower.
type followerState struct {
	leo            int64     // the follower's log end offset (its last fetch offset)
	logStart       int64     // the follower's log start offset (from its last fetch), -1 = unknown
	lastFetch      time.Time // when it last fetched
	lastCaughtUp   time.Time // last time it had everything the leader had
	prevFetchLEO   int64     // the leader's log end offset at the previous fetch
	prevFetchTime  time.Time
	hasFetchedOnce bool
}

func newPartition(tp log.TopicPartition, topicID [16]byte, root string, l *log.Log, tc config.TopicConfig, self int32) *partition {
	p := &partition{tp: tp, topicID: topicID, root: root, log: l, self: self, leader: -1,
		waiters: make(map[chan struct{}]struct{}), followers: make(map[int32]*followerState)}
	p.cfg.Store(&tc)
	p.leaderEpoch.Store(-1)
	return p
}

// leaderState is what LeaderAndIsr (or the single-node topic code) tells a partition.
type leaderState struct {
	leader, leaderEpoch, partitionEpoch int32
	replicas, isr                       []int32
}

// becomeLeader makes this broker the leader for st.leaderEpoch. The high watermark starts
// where it was (checkpointed or previous) and moves with the in-sync replicas' fetches.
func (p *partition) becomeLeader(st leaderState, checkpointHW int64, now time.Time) {
	p.mu.Lock()
	p.leader = p.self
	p.partitionEpoch = st.partitionEpoch
	p.replicas = slices.Clone(st.replicas)
	p.isr = slices.Clone(st.isr)
	p.isrInFlight, p.pendingISR = false, nil
	p.epochStart = p.log.LogEndOffset()
	p.followers = make(map[int32]*followerState, len(st.replicas))
	for _, r := range st.replicas {
		if r == p.self {
			continue
		}
		fs := &followerState{leo: -1, logStart: -1}
		if slices.Contains(st.isr, r) {
			fs.lastCaughtUp = now
		}
		p.followers[r] = fs
	}
	p.leaderEpoch.Store(st.leaderEpoch)
	if hw := min(max(checkpointHW, p.hw.Load()), p.log.LogEndOffset()); hw > p.hw.Load() {
		p.hw.Store(hw)
	}
	p.isLeader.Store(true)
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()
	p.wake()
}

// becomeFollower records the new leader; the replica fetcher does the rest.
func (p *partition) becomeFollower(st leaderState) {
	p.mu.Lock()
	p.isLeader.Store(false)
	p.leader = st.leader
	p.partitionEpoch = st.partitionEpoch
	p.replicas = slices.Clone(st.replicas)
	p.isr = slices.Clone(st.isr)
	p.followers = make(map[int32]*followerState)
	p.isrInFlight, p.pendingISR = false, nil
	p.leaderEpoch.Store(st.leaderEpoch)
	p.mu.Unlock()
	p.wake() // parked produces and fetches re-check and answer NOT_LEADER_OR_FOLLOWER
}

// inISR reports whether replica is in the ISR.
func (p *partition) inISR(replica int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.isr, replica)
}

// inSyncCount is the size of the ISR (the larger of current and proposed while a change is in flight).
func (p *partition) inSyncCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.maximalISRLocked())
}

func (p *partition) maximalISRLocked() []int32 {
	if !p.isrInFlight {
		return p.isr
	}
	out := slices.Clone(p.isr)
	for _, r := range p.pendingISR {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// appendResult is the outcome of one client batch append.
type appendResult struct {
	log.AppendResult
	logAppendTime int64 // -1 unless the topic uses LogAppendTime
}

// appendClientBatch stamps LogAppendTime when the topic asks for it, appends the validated
// batch under the current leader epoch, advances the high watermark and wakes waiting fetches.
func (p *partition) appendClientBatch(batch []byte, now time.Time) (appendResult, error) {
	return p.appendBatch(batch, now, p.log.Append)
}

// appendBatch is appendClientBatch through one of the log's append methods.
func (p *partition) appendBatch(batch []byte, now time.Time, appendFn func([]byte, int32) (log.AppendResult, error)) (appendResult, error) {
	res := appendResult{logAppendTime: -1}
	if p.cfg.Load().MessageTimestampType == "LogAppendTime" {
		res.logAppendTime = now.UnixMilli()
		protocol.SetLogAppendTime(batch, res.logAppendTime)
	}
	ar, err := appendFn(batch, p.leaderEpoch.Load())
	if err != nil {
		return res, err
	}
	res.AppendResult = ar
	if !ar.Duplicate {
		p.mu.Lock()
		p.maybeAdvanceHWLocked()
		p.mu.Unlock()
		p.wake()
	}
	return res, nil
}

// maybeAdvanceHWLocked moves the high watermark to the smallest log end offset among the
// leader and the in-sync followers (Kafka's rule), never back. It does not advance while the
// ISR is smaller than min.insync.replicas (Kafka 3.7+). Reports whether it moved.
func (p *partition) maybeAdvanceHWLocked() bool {
	if !p.isLeader.Load() {
		return false
	}
	hw := p.log.LogEndOffset()
	isr := p.maximalISRLocked()
	for _, r := range isr {
		if r == p.self {
			continue
		}
		fs, ok := p.followers[r]
		if !ok || fs.leo < 0 {
			// An in-sync follower we have not heard from since becoming leader holds the HW.
			hw = min(hw, p.hw.Load())
			continue
		}
		hw = min(hw, fs.leo)
	}
	if len(isr) < p.cfg.Load().MinInsyncReplicas && len(p.replicas) > 1 {
		return false
	}
	return p.advanceHW(hw)
}

// advanceHW moves the high watermark forward to v, never back.
func (p *partition) advanceHW(v int64) bool {
	for {
		cur := p.hw.Load()
		if v <= cur {
			return false
		}
		if p.hw.CompareAndSwap(cur, v) {
			return true
		}
	}
}

// setFollowerHW is the follower's rule: the leader's high watermark clamped to its own log.
func (p *partition) setFollowerHW(leaderHW int64) {
	hw := min(leaderHW, p.log.LogEndOffset())
	if hw > p.hw.Load() {
		p.hw.Store(hw)
		p.wake()
	}
}

// recordFollowerFetch updates a follower's state from a fetch at offset with its log start
// offset logStart; reports whether the high watermark or the follower's log start moved (a
// wake-up for waiting produces and DeleteRecords) and whether the follower should join the
// ISR.
func (p *partition) recordFollowerFetch(replica int32, offset, logStart int64, now time.Time) (moved, expand bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs, ok := p.followers[replica]
	if !ok || !p.isLeader.Load() {
		return false, false
	}
	startMoved := fs.logStart != logStart
	fs.logStart = logStart
	leo := p.log.LogEndOffset()
	if offset >= leo {
		fs.lastCaughtUp = now
	} else if fs.hasFetchedOnce && offset >= fs.prevFetchLEO {
		fs.lastCaughtUp = fs.prevFetchTime
	}
	fs.leo, fs.lastFetch = offset, now
	fs.prevFetchLEO, fs.prevFetchTime, fs.hasFetchedOnce = leo, now, true
	moved = p.maybeAdvanceHWLocked() || startMoved
	if !slices.Contains(p.isr, replica) && !p.isrInFlight && !now.Before(p.expandAfter) &&
		offset >= p.hw.Load() && offset >= p.epochStart {
		expand = true
	}
	return moved, expand
}

// lowWatermark is Kafka's Partition.lowWatermarkIfLeader: the smallest log start offset
// among this replica and the followers on brokers alive reports live (-1 for one not heard
// from since this broker became leader).
func (p *partition) lowWatermark(alive func(id int32) bool) int64 {
	lw := p.log.LogStartOffset()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, fs := range p.followers {
		if fs.logStart < lw && alive(id) {
			lw = fs.logStart
		}
	}
	return lw
}

// laggingReplicasLocked lists in-sync followers that have not caught up within maxLag.
func (p *partition) laggingReplicasLocked(now time.Time, maxLag time.Duration) []int32 {
	var out []int32
	leo := p.log.LogEndOffset()
	for _, r := range p.isr {
		if r == p.self {
			continue
		}
		fs, ok := p.followers[r]
		if !ok {
			continue
		}
		if fs.leo != leo && now.Sub(fs.lastCaughtUp) > maxLag {
			out = append(out, r)
		}
	}
	return out
}

// highWatermark is the offset below which records are committed and visible to consumers.
func (p *partition) highWatermark() int64 { return p.hw.Load() }

// lastStableOffset is the offset below which every transaction is decided: the high
// watermark, or the first offset of the earliest transaction that is open or whose marker
// is not below the high watermark yet.
func (p *partition) lastStableOffset() int64 {
	hw := p.hw.Load()
	if first := p.log.FirstUnstableOffset(hw); first >= 0 && first < hw {
		return first
	}
	return hw
}

func (p *partition) addWaiter(ch chan struct{}) {
	p.mu.Lock()
	p.waiters[ch] = struct{}{}
	p.mu.Unlock()
}

func (p *partition) removeWaiter(ch chan struct{}) {
	p.mu.Lock()
	delete(p.waiters, ch)
	p.mu.Unlock()
}

// wake signals every waiting fetch or produce without blocking.
func (p *partition) wake() {
	p.mu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}
