package log

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Log is one partition's log: a directory of segments. All methods are safe
// for concurrent use. Lock order: flushMu before mu. mu (a RWMutex) guards
// the segment list and every offset; appends, rolls and truncations hold it
// for writing, reads for reading. flushMu serialises fsync (done without mu,
// so reads and appends continue during an fsync) with the operations that
// close or remove segment files.
type Log struct {
	dir    string
	opts   Options
	fs     FS
	logger zerolog.Logger

	flushMu sync.Mutex
	mu      sync.RWMutex

	segs          []*segment // ascending base offsets; the last is active
	logStart      int64
	logEnd        int64
	recoveryPoint int64
	size          int64
	producers     *producerState
	txns          atomic.Pointer[txnTracker] // producers.txns, for the last stable offset without mu
	epochs        *epochCache
	closed        bool
	failed        error  // set after an I/O error on the write path
	dirGen        uint64 // bumped when files are created or removed in dir
	dirSynced     uint64 // dirGen at the last directory fsync
	rolledAt      int64  // base of a segment rolled since the last append returned (0: none); its predecessor is flushed in the background
}

// AppendResult describes a successful Append.
type AppendResult struct {
	FirstOffset, LastOffset int64 // offsets assigned (or, for a duplicate, those of the original batch)
	Duplicate               bool  // an idempotent retry of one of the producer's last 5 batches: nothing written
	LogStartOffset          int64
}

// ReadResult is the answer to Read.
type ReadResult struct {
	Data        []byte // whole batches only, possibly empty
	FirstOffset int64  // base offset of the first batch in Data (or the requested offset when empty)
}

// SegmentInfo describes one segment, for retention decisions.
type SegmentInfo struct {
	BaseOffset   int64
	NextOffset   int64 // offset after its last batch (the next segment's base for inactive ones)
	Size         int64
	MaxTimestamp int64 // largest batch max timestamp, -1 when unknown/empty
	Active       bool
}

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// LogStartOffset is the first offset that may be read.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// LogEndOffset is the next offset to be assigned.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logEnd
}

// RecoveryPoint is the offset below which everything is fsynced.
func (l *Log) RecoveryPoint() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.recoveryPoint
}

// Size is the number of bytes in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		next := s.next
		if i+1 < len(l.segs) {
			next = l.segs[i+1].base
		}
		out[i] = SegmentInfo{BaseOffset: s.base, NextOffset: next, Size: s.size, MaxTimestamp: s.maxTs, Active: i == len(l.segs)-1}
	}
	return out
}

// LatestEpoch is the newest leader epoch in the leader epoch cache.
func (l *Log) LatestEpoch() (epoch int32, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.epochs.latest()
	return e.epoch, ok
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <= epoch
// and the offset where the epoch after it starts (the log end offset for the
// latest epoch). (-1, -1) when epoch is unknown or newer than the latest.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.logEnd)
}

// DivergingEpoch is a leader's check of a follower's fetch at fetchOffset whose last fetched
// batch had epoch lastFetchedEpoch (Kafka's Partition.readRecords): when this log's end of that
// epoch is below fetchOffset, or this log knows only an earlier epoch, the follower's log has
// diverged and must be cut back (see TruncationPoint) before it is sent anything; diverged is
// then true with this log's (epoch, end offset) for it. ErrOffsetOutOfRange when this log knows
// no end for the epoch or fetchOffset is below the log start.
func (l *Log) DivergingEpoch(lastFetchedEpoch int32, fetchOffset int64) (epoch int32, endOffset int64, diverged bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	epoch, endOffset = l.epochs.endOffsetFor(lastFetchedEpoch, l.logEnd)
	if epoch == undefinedEpoch || endOffset == undefinedEpochOffset {
		return epoch, endOffset, false, fmt.Errorf("%w: no end offset for leader epoch %d", ErrOffsetOutOfRange, lastFetchedEpoch)
	}
	if fetchOffset < l.logStart {
		return epoch, endOffset, false, fmt.Errorf("%w: fetch offset %d below the log start %d", ErrOffsetOutOfRange, fetchOffset, l.logStart)
	}
	return epoch, endOffset, epoch < lastFetchedEpoch || endOffset < fetchOffset, nil
}

// TruncationPoint is where this log, as a follower with high watermark hw, must be cut when
// its leader reports that leaderEpoch ends at leaderEnd (see epochCache.truncationPoint):
// complete is false when the log does not know leaderEpoch, and the leader must then be asked
// again about LatestEpoch once the log is cut.
func (l *Log) TruncationPoint(leaderEpoch int32, leaderEnd, hw int64) (offset int64, complete bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.truncationPoint(leaderEpoch, leaderEnd, l.logEnd, hw)
}

// AssignEpochStart records that leader epoch epoch starts at the log end offset, as a new
// leader does before its first append (Kafka's Partition.makeLeader), so that it answers
// OffsetForLeaderEpoch and divergence checks for its predecessor's epoch with this offset.
// Entries for later epochs or offsets, which a new leader cannot have, are dropped.
func (l *Log) AssignEpochStart(epoch int32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if !l.epochs.assign(epoch, l.logEnd) {
		return nil
	}
	if err := l.writeEpochs(); err != nil {
		return l.fail(err)
	}
	return nil
}

// EpochForOffset is the leader epoch in force at offset (for ListOffsets
// answers); ok is false when the cache knows no epoch that early.
func (l *Log) EpochForOffset(offset int64) (int32, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.epochFor(offset)
}

// segmentFor returns the index of the segment holding offset: the last one
// whose base is <= offset (0 when offset precedes them all).
func (l *Log) segmentFor(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	if i == 0 {
		return 0
	}
	return i - 1
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// writable reports why the log cannot be written, if it cannot.
func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// fail records an I/O error on the write path; the log refuses further
// writes until it is opened again (which recovers the files).
func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrLogFailed, err)
		l.logger.Error().Err(err).Msg("log stopped accepting writes after an I/O error")
	}
	return l.failed
}

func (l *Log) nowMs() int64 { return l.opts.Now().UnixMilli() }

func (l *Log) epochPath() string { return filepath.Join(l.dir, epochCheckpoint) }

func (l *Log) writeEpochs() error {
	return writeFileAtomic(l.fs, l.epochPath(), l.epochs.encode())
}

// NumSegments is the number of segments.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}
