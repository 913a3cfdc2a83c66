package log

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
)

// AbortedTxn is one entry of a segment's aborted-transaction index (.txnindex): the
// producer's transaction spanned [FirstOffset, LastOffset] (LastOffset is its abort
// marker), and LastStableOffset is what the last stable offset was once it was aborted.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// abortedTxnSize is Kafka's AbortedTxn.TOTAL_SIZE: int16 version (0), int64 producerId,
// int64 firstOffset, int64 lastOffset, int64 lastStableOffset, big-endian.
const abortedTxnSize = 34

func (a AbortedTxn) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(b, uint64(a.LastStableOffset))
}

// txnIndex is a segment's aborted transactions, in marker order, kept in memory and in
// "<base>.txnindex" (created with the first entry, as Kafka does: a segment without aborted
// transactions has no file). Guarded by the Log's mutex.
type txnIndex struct {
	fs      FS
	path    string
	entries []AbortedTxn
	dirty   bool // appended since the last sync
}

// errInconsistentTxnIndex: a .txnindex that is torn (not a whole number of entries) or whose
// entries are not of this segment or not in order. The segment's index is then rebuilt.
var errInconsistentTxnIndex = errors.New("log: inconsistent transaction index")

// loadTxnIndex reads a segment's .txnindex; base is the segment's base offset and limit the
// next segment's (-1 for the last). A missing file is an empty index.
func loadTxnIndex(fsys FS, path string, base, limit int64) (*txnIndex, error) {
	x := &txnIndex{fs: fsys, path: path}
	b, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b)%abortedTxnSize != 0 {
		return x, errInconsistentTxnIndex
	}
	last := int64(-1)
	for ; len(b) > 0; b = b[abortedTxnSize:] {
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
		}
		if binary.BigEndian.Uint16(b) != 0 || a.LastOffset < base || (limit >= 0 && a.LastOffset >= limit) ||
			a.LastOffset <= last || a.FirstOffset > a.LastOffset {
			x.entries = nil
			return x, errInconsistentTxnIndex
		}
		last = a.LastOffset
		x.entries = append(x.entries, a)
	}
	return x, nil
}

// append adds an entry to the index and its file (opened for the write only: aborts are
// rare, and a segment holds no descriptor for its transaction index).
func (x *txnIndex) append(a AbortedTxn) error {
	f, err := x.fs.OpenFile(x.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, defaultFilePerm)
	if err != nil {
		return err
	}
	_, werr := f.Write(a.appendTo(make([]byte, 0, abortedTxnSize)))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	x.entries = append(x.entries, a)
	x.dirty = true
	return nil
}

// rewrite replaces the file with the entries in memory (removing it when there are none).
func (x *txnIndex) rewrite() error {
	x.dirty = false
	if len(x.entries) == 0 {
		if err := x.fs.Remove(x.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b := make([]byte, 0, len(x.entries)*abortedTxnSize)
	for _, a := range x.entries {
		b = a.appendTo(b)
	}
	return writeFileAtomic(x.fs, x.path, b)
}

// truncateTo drops the entries whose marker is at or after offset.
func (x *txnIndex) truncateTo(offset int64) error {
	n := len(x.entries)
	for n > 0 && x.entries[n-1].LastOffset >= offset {
		n--
	}
	if n == len(x.entries) {
		return nil
	}
	x.entries = x.entries[:n]
	return x.rewrite()
}

// sync makes appended entries durable.
func (x *txnIndex) sync() error {
	if !x.dirty {
		return nil
	}
	f, err := x.fs.OpenFile(x.path, os.O_WRONLY, defaultFilePerm)
	if err != nil {
		return err
	}
	serr := f.Sync()
	cerr := f.Close()
	if serr != nil {
		return serr
	}
	if cerr != nil {
		return cerr
	}
	x.dirty = false
	return nil
}

// collect is Kafka's TransactionIndex.collectAbortedTxns: the entries that overlap
// [from, upTo), and whether the search can stop here (an entry's last stable offset reaches
// upTo, so no later segment holds a transaction that started before upTo and is open).
func (x *txnIndex) collect(from, upTo int64, out []AbortedTxn) ([]AbortedTxn, bool) {
	for _, a := range x.entries {
		if a.LastOffset >= from && a.FirstOffset < upTo {
			out = append(out, a)
		}
		if a.LastStableOffset >= upTo {
			return out, true
		}
	}
	return out, false
}

// reset empties the index and removes its file (before a rebuild).
func (x *txnIndex) reset() error {
	x.entries = nil
	return x.rewrite()
}

// loadTxnIndex reads the segment's .txnindex; a torn or inconsistent one is emptied and
// the segment marked for a rebuild of its transaction index.
func (s *segment) loadTxnIndex(fsys FS, dir string, limit int64) error {
	x, err := loadTxnIndex(fsys, segmentPath(dir, s.base, txnIndexSuffix), s.base, limit)
	if errors.Is(err, errInconsistentTxnIndex) {
		s.txnRebuild, err = true, nil
	}
	if err != nil {
		return err
	}
	s.txn = x
	return nil
}

func (s *segment) syncTxnIndex() error {
	if s.txn == nil {
		return nil
	}
	return s.txn.sync()
}

// txnIndexesToRebuild returns the base of the first segment whose transaction index
// cannot be trusted, or -1: one whose .txnindex was torn or inconsistent, one recovery
// found data in beyond the recovery point (txnRebuild), or one below the snapshot at
// offset at whose entries differ from those the snapshot recorded (a .txnindex that went
// missing).
func (l *Log) txnIndexesToRebuild(snap producerSnapshot, at int64) int64 {
	for _, s := range l.segs {
		if s.txnRebuild {
			return s.base
		}
		if snap.aborted == nil || s.base >= at {
			continue
		}
		var n int32
		for _, a := range s.txn.entries {
			if a.LastOffset < at {
				n++
			}
		}
		if n != snap.aborted[s.base] {
			l.logger.Warn().Int64("offset", s.base).Int32("entries", n).Int32("expected", snap.aborted[s.base]).
				Msg("transaction index lost entries; rebuilding it")
			return s.base
		}
	}
	return -1
}

// writeRebuiltTxnIndexes replaces the transaction indexes of the segments from base from
// on with the entries a replay found.
func (l *Log) writeRebuiltTxnIndexes(from int64, rebuilt map[*segment][]AbortedTxn) error {
	n := 0
	for _, s := range l.segs {
		if s.base < from {
			continue
		}
		s.txn.entries = rebuilt[s]
		n += len(s.txn.entries)
		if err := s.txn.rewrite(); err != nil {
			return err
		}
		s.txnRebuild = false
	}
	l.logger.Info().Int64("offset", from).Int("aborted_transactions", n).Msg("rebuilt transaction indexes")
	return nil
}

// markTxnRebuild flags a segment recovery scanned whose transaction index may miss
// entries: it has data beyond the recovery point rp, or entries for offsets it no longer
// holds.
func (s *segment) markTxnRebuild(rp int64) {
	if s.next > max(rp, s.base) {
		s.txnRebuild = true
	}
	if n := len(s.txn.entries); n > 0 && s.txn.entries[n-1].LastOffset >= s.next {
		s.txnRebuild = true
	}
}
