package log

import (
	"fmt"
	"time"
)

// Retention: which segments a retention pass deletes, and the log start offset, decided as
// Kafka's UnifiedLog.deleteOldSegments decides them. A pass applies three rules in turn, each
// deleting segments from the oldest while its predicate holds:
//
//  1. segments wholly below the log start offset (the next segment starts at or below it);
//  2. with cleanup.policy delete: retention.bytes, the oldest segments whose removal keeps
//     the log at or above the limit;
//  3. with cleanup.policy delete: retention.ms, segments whose largest record timestamp (the
//     file's modification time when the segment has none) is older than the limit.
//
// A segment is deleted only when every offset in it is below the high watermark, so the log
// start offset never passes it, and an empty active segment is never deleted. When every
// segment goes, the active one is rolled first so that the log keeps a segment at its end.
// Deleted segments are renamed to .deleted at once and removed after FileDeleteDelayMs; a
// Region taken before keeps reading its file meanwhile and after.

// Reasons a retention pass gives for deleting a segment (DeletedSegment.Reason).
const (
	ReasonLogStartOffset = "log start offset"
	ReasonRetentionBytes = "retention.bytes"
	ReasonRetentionMs    = "retention.ms"
)

// RetentionPolicy is what one retention pass applies.
type RetentionPolicy struct {
	// Delete is cleanup.policy containing delete: RetentionMs and RetentionBytes apply.
	// Without it only segments wholly below the log start offset are deleted.
	Delete         bool
	RetentionMs    int64 // retention.ms; negative = no time limit
	RetentionBytes int64 // retention.bytes; negative = no size limit
	// HighWatermark bounds the pass: a segment is deleted only when the segment after it
	// (the log end for the last one) starts at or below it.
	HighWatermark int64
}

// DeletedSegment describes a segment a retention pass removed.
type DeletedSegment struct {
	BaseOffset       int64
	NextOffset       int64 // base offset of the segment after it
	Size             int64
	LargestTimestamp int64 // the largest record timestamp, or the file's modification time
	Reason           string
}

// DeleteOldSegments runs one retention pass (see the rules above) and returns the segments it
// deleted, oldest first. The log start offset moves to the first remaining segment when that
// is beyond it.
func (l *Log) DeleteOldSegments(p RetentionPolicy) ([]DeletedSegment, error) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return nil, err
	}
	var out []DeletedSegment
	err := l.deleteSegmentsWhile(p.HighWatermark, ReasonLogStartOffset, func(_, next *segment) bool {
		return next != nil && next.base <= l.logStart
	}, &out)
	if err == nil && p.Delete && p.RetentionBytes >= 0 && l.size >= p.RetentionBytes {
		diff := l.size - p.RetentionBytes
		err = l.deleteSegmentsWhile(p.HighWatermark, ReasonRetentionBytes, func(s, _ *segment) bool {
			if diff-s.size < 0 {
				return false
			}
			diff -= s.size
			return true
		}, &out)
	}
	if err == nil && p.Delete && p.RetentionMs >= 0 {
		now := l.nowMs()
		err = l.deleteSegmentsWhile(p.HighWatermark, ReasonRetentionMs, func(s, _ *segment) bool {
			return now-l.largestTimestamp(s) > p.RetentionMs
		}, &out)
	}
	if rolled := l.takeRolled(); rolled > 0 {
		l.flushInBackground(rolled)
	}
	if err != nil {
		return out, l.fail(err)
	}
	return out, nil
}

// largestTimestamp is Kafka's LogSegment.largestTimestamp: the largest record timestamp, or
// the .log file's modification time when the segment has none.
func (l *Log) largestTimestamp(s *segment) int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	st, err := l.fs.Stat(s.logPath)
	if err != nil {
		return l.nowMs() // unknown: not expired
	}
	return st.ModTime().UnixMilli()
}

// deleteSegmentsWhile deletes segments from the oldest while each is below hw and pred holds
// (Kafka's deletableSegments then deleteSegments). Called with flushMu and mu held.
func (l *Log) deleteSegmentsWhile(hw int64, reason string, pred func(s, next *segment) bool, out *[]DeletedSegment) error {
	k := 0
	for k < len(l.segs) {
		s := l.segs[k]
		var next *segment
		upper := l.logEnd
		if k+1 < len(l.segs) {
			next = l.segs[k+1]
			upper = next.base
		}
		if next == nil && s.size == 0 {
			break // an empty active segment is never deleted
		}
		if hw < upper || !pred(s, next) {
			break
		}
		k++
	}
	if k == 0 {
		return nil
	}
	if k == len(l.segs) {
		// Every segment goes: roll first, so that the log keeps one at its end.
		if err := l.rollLocked(l.logEnd); err != nil {
			return err
		}
	}
	deleted := l.segs[:k:k]
	l.segs = append([]*segment(nil), l.segs[k:]...)
	if err := l.incrementLogStartLocked(l.segs[0].base, "segment deletion"); err != nil {
		return err
	}
	for i, s := range deleted {
		next := l.segs[0].base
		if i+1 < len(deleted) {
			next = deleted[i+1].base
		}
		d := DeletedSegment{BaseOffset: s.base, NextOffset: next, Size: s.size, LargestTimestamp: l.largestTimestamp(s), Reason: reason}
		l.size -= s.size
		l.dirGen++
		if err := s.removeAfter(l.fs, l.dir, l.fileDeleteDelay(), l.logger); err != nil {
			return err
		}
		*out = append(*out, d)
		l.logger.Info().Int64("offset", d.BaseOffset).Int64("next_offset", d.NextOffset).Int64("bytes", d.Size).
			Int64("largest_timestamp", d.LargestTimestamp).Str("reason", reason).Msg("deleted log segment")
	}
	if l.recoveryPoint < l.segs[0].base {
		l.recoveryPoint = l.segs[0].base
	}
	return l.deleteSnapshotsBelow(l.segs[0].base)
}

func (l *Log) fileDeleteDelay() time.Duration {
	return time.Duration(l.opts.FileDeleteDelayMs) * time.Millisecond
}

// IncrementLogStartOffset moves the log start offset forward to offset (DeleteRecords, or a
// follower taking its leader's log start); the segments then wholly below it are deleted by
// the next DeleteOldSegments, as in Kafka. It reports whether the offset moved; offset beyond
// the log end is ErrOffsetOutOfRange. The caller keeps offset at or below the high watermark.
func (l *Log) IncrementLogStartOffset(offset int64, reason string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return false, err
	}
	if offset > l.logEnd {
		return false, fmt.Errorf("%w: log start offset %d beyond the log end %d", ErrOffsetOutOfRange, offset, l.logEnd)
	}
	if offset <= l.logStart {
		return false, nil
	}
	if err := l.incrementLogStartLocked(offset, reason); err != nil {
		return true, l.fail(err)
	}
	return true, nil
}

// incrementLogStartLocked moves the log start offset forward: leader epochs and producer
// state before it are dropped. Called with mu held.
func (l *Log) incrementLogStartLocked(offset int64, reason string) error {
	if offset <= l.logStart {
		return nil
	}
	l.logStart = offset
	l.logger.Info().Int64("offset", offset).Str("reason", reason).Msg("incremented log start offset")
	l.producers.truncateHead(offset)
	if l.epochs.truncateFromStart(offset) {
		return l.writeEpochs()
	}
	return nil
}

// DeleteBefore advances the log start offset to offset and deletes the segments wholly below
// it at once (IncrementLogStartOffset followed by a pass that applies only the log start
// rule, unbounded by a high watermark). The active segment is never deleted. offset beyond
// the log end is ErrOffsetOutOfRange; an offset at or below the log start moves nothing.
func (l *Log) DeleteBefore(offset int64) error {
	if _, err := l.IncrementLogStartOffset(offset, "delete before"); err != nil {
		return err
	}
	_, err := l.DeleteOldSegments(RetentionPolicy{HighWatermark: offset})
	return err
}

// Reconfigure applies changed topic settings to an open log: the roll rules (SegmentBytes,
// SegmentMs), IndexIntervalBytes, MaxIndexBytes (for segments created from now on),
// FlushIntervalMessages and FileDeleteDelayMs. Other fields of o are ignored.
func (l *Log) Reconfigure(o Options) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.opts
	next.SegmentBytes = o.SegmentBytes
	next.SegmentMs = o.SegmentMs
	next.IndexIntervalBytes = o.IndexIntervalBytes
	next.MaxIndexBytes = o.MaxIndexBytes
	next.FlushIntervalMessages = o.FlushIntervalMessages
	next.FileDeleteDelayMs = o.FileDeleteDelayMs
	l.opts = next.withDefaults()
}
