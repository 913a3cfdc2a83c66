package log

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Append takes exactly one validated client batch (magic 2), checks producer
// state, rewrites baseOffset to the log end offset and partitionLeaderEpoch
// to leaderEpoch, writes it, updates indexes and producer state. The batch
// slice may be modified in place (header fields only; the CRC does not cover
// them). Safe for concurrent use (serialised internally).
func (l *Log) Append(batch []byte, leaderEpoch int32) (AppendResult, error) {
	return l.appendOrigin(batch, leaderEpoch, originClient)
}

// appendOrigin is Append for a batch from a client or from a coordinator of this broker
// (markers, transactional offset commits), which Kafka checks differently.
func (l *Log) appendOrigin(batch []byte, leaderEpoch int32, origin appendOrigin) (AppendResult, error) {
	return l.appendGuarded(batch, leaderEpoch, origin, 0, false)
}

// appendGuarded is appendOrigin that, with verify, applies the transaction verification
// guard (AppendVerified).
func (l *Log) appendGuarded(batch []byte, leaderEpoch int32, origin appendOrigin, guard uint64, verify bool) (AppendResult, error) {
	h, ok := splitBatch(batch)
	if !ok || h.size() != int64(len(batch)) {
		return AppendResult{}, fmt.Errorf("%w: not exactly one magic 2 batch (%d bytes)", ErrCorruptBatch, len(batch))
	}
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if h.isControl() {
		if err := l.producers.checkMarker(&h, markerOf(batch, &h)); err != nil {
			res := AppendResult{LogStartOffset: l.logStart}
			l.mu.Unlock()
			return res, err
		}
	} else if h.ProducerID >= 0 {
		dup, err := l.producers.check(&h, origin == originClient)
		if err != nil {
			res := AppendResult{LogStartOffset: l.logStart}
			l.mu.Unlock()
			return res, err
		}
		if dup != nil {
			res := AppendResult{FirstOffset: dup.firstOffset, LastOffset: dup.lastOffset, Duplicate: true, LogStartOffset: l.logStart}
			l.mu.Unlock()
			return res, nil
		}
		if verify {
			if err := l.producers.checkGuard(&h, guard); err != nil {
				res := AppendResult{LogStartOffset: l.logStart}
				l.mu.Unlock()
				return res, err
			}
		}
	}
	h.BaseOffset = l.logEnd
	h.LeaderEpoch = leaderEpoch
	setBaseOffset(batch, h.BaseOffset)
	setLeaderEpoch(batch, leaderEpoch)
	if err := l.appendLocked(batch, &h); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if l.epochs.assign(leaderEpoch, h.BaseOffset) {
		if err := l.writeEpochs(); err != nil {
			err = l.fail(err)
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	res := AppendResult{FirstOffset: h.BaseOffset, LastOffset: h.lastOffset(), LogStartOffset: l.logStart}
	flush, rolled := l.needFlush(), l.takeRolled()
	l.mu.Unlock()
	return res, l.afterAppend(flush, rolled, res.LastOffset+1)
}

// AppendAsFollower appends one or more concatenated batches that already
// carry offsets (replication). The first must not start below LogEndOffset
// and offsets must increase (gaps are allowed, as compacted leaders produce
// them). Every batch's CRC is checked; a trailing partial batch, which a
// fetch response may end with, is ignored. Indexes, producer state (without
// sequence checks) and leader epochs are updated.
func (l *Log) AppendAsFollower(batches []byte) (AppendResult, error) {
	type item struct {
		b []byte
		h batchHeader
	}
	var items []item
	for rest := batches; len(rest) > 0; {
		if len(rest) < batchHeaderSize {
			break // trailing partial batch
		}
		h := parseBatchHeader(rest)
		if !h.plausible() {
			return AppendResult{}, fmt.Errorf("%w: bad batch header at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		if h.size() > int64(len(rest)) {
			break
		}
		b := rest[:h.size()]
		if !validCRC(b) {
			return AppendResult{}, fmt.Errorf("%w: CRC mismatch in batch at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		items = append(items, item{b: b, h: h})
		rest = rest[h.size():]
	}
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if len(items) == 0 {
		res := AppendResult{FirstOffset: l.logEnd, LastOffset: l.logEnd - 1, LogStartOffset: l.logStart}
		l.mu.Unlock()
		return res, nil
	}
	next := l.logEnd
	for i := range items {
		if items[i].h.BaseOffset < next {
			l.mu.Unlock()
			return AppendResult{}, fmt.Errorf("%w: batch at offset %d, expected at least %d", ErrUnexpectedOffset, items[i].h.BaseOffset, next)
		}
		next = items[i].h.lastOffset() + 1
	}
	epochsChanged := false
	for i := range items {
		it := &items[i]
		if err := l.appendLocked(it.b, &it.h); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
		epochsChanged = l.epochs.assign(it.h.LeaderEpoch, it.h.BaseOffset) || epochsChanged
	}
	if epochsChanged {
		if err := l.writeEpochs(); err != nil {
			err = l.fail(err)
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	res := AppendResult{FirstOffset: items[0].h.BaseOffset, LastOffset: items[len(items)-1].h.lastOffset(), LogStartOffset: l.logStart}
	flush, rolled := l.needFlush(), l.takeRolled()
	l.mu.Unlock()
	return res, l.afterAppend(flush, rolled, res.LastOffset+1)
}

// afterAppend runs the flush an append asked for, outside the log's lock: a
// flush of everything up to end when the flush interval was reached (the
// caller waits for it), otherwise, when the append rolled a new segment at
// rolled, a background flush of the segments before it, as Kafka does on
// roll, so that the recovery point follows the rolled segments.
func (l *Log) afterAppend(flush bool, rolled, end int64) error {
	if flush {
		return l.flushTo(end, math.MaxInt64)
	}
	if rolled > 0 {
		l.flushInBackground(rolled)
	}
	return nil
}

// takeRolled returns and clears the base of a segment rolled since the last
// call (0: none). Callers hold mu.
func (l *Log) takeRolled() int64 {
	r := l.rolledAt
	l.rolledAt = 0
	return r
}

// flushInBackground flushes the segments below offset upTo without making
// anyone wait. An error other than a closed log fails the log, as any flush
// error does, and is logged. The goroutine ends with its flush: Close takes
// flushMu, so it waits for a flush under way, and a flush that starts after
// Close returns ErrClosed at once.
func (l *Log) flushInBackground(upTo int64) {
	go func() {
		if err := l.flushTo(upTo, upTo); err != nil && !errors.Is(err, ErrClosed) {
			l.logger.Error().Err(err).Int64("offset", upTo).Msg("flushing the segments before a roll failed")
		}
	}()
}

// appendLocked rolls if needed and writes one batch with assigned offsets.
func (l *Log) appendLocked(b []byte, h *batchHeader) error {
	now := l.nowMs()
	if l.shouldRoll(l.active(), h, int64(len(b)), now) {
		if err := l.rollLocked(max(h.BaseOffset, l.logEnd)); err != nil {
			return l.fail(err)
		}
	}
	if err := l.active().appendBatch(b, h, l.opts.IndexIntervalBytes, now); err != nil {
		return l.fail(err)
	}
	l.size += int64(len(b))
	l.logEnd = h.lastOffset() + 1
	if err := l.addAborted(l.producers.update(h, markerOf(b, h))); err != nil {
		return l.fail(err)
	}
	return nil
}

// shouldRoll applies Kafka's roll rules before an append of n bytes.
func (l *Log) shouldRoll(s *segment, h *batchHeader, n, nowMs int64) bool {
	relOverflow := h.lastOffset()-s.base > math.MaxInt32
	if s.size == 0 {
		return relOverflow
	}
	return s.size+n > l.opts.SegmentBytes ||
		s.size+n > maxSegmentPosition ||
		(l.opts.SegmentMs > 0 && s.rollMs > 0 && nowMs-s.rollMs > l.opts.SegmentMs) ||
		s.idx.full() || s.tidx.full() ||
		relOverflow
}

func (l *Log) needFlush() bool {
	n := l.opts.FlushIntervalMessages
	return n > 0 && n != math.MaxInt64 && l.logEnd-l.recoveryPoint >= n
}

// Roll starts a new segment at LogEndOffset; a no-op when the active
// segment is empty.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if l.active().size == 0 {
		return nil
	}
	if err := l.rollLocked(l.logEnd); err != nil {
		return l.fail(err)
	}
	if rolled := l.takeRolled(); rolled > 0 {
		l.flushInBackground(rolled)
	}
	return nil
}

// rollLocked seals the active segment, creates a new one at base (>= the log
// end offset) and snapshots producer state there. An empty active segment is
// left in place (as an empty segment) rather than removed, so no file that a
// concurrent Flush may be syncing is ever closed outside flushMu.
func (l *Log) rollLocked(base int64) error {
	old := l.active()
	if old.size == 0 && old.base == base {
		return nil
	}
	if err := old.sealTimeIndex(); err != nil {
		return err
	}
	if err := old.writeIndexes(); err != nil {
		return err
	}
	s, err := createSegment(l.fs, l.dir, base, &l.opts)
	if err != nil {
		return err
	}
	l.segs = append(l.segs, s)
	l.dirGen++
	l.rolledAt = base
	if err := l.writeSnapshot(base); err != nil {
		l.logger.Warn().Err(err).Int64("offset", base).Msg("could not write producer snapshot")
	}
	l.logger.Info().Int64("offset", base).Int64("previous_size", old.size).Msg("rolled new log segment")
	return nil
}

// Flush fsyncs segments and indexes up to the log end and advances the
// recovery point. The fsync runs without blocking reads or appends.
func (l *Log) Flush() error { return l.flushTo(math.MaxInt64, math.MaxInt64) }

// flushTo makes the log durable at least up to offset (exclusive) by flushing
// the segments below upTo (and at most up to the log end); it does nothing
// when the recovery point is already there. Appends that need a flush
// (log.flush.interval.messages) call it with the end of their own batch, and
// commit as a group: while one fsync runs, the appends behind it wait on
// flushMu, and the first of them to get it syncs for all; the others then find
// the recovery point past their batch and return without another fsync.
func (l *Log) flushTo(offset, upTo int64) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	if l.recoveryPoint >= offset {
		l.mu.RUnlock()
		return nil
	}
	target := min(l.logEnd, upTo)
	gen := l.dirGen
	needDir := gen != l.dirSynced
	var segs []*segment
	for _, s := range l.segs[l.segmentFor(l.recoveryPoint):] {
		if s.base < target {
			segs = append(segs, s)
		}
	}
	l.mu.RUnlock()

	var err error
	start := time.Now()
	for _, s := range segs {
		if err = s.sync(); err != nil {
			break
		}
	}
	if err == nil && len(segs) > 0 && l.opts.OnFlush != nil {
		l.opts.OnFlush(time.Since(start))
	}
	if err == nil && needDir {
		err = syncDir(l.fs, l.dir)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.fail(err)
	}
	if target > l.recoveryPoint {
		l.recoveryPoint = min(target, l.logEnd)
	}
	if gen > l.dirSynced {
		l.dirSynced = gen
	}
	return nil
}
