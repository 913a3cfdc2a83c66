package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
)

// errInconsistentIndex marks an index file that must be rebuilt from the log.
var errInconsistentIndex = errors.New("log: inconsistent index")

// offsetEntry is one .index entry: a batch's last offset (relative to the
// segment base) and the file position where that batch starts.
type offsetEntry struct {
	rel uint32
	pos uint32
}

// timeEntry is one .timeindex entry: the largest timestamp seen in the segment
// so far and the (relative) last offset of the batch that first reached it.
type timeEntry struct {
	ts  int64
	rel uint32
}

// offsetIndex is a segment's sparse offset index, kept in memory and
// appended to its file (never preallocated, so length = entries*8).
type offsetIndex struct {
	path    string
	f       *indexFile
	base    int64
	max     int // entries allowed before the segment must roll
	entries []offsetEntry
}

// timeIndex is a segment's sparse time index (length = entries*12).
type timeIndex struct {
	path    string
	f       *indexFile
	base    int64
	max     int
	entries []timeEntry
}

// openIndexFile reads an index file (creating it empty when missing), trims a partial
// trailing entry from it, and returns its bytes and the lazily opened file behind the index.
func openIndexFile(fsys FS, path string, entrySize int) (*indexFile, []byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, defaultFilePerm)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	buf := make([]byte, size)
	if size > 0 {
		if _, err := f.ReadAt(buf, 0); err != nil {
			return nil, nil, err
		}
	}
	if rem := size % int64(entrySize); rem != 0 {
		if err := f.Truncate(size - rem); err != nil {
			return nil, nil, err
		}
		buf = buf[:size-rem]
	}
	return &indexFile{fsys: fsys, path: path, written: int64(len(buf))}, buf, nil
}

// indexExists reports whether path exists.
func indexExists(fsys FS, path string) (bool, error) {
	_, err := fsys.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// loadOffsetIndex opens an offset index and checks it against the segment:
// relative offsets and positions strictly increasing, offsets below limit
// (the next segment's base, or -1 for none), positions inside logSize. An
// inconsistent index is returned empty with errInconsistentIndex; the caller
// rebuilds it.
func loadOffsetIndex(fsys FS, path string, base int64, maxBytes int32, logSize, limit int64) (*offsetIndex, error) {
	f, buf, err := openIndexFile(fsys, path, offsetIndexEntrySize)
	if err != nil {
		return nil, err
	}
	idx := &offsetIndex{path: path, f: f, base: base, max: int(maxBytes) / offsetIndexEntrySize}
	n := len(buf) / offsetIndexEntrySize
	idx.entries = make([]offsetEntry, 0, n)
	for i := 0; i < n; i++ {
		e := offsetEntry{
			rel: binary.BigEndian.Uint32(buf[i*8:]),
			pos: binary.BigEndian.Uint32(buf[i*8+4:]),
		}
		bad := int32(e.rel) < 0 || int32(e.pos) < 0 || int64(e.pos) >= logSize ||
			(limit >= 0 && base+int64(e.rel) >= limit)
		if i > 0 {
			prev := idx.entries[i-1]
			bad = bad || e.rel <= prev.rel || e.pos <= prev.pos
		}
		if bad {
			if err := idx.reset(); err != nil {
				return nil, err
			}
			return idx, errInconsistentIndex
		}
		idx.entries = append(idx.entries, e)
	}
	return idx, nil
}

// loadTimeIndex opens a time index and checks it: timestamps strictly
// increasing, relative offsets non-decreasing and below limit.
func loadTimeIndex(fsys FS, path string, base int64, maxBytes int32, limit int64) (*timeIndex, error) {
	f, buf, err := openIndexFile(fsys, path, timeIndexEntrySize)
	if err != nil {
		return nil, err
	}
	idx := &timeIndex{path: path, f: f, base: base, max: int(maxBytes) / timeIndexEntrySize}
	n := len(buf) / timeIndexEntrySize
	idx.entries = make([]timeEntry, 0, n)
	for i := 0; i < n; i++ {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(buf[i*12:])),
			rel: binary.BigEndian.Uint32(buf[i*12+8:]),
		}
		bad := int32(e.rel) < 0 || (limit >= 0 && base+int64(e.rel) >= limit)
		if i > 0 {
			prev := idx.entries[i-1]
			bad = bad || e.ts <= prev.ts || e.rel < prev.rel
		}
		if bad {
			if err := idx.reset(); err != nil {
				return nil, err
			}
			return idx, errInconsistentIndex
		}
		idx.entries = append(idx.entries, e)
	}
	return idx, nil
}

// full reports whether the index holds as many entries as allowed.
func (x *offsetIndex) full() bool { return len(x.entries) >= x.max }

func (x *offsetIndex) append(offset int64, pos int64) error {
	rel := offset - x.base
	if rel < 0 || rel > 1<<31-1 || pos < 0 || pos > maxSegmentPosition {
		return fmt.Errorf("log: index entry out of range (offset %d, base %d, position %d)", offset, x.base, pos)
	}
	if n := len(x.entries); n > 0 && (uint32(rel) <= x.entries[n-1].rel || uint32(pos) <= x.entries[n-1].pos) {
		return nil // never write a non-increasing entry
	}
	var b [offsetIndexEntrySize]byte
	binary.BigEndian.PutUint32(b[0:], uint32(rel))
	binary.BigEndian.PutUint32(b[4:], uint32(pos))
	if err := x.f.add(b[:], offsetIndexEntrySize); err != nil {
		return err
	}
	x.entries = append(x.entries, offsetEntry{rel: uint32(rel), pos: uint32(pos)})
	return nil
}

// lookup returns the largest entry whose offset is <= offset, or (base, 0).
func (x *offsetIndex) lookup(offset int64) (int64, int64) {
	rel := offset - x.base
	if rel < 0 {
		return x.base, 0
	}
	i := sort.Search(len(x.entries), func(i int) bool { return int64(x.entries[i].rel) > rel })
	if i == 0 {
		return x.base, 0
	}
	e := x.entries[i-1]
	return x.base + int64(e.rel), int64(e.pos)
}

// lastWithin returns the position of the last entry at or below position maxPos whose
// offset is below maxOffset; ok is false when there is none. Offsets and positions both
// increase along the index, so the entries that qualify are a prefix of it.
func (x *offsetIndex) lastWithin(maxPos, maxOffset int64) (pos int64, ok bool) {
	i := sort.Search(len(x.entries), func(i int) bool {
		e := x.entries[i]
		return int64(e.pos) > maxPos || x.base+int64(e.rel) >= maxOffset
	})
	if i == 0 {
		return 0, false
	}
	return int64(x.entries[i-1].pos), true
}

// lastPos is the position of the last entry (0 when empty).
func (x *offsetIndex) lastPos() int64 {
	if len(x.entries) == 0 {
		return 0
	}
	return int64(x.entries[len(x.entries)-1].pos)
}

// truncateToPos drops entries at or after position pos.
func (x *offsetIndex) truncateToPos(pos int64) error {
	i := sort.Search(len(x.entries), func(i int) bool { return int64(x.entries[i].pos) >= pos })
	if i == len(x.entries) {
		return nil
	}
	if err := x.f.truncate(int64(i) * offsetIndexEntrySize); err != nil {
		return err
	}
	x.entries = x.entries[:i]
	return nil
}

func (x *offsetIndex) reset() error {
	x.entries = x.entries[:0]
	return x.f.truncate(0)
}

func (x *timeIndex) full() bool { return len(x.entries) >= x.max }

// last returns the last entry as (timestamp, offset), or (-1, base) when empty.
func (x *timeIndex) last() (int64, int64) {
	if len(x.entries) == 0 {
		return noTimestamp, x.base
	}
	e := x.entries[len(x.entries)-1]
	return e.ts, x.base + int64(e.rel)
}

// maybeAppend adds (ts, offset) when ts is larger than the last entry's.
func (x *timeIndex) maybeAppend(ts, offset int64) error {
	if lastTs, _ := x.last(); ts <= lastTs {
		return nil
	}
	rel := offset - x.base
	if rel < 0 || rel > 1<<31-1 {
		return fmt.Errorf("log: time index entry out of range (offset %d, base %d)", offset, x.base)
	}
	if n := len(x.entries); n > 0 && uint32(rel) < x.entries[n-1].rel {
		return nil
	}
	var b [timeIndexEntrySize]byte
	binary.BigEndian.PutUint64(b[0:], uint64(ts))
	binary.BigEndian.PutUint32(b[8:], uint32(rel))
	if err := x.f.add(b[:], timeIndexEntrySize); err != nil {
		return err
	}
	x.entries = append(x.entries, timeEntry{ts: ts, rel: uint32(rel)})
	return nil
}

// lookup returns the entry with the largest timestamp <= ts as
// (timestamp, offset), or (-1, base) when there is none.
func (x *timeIndex) lookup(ts int64) (int64, int64) {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].ts > ts })
	if i == 0 {
		return noTimestamp, x.base
	}
	e := x.entries[i-1]
	return e.ts, x.base + int64(e.rel)
}

// truncateToOffset drops entries whose offset is >= offset.
func (x *timeIndex) truncateToOffset(offset int64) error {
	rel := offset - x.base
	i := sort.Search(len(x.entries), func(i int) bool { return int64(x.entries[i].rel) >= rel })
	if i == len(x.entries) {
		return nil
	}
	if err := x.f.truncate(int64(i) * timeIndexEntrySize); err != nil {
		return err
	}
	x.entries = x.entries[:i]
	return nil
}

func (x *timeIndex) reset() error {
	x.entries = x.entries[:0]
	return x.f.truncate(0)
}
