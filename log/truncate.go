package log

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// TruncateTo drops everything at or after offset (follower divergence), and
// every leader epoch entry that starts at or after the new log end. The
// batch containing offset is removed whole, so the new log end offset is
// that batch's base offset (normally offset itself). Segments are removed
// newest first and the cut segment is fsynced, so a crash leaves a prefix of
// the old log. Indexes, producer state (reloaded from the newest snapshot at
// or below the new end) and leader epochs follow. An offset below the first
// segment truncates the log fully and restarts it at offset.
func (l *Log) TruncateTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: truncate to %d", ErrOffsetOutOfRange, offset)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset >= l.logEnd {
		// Nothing to cut, but an epoch may start at the log end without a batch in it (this
		// broker became leader and was replaced before its first append): drop it, as Kafka
		// does, or the follower would keep announcing an epoch the leader never had.
		if l.epochs.truncateFromEnd(l.logEnd) {
			if err := l.writeEpochs(); err != nil {
				return l.fail(err)
			}
		}
		return nil
	}
	if offset < l.segs[0].base {
		if err := l.truncateFullyLocked(offset); err != nil {
			return l.fail(err)
		}
		return nil
	}
	if err := l.truncateLocked(offset); err != nil {
		return l.fail(err)
	}
	return nil
}

func (l *Log) truncateLocked(offset int64) error {
	for len(l.segs) > 1 && l.active().base > offset {
		s := l.active()
		l.segs = l.segs[:len(l.segs)-1]
		l.size -= s.size
		l.dirGen++
		if err := s.remove(l.fs, l.dir); err != nil {
			return err
		}
	}
	s := l.active()
	sc, found, err := s.find(offset, 0)
	if err != nil {
		return err
	}
	if found {
		newEnd := sc.h.BaseOffset
		cut := s.size - sc.at
		if err := s.truncateToPos(sc.at); err != nil {
			return err
		}
		if err := s.tidx.truncateToOffset(newEnd); err != nil {
			return err
		}
		if err := s.sync(); err != nil {
			return err
		}
		l.size -= cut
		s.next = newEnd
		if err := l.recomputeMaxTs(s); err != nil {
			return err
		}
		s.sinceIdx = s.size - s.idx.lastPos()
		if err := s.loadRollMs(l.nowMs()); err != nil {
			return err
		}
	} else {
		s.next = offset // every batch ends below offset (a gap, as after compaction)
	}
	if err := s.txn.truncateTo(s.next); err != nil {
		return err
	}
	l.logEnd = s.next
	if l.recoveryPoint > l.logEnd {
		l.recoveryPoint = l.logEnd
	}
	if l.logStart > l.logEnd {
		l.logStart = l.logEnd
	}
	if l.epochs.truncateFromEnd(l.logEnd) {
		if err := l.writeEpochs(); err != nil {
			return err
		}
	}
	end := l.logEnd
	if err := l.deleteSnapshotsWhere(func(off int64) bool { return off > end }); err != nil {
		return err
	}
	return l.loadProducerState()
}

// recomputeMaxTs restores a truncated segment's max timestamp: the last time
// index entry, then every batch after that entry's batch.
func (l *Log) recomputeMaxTs(s *segment) error {
	s.maxTs, s.offMaxTs = s.tidx.last()
	_, pos := s.idx.lookup(s.offMaxTs)
	sc := newScanner(s.log, pos, s.size, false)
	for sc.next() {
		if sc.h.MaxTimestamp > s.maxTs {
			s.maxTs, s.offMaxTs = sc.h.MaxTimestamp, sc.h.lastOffset()
		}
	}
	if sc.stop == stopIOError {
		return sc.err
	}
	return nil
}

// TruncateFullyAndStartAt removes every segment and starts an empty log at
// offset (a follower whose leader's log start is beyond its log end).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: start at %d", ErrOffsetOutOfRange, offset)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := l.truncateFullyLocked(offset); err != nil {
		return l.fail(err)
	}
	return nil
}

func (l *Log) truncateFullyLocked(offset int64) error {
	for len(l.segs) > 0 {
		s := l.segs[len(l.segs)-1]
		l.segs = l.segs[:len(l.segs)-1]
		if err := s.remove(l.fs, l.dir); err != nil {
			return err
		}
	}
	l.dirGen++
	s, err := createSegment(l.fs, l.dir, offset, &l.opts)
	if err != nil {
		return err
	}
	l.segs = []*segment{s}
	l.size = 0
	l.logStart, l.logEnd, l.recoveryPoint = offset, offset, offset
	l.epochs.entries = nil
	if err := l.writeEpochs(); err != nil {
		return err
	}
	l.setProducers(newProducerState())
	if err := l.deleteSnapshotsWhere(func(int64) bool { return true }); err != nil {
		return err
	}
	return syncDir(l.fs, l.dir)
}

// Close flushes, seals the active segment's time index, writes a producer
// snapshot at the log end and closes the files. Closing twice is a no-op.
func (l *Log) Close() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if l.failed == nil {
		keep(l.active().sealTimeIndex())
		for _, s := range l.segs[l.segmentFor(l.recoveryPoint):] {
			keep(s.sync())
		}
		if l.dirGen != l.dirSynced {
			keep(syncDir(l.fs, l.dir))
		}
		if first == nil {
			l.recoveryPoint = l.logEnd
		}
		keep(l.writeSnapshot(l.logEnd))
	}
	for _, s := range l.segs {
		keep(s.close())
	}
	return first
}

// Delete closes the log and removes its directory: it is first renamed to
// "<dir>.<random>-delete" (which Open and ScanLogDir remove if a crash
// interrupts), then removed.
func (l *Log) Delete() error {
	// A flush error on the way out no longer matters: the data is going.
	_ = l.Close()
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	target := l.dir + "." + hex.EncodeToString(rnd[:]) + deleteDirSuffix
	if err := l.fs.Rename(l.dir, target); err != nil {
		return err
	}
	if err := syncDir(l.fs, filepath.Dir(l.dir)); err != nil {
		l.logger.Warn().Err(err).Msg("could not fsync the log directory after renaming a deleted partition")
	}
	if err := l.fs.RemoveAll(target); err != nil {
		return err
	}
	return nil
}
