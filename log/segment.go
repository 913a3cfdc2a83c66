package log

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// segment is one .log file with its two indexes. All fields are guarded by
// the Log's mutex; the files are read with ReadAt under the read lock.
type segment struct {
	base     int64
	logPath  string
	log      *sharedFile // the .log file; Regions handed to readers hold references to it
	size     int64       // bytes of data (the file size)
	idx      *offsetIndex
	tidx     *timeIndex
	next     int64     // offset after the last batch (known for the active segment and after a scan)
	sinceIdx int64     // bytes appended since the last index entry
	maxTs    int64     // largest batch max timestamp, or -1
	offMaxTs int64     // last offset of the first batch that reached maxTs
	rollMs   int64     // time of the first append (ms) for log.roll.ms; 0 = empty
	txn      *txnIndex // aborted transactions whose abort marker is in this segment (txnindex.go)
	// txnRebuild: the .txnindex was torn or inconsistent; Open rebuilds it from the log.
	txnRebuild bool
}

// createSegment creates empty files for a segment starting at base.
func createSegment(fsys FS, dir string, base int64, o *Options) (*segment, error) {
	return createSegmentFiles(fsys, dir, base, o, "")
}

// createSegmentFiles creates empty files for a segment starting at base, each name ending
// with extra after its usual suffix (".cleaned" for a segment the cleaner writes).
func createSegmentFiles(fsys FS, dir string, base int64, o *Options, extra string) (*segment, error) {
	for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := fsys.Remove(segmentPath(dir, base, suf+extra)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	path := segmentPath(dir, base, logSuffix+extra)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, defaultFilePerm)
	if err != nil {
		return nil, err
	}
	s := &segment{base: base, logPath: path, log: newSharedFile(f), next: base, maxTs: noTimestamp, offMaxTs: base,
		txn: &txnIndex{fs: fsys, path: segmentPath(dir, base, txnIndexSuffix+extra)}}
	if s.idx, err = loadOffsetIndex(fsys, segmentPath(dir, base, indexSuffix+extra), base, o.MaxIndexBytes, 0, -1); err != nil {
		_ = s.close()
		return nil, err
	}
	if s.tidx, err = loadTimeIndex(fsys, segmentPath(dir, base, timeIndexSuffix+extra), base, o.MaxIndexBytes, -1); err != nil {
		_ = s.close()
		return nil, err
	}
	return s, nil
}

// renameFiles renames the segment's files from names ending with from after their usual
// suffix to names ending with to, the .log first, and follows them in the segment's paths.
func (s *segment) renameFiles(fsys FS, dir, from, to string) error {
	moves := []struct {
		suffix string
		path   *string
	}{{logSuffix, &s.logPath}, {indexSuffix, &s.idx.path}, {timeIndexSuffix, &s.tidx.path}}
	for _, m := range moves {
		oldPath, newPath := segmentPath(dir, s.base, m.suffix+from), segmentPath(dir, s.base, m.suffix+to)
		if err := fsys.Rename(oldPath, newPath); err != nil {
			return err
		}
		*m.path = newPath
	}
	s.idx.f.setPath(s.idx.path)
	s.tidx.f.setPath(s.tidx.path)
	if s.txn != nil {
		// The transaction index exists only once an aborted transaction was recorded.
		newPath := segmentPath(dir, s.base, txnIndexSuffix+to)
		if err := fsys.Rename(segmentPath(dir, s.base, txnIndexSuffix+from), newPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		s.txn.path = newPath
	}
	return nil
}

// openSegment opens an existing segment. limit is the next segment's base
// (-1 for the last segment). rebuild reports that an index was missing or
// inconsistent and has been emptied: the caller must scan the whole segment.
func openSegment(fsys FS, dir string, base, limit int64, o *Options) (s *segment, rebuild bool, err error) {
	path := segmentPath(dir, base, logSuffix)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_APPEND, defaultFilePerm)
	if err != nil {
		return nil, false, err
	}
	s = &segment{base: base, logPath: path, log: newSharedFile(f), next: base, maxTs: noTimestamp, offMaxTs: base}
	st, err := f.Stat()
	if err != nil {
		_ = s.close()
		return nil, false, err
	}
	s.size = st.Size()
	idxPath, tidxPath := segmentPath(dir, base, indexSuffix), segmentPath(dir, base, timeIndexSuffix)
	idxThere, err := indexExists(fsys, idxPath)
	if err != nil {
		_ = s.close()
		return nil, false, err
	}
	tidxThere, err := indexExists(fsys, tidxPath)
	if err != nil {
		_ = s.close()
		return nil, false, err
	}
	rebuild = s.size > 0 && (!idxThere || !tidxThere)
	s.idx, err = loadOffsetIndex(fsys, idxPath, base, o.MaxIndexBytes, s.size, limit)
	if errors.Is(err, errInconsistentIndex) {
		rebuild, err = true, nil
	}
	if err != nil {
		_ = s.close()
		return nil, false, err
	}
	s.tidx, err = loadTimeIndex(fsys, tidxPath, base, o.MaxIndexBytes, limit)
	if errors.Is(err, errInconsistentIndex) {
		rebuild, err = true, nil
	}
	if err != nil {
		_ = s.close()
		return nil, false, err
	}
	if rebuild {
		if err := s.idx.reset(); err != nil {
			_ = s.close()
			return nil, false, err
		}
		if err := s.tidx.reset(); err != nil {
			_ = s.close()
			return nil, false, err
		}
	} else {
		s.maxTs, s.offMaxTs = s.tidx.last()
	}
	if err := s.loadTxnIndex(fsys, dir, limit); err != nil {
		_ = s.close()
		return nil, false, err
	}
	return s, rebuild, nil
}

// recoverFrom validates the batches from position from (0, or the position
// of an offset index entry) to the end of the file, checking CRCs, offsets
// (increasing, below limit when limit >= 0), adding index entries as an
// append would have, and cutting the file at the first torn or corrupt
// batch. It returns the bytes cut. Afterwards s.next, maxTs, sinceIdx and
// rollMs describe the segment.
func (s *segment) recoverFrom(from, limit int64, interval int32, nowMs int64) (int64, error) {
	if from == 0 {
		if err := s.idx.reset(); err != nil {
			return 0, err
		}
		if err := s.tidx.reset(); err != nil {
			return 0, err
		}
		s.maxTs, s.offMaxTs = noTimestamp, s.base
	} else {
		if err := s.idx.truncateToPos(from + 1); err != nil {
			return 0, err
		}
		entryOff, _ := s.idx.lookup(1<<62 - 1)
		if err := s.tidx.truncateToOffset(entryOff + 1); err != nil {
			return 0, err
		}
		s.maxTs, s.offMaxTs = s.tidx.last()
	}
	lastEntryPos := s.idx.lastPos()
	sc := newScanner(s.log, from, s.size, true)
	s.next = s.base
	for sc.next() {
		h := &sc.h
		if h.BaseOffset < s.next || h.lastOffset()-s.base > 1<<31-1 || (limit >= 0 && h.lastOffset() >= limit) {
			sc.stop = stopCorrupt
			sc.pos = sc.at
			break
		}
		if h.MaxTimestamp > s.maxTs {
			s.maxTs, s.offMaxTs = h.MaxTimestamp, h.lastOffset()
		}
		if sc.at-lastEntryPos > int64(interval) {
			if err := s.idx.append(h.lastOffset(), sc.at); err != nil {
				return 0, err
			}
			if err := s.tidx.maybeAppend(s.maxTs, s.offMaxTs); err != nil {
				return 0, err
			}
			lastEntryPos = sc.at
		}
		s.next = h.lastOffset() + 1
	}
	if sc.stop == stopIOError {
		return 0, sc.err
	}
	if from > 0 && sc.pos == from && sc.pos < s.size {
		// the batch at the index entry itself is bad: the end offset of the
		// data before it is unknown, so scan the whole segment instead
		return s.recoverFrom(0, limit, interval, nowMs)
	}
	cut := s.size - sc.pos
	if cut > 0 {
		if err := s.truncateToPos(sc.pos); err != nil {
			return 0, err
		}
		if err := s.tidx.truncateToOffset(s.next); err != nil {
			return 0, err
		}
	}
	s.sinceIdx = s.size - lastEntryPos
	return cut, s.loadRollMs(nowMs)
}

// loadRollMs sets the time log.roll.ms counts from for a segment read from
// disk: its first batch's max timestamp (Kafka's rule), or now when that is
// missing or in the future.
func (s *segment) loadRollMs(nowMs int64) error {
	s.rollMs = 0
	if s.size < batchHeaderSize {
		return nil
	}
	var hb [batchHeaderSize]byte
	if _, err := s.log.ReadAt(hb[:], 0); err != nil {
		return err
	}
	h := parseBatchHeader(hb[:])
	s.rollMs = h.MaxTimestamp
	if s.rollMs <= 0 || s.rollMs > nowMs {
		s.rollMs = nowMs
	}
	return nil
}

// truncateToPos cuts the log file (and index entries) at position pos.
func (s *segment) truncateToPos(pos int64) error {
	if err := s.log.Truncate(pos); err != nil {
		return err
	}
	s.size = pos
	return s.idx.truncateToPos(pos)
}

// appendBatch writes one batch (offsets already assigned) and maintains the
// indexes the way Kafka's LogSegment.append does.
func (s *segment) appendBatch(b []byte, h *batchHeader, interval int32, nowMs int64) error {
	if _, err := s.log.Write(b); err != nil {
		return err
	}
	return s.track(h, interval, nowMs)
}

// track accounts for a batch of h.size() bytes written at the end of the file: size,
// timestamps and index entries.
func (s *segment) track(h *batchHeader, interval int32, nowMs int64) error {
	pos := s.size
	s.size += h.size()
	if s.rollMs == 0 {
		s.rollMs = nowMs
	}
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.offMaxTs = h.MaxTimestamp, h.lastOffset()
	}
	if s.sinceIdx > int64(interval) {
		if err := s.idx.append(h.lastOffset(), pos); err != nil {
			return err
		}
		if err := s.tidx.maybeAppend(s.maxTs, s.offMaxTs); err != nil {
			return err
		}
		s.sinceIdx = 0
	}
	s.sinceIdx += h.size()
	s.next = h.lastOffset() + 1
	return nil
}

// find returns the position and header of the first batch whose last offset
// is >= offset, scanning from the index; ok is false when there is none.
func (s *segment) find(offset int64, chunk int) (*scanner, bool, error) {
	_, pos := s.idx.lookup(offset)
	sc := newScanner(s.log, pos, s.size, false)
	sc.chunk = chunk
	for sc.next() {
		if sc.h.lastOffset() >= offset {
			return sc, true, nil
		}
	}
	if sc.stop == stopIOError {
		return nil, false, sc.err
	}
	return sc, false, nil
}

// sealTimeIndex appends the final time index entry, as Kafka does when a
// segment stops being active (roll) or the log closes, so the last entry
// carries the segment's max timestamp.
func (s *segment) sealTimeIndex() error {
	if s.size == 0 {
		return nil
	}
	return s.tidx.maybeAppend(s.maxTs, s.offMaxTs)
}

// writeIndexes appends the pending index entries to their files (no fsync); a sealed
// segment's index files are then complete.
func (s *segment) writeIndexes() error {
	if err := s.idx.f.writeOut(false); err != nil {
		return err
	}
	return s.tidx.f.writeOut(false)
}

func (s *segment) sync() error {
	if err := s.log.Sync(); err != nil {
		return err
	}
	if err := s.syncTxnIndex(); err != nil {
		return err
	}
	if err := s.idx.f.writeOut(true); err != nil {
		return err
	}
	return s.tidx.f.writeOut(true)
}

func (s *segment) close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if s.log != nil {
		keep(s.log.Close())
	}
	if s.idx != nil && s.idx.f != nil {
		keep(s.idx.f.writeOut(false))
	}
	if s.tidx != nil && s.tidx.f != nil {
		keep(s.tidx.f.writeOut(false))
	}
	return first
}

// remove closes the segment and deletes its files at once (see removeAfter).
func (s *segment) remove(fsys FS, dir string) error {
	return s.removeAfter(fsys, dir, 0, zerolog.Nop())
}

// removeAfter closes the segment and deletes its files: each is first renamed to
// "<name>.deleted" (so a crash leaves only files recovery removes), the .log first so that
// the segment disappears from the log atomically; the renamed files are removed after delay
// (file.delete.delay.ms), at once when delay <= 0. Readers holding a Region keep the .log
// open, so a fetch in flight reads on whatever happens to the names.
func (s *segment) removeAfter(fsys FS, dir string, delay time.Duration, logger zerolog.Logger) error {
	_ = s.close()
	paths := []string{
		segmentPath(dir, s.base, logSuffix),
		segmentPath(dir, s.base, indexSuffix),
		segmentPath(dir, s.base, timeIndexSuffix),
		segmentPath(dir, s.base, txnIndexSuffix),
	}
	renamed := paths[:0:0]
	for _, p := range paths {
		if err := fsys.Rename(p, p+deletedSuffix); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		renamed = append(renamed, p+deletedSuffix)
	}
	if delay <= 0 {
		return removeFiles(fsys, renamed)
	}
	time.AfterFunc(delay, func() {
		if err := removeFiles(fsys, renamed); err != nil {
			logger.Warn().Err(err).Int64("offset", s.base).Msg("removing the files of a deleted segment")
		}
	})
	return nil
}

// removeFiles removes paths, ignoring those already gone.
func removeFiles(fsys FS, paths []string) error {
	for _, p := range paths {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
