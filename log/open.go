package log

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Open opens (creating if missing) the log in dir and recovers it:
//   - leftover *.deleted, *.cleaned and *.tmp files, index files without a
//     .log, and sub-directories named *-delete are removed; a segment swap
//     that was interrupted is completed or undone (see clean.go);
//   - segments from the one holding opts.RecoveryPoint onwards are scanned
//     batch by batch (length, magic 2, CRC-32C, increasing offsets) and their
//     indexes rebuilt; the first torn or corrupt batch and everything after it
//     is cut (one Warn line gives the offset and bytes dropped);
//   - any segment whose .index or .timeindex is missing or inconsistent is
//     rebuilt from its .log;
//   - the leader epoch cache is loaded and truncated to the log's range;
//   - producer state is loaded from the newest valid snapshot and rebuilt from
//     the batch headers after it.
func Open(dir string, opts Options) (*Log, error) {
	o := opts.withDefaults()
	l := &Log{
		dir:    dir,
		opts:   o,
		fs:     o.FS,
		logger: o.Logger.With().Str("dir", dir).Logger(),
	}
	if err := l.fs.MkdirAll(dir, defaultDirPerm); err != nil {
		return nil, err
	}
	bases, err := l.cleanDir()
	if err != nil {
		return nil, err
	}
	if err := l.loadSegments(bases); err != nil {
		l.closeSegments()
		return nil, err
	}
	if err := l.loadState(); err != nil {
		l.closeSegments()
		return nil, err
	}
	return l, nil
}

// cleanDir removes leftovers, completes or undoes an interrupted segment swap (see
// clean.go), and returns the segment base offsets, sorted.
func (l *Log) cleanDir() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	minCleaned := int64(math.MaxInt64)
	var cleaned, swaps []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(l.dir, name)
		if e.IsDir() {
			if strings.HasSuffix(name, deleteDirSuffix) {
				if err := l.fs.RemoveAll(path); err != nil {
					return nil, err
				}
			}
			continue
		}
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, tmpSuffix):
			if err := l.removeLeftover(name); err != nil {
				return nil, err
			}
		case strings.HasSuffix(name, cleanedSuffix):
			if off, ok := stemOffset(name); ok {
				minCleaned = min(minCleaned, off)
			}
			cleaned = append(cleaned, name)
		case strings.HasSuffix(name, swapSuffix):
			swaps = append(swaps, name)
		}
	}
	// A .swap file at or above the lowest .cleaned offset belongs to a swap that had not
	// finished renaming its files to .swap: it goes with the .cleaned files, and the
	// segments it would have replaced stay.
	var valid []string
	for _, name := range swaps {
		if off, ok := stemOffset(name); ok && off < minCleaned {
			valid = append(valid, name)
		} else if err := l.removeLeftover(name); err != nil {
			return nil, err
		}
	}
	for _, name := range cleaned {
		if err := l.removeLeftover(name); err != nil {
			return nil, err
		}
	}
	if len(valid) > 0 {
		if err := l.completeSwap(valid); err != nil {
			return nil, err
		}
	}
	return l.listSegments()
}

// removeLeftover removes a leftover file of the partition directory.
func (l *Log) removeLeftover(name string) error {
	if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	l.logger.Info().Str("file", name).Msg("removed leftover file")
	return nil
}

// completeSwap finishes a swap interrupted after its files were all renamed to .swap: the
// segment files whose base offsets fall in the range the .swap segments cover (from the
// lowest base to the offset after the last batch) are removed, then the .swap files lose
// their suffix.
func (l *Log) completeSwap(swaps []string) error {
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	for _, name := range swaps {
		base, ok := parseOffsetName(name, logSuffix+swapSuffix)
		if !ok {
			continue
		}
		next, err := l.nextOffsetOf(filepath.Join(l.dir, name), base)
		if err != nil {
			return err
		}
		from, to = min(from, base), max(to, next)
	}
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, swapSuffix) || !isSegmentFile(name) {
			continue
		}
		if off, ok := stemOffset(name); ok && off >= from && off < to {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			l.logger.Info().Str("file", name).Msg("removed a segment file replaced by an interrupted swap")
		}
	}
	for _, name := range swaps {
		final := strings.TrimSuffix(name, swapSuffix)
		if err := l.fs.Rename(filepath.Join(l.dir, name), filepath.Join(l.dir, final)); err != nil {
			return err
		}
		l.logger.Info().Str("file", final).Msg("completed an interrupted segment swap")
	}
	l.dirGen++
	return syncDir(l.fs, l.dir)
}

// nextOffsetOf is the offset after the last whole batch of a segment file (base when it has
// none), from its batch headers.
func (l *Log) nextOffsetOf(path string, base int64) (int64, error) {
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	next := base
	sc := newScanner(f, 0, st.Size(), false)
	for sc.next() {
		next = sc.h.lastOffset() + 1
	}
	if sc.stop == stopIOError {
		return 0, sc.err
	}
	return next, nil
}

// listSegments returns the base offsets of the .log files, sorted, removing index files
// that have no .log.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	have := map[int64]bool{}
	var indexes []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, logSuffix):
			if b, ok := parseOffsetName(name, logSuffix); ok {
				bases = append(bases, b)
				have[b] = true
			}
		case strings.HasSuffix(name, indexSuffix), strings.HasSuffix(name, timeIndexSuffix), strings.HasSuffix(name, txnIndexSuffix):
			indexes = append(indexes, name)
		}
	}
	for _, name := range indexes {
		if b, ok := stemOffset(name); ok && !have[b] {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// loadSegments opens every segment and recovers those that need it.
func (l *Log) loadSegments(bases []int64) error {
	now := l.nowMs()
	rp := l.opts.RecoveryPoint
	rpSeg := 0
	for i, b := range bases {
		if b <= rp {
			rpSeg = i
		}
	}
	for i, base := range bases {
		limit := int64(-1)
		if i+1 < len(bases) {
			limit = bases[i+1]
		}
		s, rebuild, err := openSegment(l.fs, l.dir, base, limit, &l.opts)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		from := int64(-1) // no scan
		switch {
		case rebuild:
			from = 0
			l.logger.Info().Int64("offset", base).Msg("rebuilding missing or inconsistent segment index")
		case i == rpSeg && rp > base:
			_, from = s.idx.lookup(rp)
		case i >= rpSeg:
			from = 0
		}
		if from < 0 {
			s.next = limit
			continue
		}
		cut, err := s.recoverFrom(from, limit, l.opts.IndexIntervalBytes, now)
		if err != nil {
			return err
		}
		// The indexes the scan rebuilt go to their files now: a sealed segment's are not
		// written again until the log closes.
		if err := s.writeIndexes(); err != nil {
			return err
		}
		if cut == 0 && limit >= 0 {
			s.next = limit
		}
		s.markTxnRebuild(rp)
		if cut > 0 {
			dropped := cut
			for _, b := range bases[i+1:] {
				n, err := l.removeSegmentFiles(b)
				if err != nil {
					return err
				}
				dropped += n
			}
			l.logger.Warn().Int64("offset", s.next).Int64("bytes", dropped).
				Msg("recovery cut a torn or corrupt log tail")
			break
		}
	}
	if len(l.segs) == 0 {
		s, err := createSegment(l.fs, l.dir, max(l.opts.LogStartOffset, 0), &l.opts)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		l.dirGen++
	}
	for _, s := range l.segs {
		l.size += s.size
	}
	l.logEnd = l.active().next
	return nil
}

// removeSegmentFiles deletes a segment that was never opened and returns the
// bytes of its .log.
func (l *Log) removeSegmentFiles(base int64) (int64, error) {
	var n int64
	if st, err := l.fs.Stat(segmentPath(l.dir, base, logSuffix)); err == nil {
		n = st.Size()
	}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := l.fs.Remove(segmentPath(l.dir, base, suf)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	l.dirGen++
	return n, nil
}

// loadState sets the log start offset, recovery point, leader epochs and
// producer state after the segments are loaded.
func (l *Log) loadState() error {
	l.logStart = max(l.opts.LogStartOffset, l.segs[0].base)
	l.epochs = &epochCache{}
	l.setProducers(newProducerState())
	if l.logStart > l.logEnd {
		l.logger.Warn().Int64("offset", l.logStart).Int64("log_end_offset", l.logEnd).
			Msg("log start offset beyond the log end: starting the log afresh at the log start offset")
		if err := l.truncateFullyLocked(l.logStart); err != nil {
			return err
		}
	}
	l.recoveryPoint = min(max(l.opts.RecoveryPoint, 0), l.logEnd)
	epochs, err := loadEpochCache(l.fs, l.epochPath())
	if err != nil {
		return err
	}
	l.epochs = epochs
	changed := l.epochs.truncateFromEnd(l.logEnd)
	changed = l.epochs.truncateFromStart(l.logStart) || changed
	if changed {
		if err := l.writeEpochs(); err != nil {
			return err
		}
	}
	return l.loadProducerState()
}

// snapshots lists producer snapshot offsets, ascending.
func (l *Log) snapshots() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if off, ok := parseOffsetName(e.Name(), snapshotSuffix); ok && !e.IsDir() {
			out = append(out, off)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// loadProducerState loads the newest valid snapshot at or below the log end
// (deleting newer ones and ones older than the oldest segment) and replays
// the batch headers after it. It also brings the transaction indexes up to
// date (rebuildTxnIndexes): from the first segment whose index cannot be
// trusted on, they are rebuilt by the same replay, started from a snapshot at
// or below that segment.
func (l *Log) loadProducerState() error {
	snaps, err := l.snapshots()
	if err != nil {
		return err
	}
	first := l.segs[0].base
	var valid []int64
	for i := len(snaps) - 1; i >= 0; i-- {
		off := snaps[i]
		if off > l.logEnd || off < first {
			if err := l.fs.Remove(segmentPath(l.dir, off, snapshotSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		valid = append(valid, off) // newest first
	}
	snap, from, err := l.newestSnapshot(valid, l.logEnd)
	if err != nil {
		return err
	}
	rebuildFrom := l.txnIndexesToRebuild(snap, from)
	if rebuildFrom >= 0 && rebuildFrom < from {
		if snap, from, err = l.newestSnapshot(valid, rebuildFrom); err != nil {
			return err
		}
	}
	state := snap.state
	if state == nil {
		state = newProducerState()
	}
	rebuilt := map[*segment][]AbortedTxn{}
	err = l.scanSegments(from, func(s *segment, h *batchHeader, m *marker) {
		c := state.update(h, m)
		if rebuildFrom >= 0 && s.base >= rebuildFrom && c != nil && c.aborted {
			rebuilt[s] = append(rebuilt[s], AbortedTxn{ProducerID: c.producerID, FirstOffset: c.firstOffset, LastOffset: c.lastOffset, LastStableOffset: c.lastStable})
		}
	})
	if err != nil {
		return fmt.Errorf("log: rebuilding producer state: %w", err)
	}
	if rebuildFrom >= 0 {
		if err := l.writeRebuiltTxnIndexes(rebuildFrom, rebuilt); err != nil {
			return err
		}
	}
	state.truncateHead(l.logStart)
	l.setProducers(state)
	return nil
}

// newestSnapshot decodes the newest valid snapshot at or below upTo among offsets (newest
// first), removing unreadable ones; without one, it returns an empty snapshot and the first
// segment's base, where a replay then starts.
func (l *Log) newestSnapshot(offsets []int64, upTo int64) (producerSnapshot, int64, error) {
	for _, off := range offsets {
		if off > upTo {
			continue
		}
		path := segmentPath(l.dir, off, snapshotSuffix)
		data, err := readFile(l.fs, path)
		var snap producerSnapshot
		if err == nil {
			snap, err = decodeProducerSnapshot(data, off)
		}
		if err == nil {
			return snap, off, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by an earlier pass
		}
		l.logger.Warn().Err(err).Int64("offset", off).Msg("ignoring unreadable producer snapshot")
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return producerSnapshot{}, 0, err
		}
	}
	return producerSnapshot{}, l.segs[0].base, nil
}

// abortedCounts is what a snapshot records of the transaction indexes: entries per
// segment, for the segments that have any.
func (l *Log) abortedCounts() map[int64]int32 {
	out := map[int64]int32{}
	for _, s := range l.segs {
		if n := len(s.txn.entries); n > 0 {
			out[s.base] = int32(n)
		}
	}
	return out
}

// scanSegments is scanHeaders that also tells which segment each batch is in.
func (l *Log) scanSegments(from int64, fn func(s *segment, h *batchHeader, m *marker)) error {
	for i := l.segmentFor(from); i < len(l.segs); i++ {
		s := l.segs[i]
		_, pos := s.idx.lookup(from)
		sc := newScanner(s.log, pos, s.size, false)
		for sc.next() {
			if sc.h.BaseOffset >= from {
				fn(s, &sc.h, sc.controlMarker())
			}
		}
		if sc.stop == stopIOError {
			return sc.err
		}
	}
	return nil
}

// scanHeaders calls fn for every batch whose base offset is >= from, in
// order, reading only headers (and the marker of control batches).
func (l *Log) scanHeaders(from int64, fn func(h *batchHeader, m *marker)) error {
	return l.scanSegments(from, func(_ *segment, h *batchHeader, m *marker) { fn(h, m) })
}

// writeSnapshot stores the producer state as "<offset>.snapshot".
func (l *Log) writeSnapshot(offset int64) error {
	return writeFileAtomic(l.fs, segmentPath(l.dir, offset, snapshotSuffix), l.producers.encode(offset, l.abortedCounts()))
}

// deleteSnapshotsBelow removes snapshots older than offset.
func (l *Log) deleteSnapshotsBelow(offset int64) error {
	return l.deleteSnapshotsWhere(func(off int64) bool { return off < offset })
}

func (l *Log) deleteSnapshotsWhere(drop func(int64) bool) error {
	snaps, err := l.snapshots()
	if err != nil {
		return err
	}
	for _, off := range snaps {
		if drop(off) {
			if err := l.fs.Remove(segmentPath(l.dir, off, snapshotSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

func (l *Log) closeSegments() {
	for _, s := range l.segs {
		_ = s.close()
	}
}
