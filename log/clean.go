package log

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
)

// The cleaner's narrow view of a log (used by package log/cleaner, which never touches a
// log's files itself):
//
//   - SealedSegments hands out the segments below an offset, never the active one, each
//     holding its file open until released, to be read batch by batch (SealedSegment.Batches);
//   - NewCleanedSegment creates "<base>.log.cleaned" (with its .index.cleaned and
//     .timeindex.cleaned) that the cleaner appends its output to;
//   - ReplaceSegments swaps a cleaned segment in for the sealed segments it was made from,
//     crash-safely, with Kafka's protocol (LocalLog.replaceSegments):
//
//     1. the cleaned files are fsynced, then renamed .cleaned -> .swap, and the directory
//     fsynced;
//     2. the old segments leave the segment list and their files are renamed to .deleted
//     (removed after file.delete.delay.ms), and the directory fsynced;
//     3. the .swap files are renamed to their final names, and the directory fsynced.
//
//     Open finishes or undoes an interrupted swap (see cleanDir): .cleaned files are
//     removed; .swap files at or above the lowest .cleaned offset belong to a swap that had
//     not finished step 1 and are removed too; the other .swap segments replace the segment
//     files whose base offsets fall in their offset range, and lose their suffix.
//
// A swap is refused with ErrCleaningAborted when the sealed segments are no longer exactly
// those in the log (a truncation or a retention pass removed or cut one meanwhile).
//
// ActiveProducers and SegmentTimestamps give the cleaner what it decides with besides the
// records: the batches that carry each producer's state, and the segment timestamps the
// compaction lags are measured against.
//
// Transactions, as Kafka's LogCleaner handles them: AbortedTxns names the aborted
// transactions of the range being cleaned, whose batches the cleaner drops; the aborted
// transactions whose abort markers a cleaned segment keeps are given to it with
// CleanedSegment.AddAbortedTxn, and become its .txnindex (written as
// "<base>.txnindex.cleaned" and swapped with the other files). The owner bounds cleaning by
// the last stable offset, so no batch of a transaction still open is ever rewritten. After a
// swap that changed a .txnindex, a producer snapshot is written at the log end, so that the
// per-segment counts it records (which Open checks to find a lost .txnindex) match the new
// segments.

// ErrCleaningAborted: the segments a cleaning pass read changed before its swap.
var ErrCleaningAborted = errors.New("log: cleaning aborted: the segments changed meanwhile")

// ProducerLast is what the cleaner must keep of an active producer (Kafka's LastRecord):
// the batch ending at LastDataOffset, or, when it has written no data batch in its current
// epoch (LastDataOffset -1), its last control batch of epoch Epoch.
type ProducerLast struct {
	LastDataOffset int64
	Epoch          int16
}

// ActiveProducers returns every producer id the log's producer state holds.
func (l *Log) ActiveProducers() map[int64]ProducerLast {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make(map[int64]ProducerLast, len(l.producers.m))
	for id, e := range l.producers.m {
		last := ProducerLast{LastDataOffset: -1, Epoch: e.epoch}
		if n := len(e.batches); n > 0 {
			last.LastDataOffset = e.batches[n-1].lastOffset
		}
		out[id] = last
	}
	return out
}

// SegmentTimestamps returns, for the segment starting at base, Kafka's
// LogSegment.largestTimestamp (the largest record timestamp, else the .log file's
// modification time) and getFirstBatchTimestamp (the first batch's max timestamp,
// math.MaxInt64 when the segment is empty or has no timestamp).
func (l *Log) SegmentTimestamps(base int64) (largest, first int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, ErrClosed
	}
	i := l.segmentFor(base)
	s := l.segs[i]
	if s.base != base {
		return 0, 0, fmt.Errorf("%w: no segment at %d", ErrCleaningAborted, base)
	}
	first = math.MaxInt64
	if s.size >= batchHeaderSize {
		var hb [batchHeaderSize]byte
		if _, err := s.log.ReadAt(hb[:], 0); err != nil {
			return 0, 0, err
		}
		if h := parseBatchHeader(hb[:]); h.MaxTimestamp >= 0 {
			first = h.MaxTimestamp
		}
	}
	return l.largestTimestamp(s), first, nil
}

// SealedSegment is a segment that is not the active one, held open for the cleaner.
type SealedSegment struct {
	BaseOffset     int64
	NextOffset     int64 // base offset of the next segment
	Size           int64
	IndexBytes     int64 // size of its offset index
	TimeIndexBytes int64 // size of its time index

	seg *segment
	ref *sharedFile
	l   *Log
}

// SealedSegments returns the segments whose base offset is below upTo, oldest first, never
// the active one. Each holds its file open until Release.
func (l *Log) SealedSegments(upTo int64) ([]*SealedSegment, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	var out []*SealedSegment
	for i := 0; i+1 < len(l.segs) && l.segs[i].base < upTo; i++ {
		s := l.segs[i]
		s.log.acquire()
		out = append(out, &SealedSegment{
			BaseOffset: s.base, NextOffset: l.segs[i+1].base, Size: s.size,
			IndexBytes:     int64(len(s.idx.entries)) * offsetIndexEntrySize,
			TimeIndexBytes: int64(len(s.tidx.entries)) * timeIndexEntrySize,
			seg:            s, ref: s.log, l: l,
		})
	}
	return out, nil
}

// Release lets go of the segment's file. Safe to call more than once.
func (s *SealedSegment) Release() {
	if s.ref != nil {
		_ = s.ref.release()
		s.ref = nil
	}
}

// Batches calls fn with every whole batch of the segment whose last offset is at least
// from, in order, each checked against its CRC. batch is valid only during the call; an
// error from fn stops the walk and is returned. A corrupt or torn batch is an error.
func (s *SealedSegment) Batches(from int64, fn func(batch []byte) error) error {
	s.l.mu.RLock()
	_, pos := s.seg.idx.lookup(from)
	s.l.mu.RUnlock()
	sc := newScanner(s.ref, pos, s.Size, true)
	for sc.next() {
		if sc.h.lastOffset() < from {
			continue
		}
		if err := fn(sc.batch); err != nil {
			return err
		}
	}
	switch sc.stop {
	case stopEnd:
		return nil
	case stopIOError:
		return sc.err
	default:
		return fmt.Errorf("%w: segment %d of %s at position %d", ErrCorruptBatch, s.BaseOffset, s.l.dir, sc.pos)
	}
}

// cleanedWriteBuffer is how many bytes of batches a cleaned segment gathers before it writes
// them to its file.
const cleanedWriteBuffer = 1 << 20

// CleanedSegment is a segment the cleaner writes ("<base>.log.cleaned" and its indexes),
// swapped in by ReplaceSegments or removed by Abort. Batches are gathered in memory and
// written in large chunks. Not safe for concurrent use.
type CleanedSegment struct {
	l    *Log
	seg  *segment
	buf  []byte
	opts Options // the log's options when the segment was created
}

// NewCleanedSegment creates the files of a cleaned segment starting at base.
func (l *Log) NewCleanedSegment(base int64) (*CleanedSegment, error) {
	l.mu.RLock()
	closed := l.closed
	opts := l.opts
	l.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	s, err := createSegmentFiles(l.fs, l.dir, base, &opts, cleanedSuffix)
	if err != nil {
		return nil, err
	}
	return &CleanedSegment{l: l, seg: s, opts: opts}, nil
}

// Append writes one whole batch, which must start at or after the end of the previous one
// and stay within the segment's offset range, and indexes it as an append would.
func (c *CleanedSegment) Append(batch []byte) error {
	h, ok := splitBatch(batch)
	if !ok || h.size() != int64(len(batch)) {
		return fmt.Errorf("%w: not exactly one batch (%d bytes)", ErrCorruptBatch, len(batch))
	}
	s := c.seg
	if h.BaseOffset < s.next || h.lastOffset()-s.base > math.MaxInt32 || s.size+h.size() > maxSegmentPosition {
		return fmt.Errorf("%w: batch [%d, %d] after %d in a cleaned segment based at %d", ErrUnexpectedOffset, h.BaseOffset, h.lastOffset(), s.next, s.base)
	}
	c.buf = append(c.buf, batch...)
	if err := s.track(&h, c.opts.IndexIntervalBytes, c.opts.Now().UnixMilli()); err != nil {
		return err
	}
	if len(c.buf) >= cleanedWriteBuffer {
		return c.writeOut()
	}
	return nil
}

// writeOut writes the gathered batches to the file.
func (c *CleanedSegment) writeOut() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.seg.log.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// Size is the bytes written so far.
func (c *CleanedSegment) Size() int64 { return c.seg.size }

// AddAbortedTxn records an aborted transaction whose abort marker the cleaned segment keeps,
// in the segment's transaction index (Kafka's cleanedIndex.append). Entries come in marker
// order, each within the segment's offset range; the index is written by ReplaceSegments.
func (c *CleanedSegment) AddAbortedTxn(a AbortedTxn) error {
	x := c.seg.txn
	if a.LastOffset < c.seg.base || a.FirstOffset > a.LastOffset ||
		(len(x.entries) > 0 && a.LastOffset <= x.entries[len(x.entries)-1].LastOffset) {
		return fmt.Errorf("%w: aborted transaction %+v out of order in a cleaned segment based at %d", errInconsistentTxnIndex, a, c.seg.base)
	}
	x.entries = append(x.entries, a)
	return nil
}

// Abort closes and removes the cleaned segment's files.
func (c *CleanedSegment) Abort() {
	_ = c.seg.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		for _, extra := range []string{cleanedSuffix, swapSuffix} {
			if err := c.l.fs.Remove(segmentPath(c.l.dir, c.seg.base, suf+extra)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.l.logger.Warn().Err(err).Int64("offset", c.seg.base).Msg("removing an aborted cleaned segment")
			}
		}
	}
}

// ReplaceSegments swaps c in for old, which must be consecutive sealed segments of the log
// starting at c's base offset (see the protocol above). c is consumed: on any error its
// files are removed, unless the error came after they were renamed to .swap, in which case
// the log stops accepting writes (ErrLogFailed) and Open completes the swap.
func (l *Log) ReplaceSegments(c *CleanedSegment, old []*SealedSegment) error {
	s := c.seg
	err := c.writeOut()
	if err == nil && len(s.txn.entries) > 0 {
		err = s.txn.rewrite()
	}
	if err == nil {
		err = s.sealTimeIndex()
	}
	if err == nil {
		err = s.sync()
	}
	if err != nil {
		c.Abort()
		return err
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		c.Abort()
		return err
	}
	at := l.placeOf(old, s.base)
	if at < 0 {
		c.Abort()
		return ErrCleaningAborted
	}
	s.next = l.segs[at+len(old)].base
	if n := len(s.txn.entries); n > 0 && s.txn.entries[n-1].LastOffset >= s.next {
		c.Abort()
		return fmt.Errorf("%w: aborted transaction ending at %d beyond the cleaned segment [%d, %d)",
			errInconsistentTxnIndex, s.txn.entries[n-1].LastOffset, s.base, s.next)
	}
	txnChanged := len(s.txn.entries) > 0
	for _, o := range old {
		txnChanged = txnChanged || len(o.seg.txn.entries) > 0
	}
	if err := s.renameFiles(l.fs, l.dir, cleanedSuffix, swapSuffix); err != nil {
		c.Abort()
		return l.fail(err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	segs := make([]*segment, 0, len(l.segs)-len(old)+1)
	segs = append(append(append(segs, l.segs[:at]...), s), l.segs[at+len(old):]...)
	l.segs = segs
	l.size += s.size
	l.dirGen++
	for _, o := range old {
		l.size -= o.seg.size
		if err := o.seg.removeAfter(l.fs, l.dir, l.fileDeleteDelay(), l.logger); err != nil {
			return l.fail(err)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	if err := s.renameFiles(l.fs, l.dir, swapSuffix, ""); err != nil {
		return l.fail(err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	l.dirSynced = l.dirGen
	if txnChanged {
		// Without it Open would find the counts of the last snapshot off and rebuild the
		// transaction indexes from the log, which is correct but slow.
		if err := l.writeSnapshot(l.logEnd); err != nil {
			l.logger.Warn().Err(err).Int64("offset", l.logEnd).Msg("could not write producer snapshot")
		}
	}
	return nil
}

// placeOf returns the index in l.segs of old[0] when old are still consecutive segments of
// the log, unchanged in size, starting at base and ending before the active segment; -1
// otherwise. Called with mu held.
func (l *Log) placeOf(old []*SealedSegment, base int64) int {
	if len(old) == 0 || old[0].BaseOffset != base {
		return -1
	}
	at := -1
	for i, s := range l.segs {
		if s == old[0].seg {
			at = i
			break
		}
	}
	if at < 0 || at+len(old) >= len(l.segs) {
		return -1
	}
	for j, o := range old {
		if l.segs[at+j] != o.seg || o.seg.size != o.Size {
			return -1
		}
	}
	return at
}
