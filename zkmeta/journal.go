package zkmeta

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"sync/atomic"
)

// Journal format. The journal file is a sequence of frames, one per committed
// transaction:
//
//	+-----------+-------------+------------------------------------------+
//	| len  u32  | crc32c u32  | payload (len bytes)                      |
//	+-----------+-------------+------------------------------------------+
//	payload: version u8 (1) | zxid i64 | time ms i64 | count u32 | mutation...
//	mutation: kind u8 | path str | create: data bytes, owner i64
//	                             | set:    data bytes
//	                             | delete: nothing
//	str = u32 length + bytes; bytes = i32 length (-1 = null) + bytes
//
// Mutations carry resolved paths (sequence suffix included) and are replayed
// without version checks, so replay reproduces every Stat exactly. A frame
// whose length or CRC does not check is a torn tail: it and everything
// after it are cut at open.

const (
	journalVersion = 1
	frameHeader    = 8
	maxFrame       = 256 << 20 // larger lengths can only be garbage
	minPayload     = 1 + 8 + 8 + 4
)

type mutKind uint8

const (
	mutCreate mutKind = 1
	mutSet    mutKind = 2
	mutDelete mutKind = 3
)

// mutation is one journaled change with everything needed to replay it.
type mutation struct {
	kind  mutKind
	path  string
	data  []byte
	owner int64
}

// record is one journaled transaction.
type record struct {
	zxid int64
	time int64
	muts []mutation
}

func encodeRecord(r record) []byte {
	e := encoder{b: make([]byte, frameHeader, 64)}
	e.u8(journalVersion)
	e.i64(r.zxid)
	e.i64(r.time)
	e.u32(uint32(len(r.muts)))
	for _, m := range r.muts {
		e.u8(uint8(m.kind))
		e.str(m.path)
		switch m.kind {
		case mutCreate:
			e.bytes(m.data)
			e.i64(m.owner)
		case mutSet:
			e.bytes(m.data)
		}
	}
	payload := e.b[frameHeader:]
	binary.BigEndian.PutUint32(e.b[0:], uint32(len(payload)))
	binary.BigEndian.PutUint32(e.b[4:], crc32.Checksum(payload, castagnoli))
	return e.b
}

func decodeRecord(payload []byte) (record, error) {
	d := decoder{b: payload}
	if v := d.u8(); d.err == nil && v != journalVersion {
		return record{}, fmt.Errorf("zkmeta: journal record version %d unknown", v)
	}
	r := record{zxid: d.i64(), time: d.i64()}
	n := d.u32()
	if d.err == nil && int64(n) > int64(len(d.b)) {
		return record{}, errShort
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		m := mutation{kind: mutKind(d.u8()), path: d.str()}
		switch m.kind {
		case mutCreate:
			m.data = d.bytes()
			m.owner = d.i64()
		case mutSet:
			m.data = d.bytes()
		case mutDelete:
		default:
			if d.err == nil {
				return record{}, fmt.Errorf("zkmeta: journal mutation kind %d unknown", m.kind)
			}
		}
		r.muts = append(r.muts, m)
	}
	if d.err != nil {
		return record{}, d.err
	}
	if len(d.b) != 0 {
		return record{}, fmt.Errorf("zkmeta: %d trailing bytes in journal record", len(d.b))
	}
	return r, nil
}

// scanJournal splits the journal's contents into records. It returns the
// records of the valid prefix and that prefix's length; a torn or corrupt
// frame ends the scan.
func scanJournal(b []byte) (recs []record, valid int64, err error) {
	off := 0
	for len(b)-off >= frameHeader {
		n := int(binary.BigEndian.Uint32(b[off:]))
		sum := binary.BigEndian.Uint32(b[off+4:])
		// A payload shorter than its fixed fields (e.g. zeros from a
		// preallocated or torn page, whose CRC happens to match) is torn too.
		if n < minPayload || n > maxFrame || n > len(b)-off-frameHeader {
			break
		}
		payload := b[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		r, derr := decodeRecord(payload)
		if derr != nil {
			// The CRC matched, so this is not a torn write: refuse to guess.
			return nil, 0, fmt.Errorf("zkmeta: journal record at offset %d: %w", off, derr)
		}
		recs = append(recs, r)
		off += frameHeader + n
	}
	return recs, int64(off), nil
}

// journal is the append-only file of transactions with group commit:
// appends happen under the store mutex, in zxid order; callers then wait
// for durability outside the mutex, and one fsync covers every append made
// before it started.
type journal struct {
	f    *os.File
	size int64 // bytes in the file; guarded by the store mutex
	base int64 // logical offset of the file's first byte; guarded by the store mutex

	written atomic.Int64 // logical end of the last append

	syncMu sync.Mutex
	synced int64 // logical offset known durable; guarded by syncMu
}

func newJournal(f *os.File, size int64) *journal {
	j := &journal{f: f, size: size}
	j.written.Store(size)
	j.synced = size
	return j
}

// append writes one frame and returns the logical offset that must be
// durable for it to be committed. On error the file is cut back.
func (j *journal) append(frame []byte) (int64, error) {
	if _, err := j.f.WriteAt(frame, j.size); err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			return 0, fmt.Errorf("zkmeta: journal write: %w (and truncate: %v)", err, terr)
		}
		return 0, fmt.Errorf("zkmeta: journal write: %w", err)
	}
	j.size += int64(len(frame))
	end := j.base + j.size
	j.written.Store(end)
	return end, nil
}

// waitDurable returns once every byte up to the logical offset end is on disk.
func (j *journal) waitDurable(end int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= end {
		return nil
	}
	target := j.written.Load()
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("zkmeta: journal fsync: %w", err)
	}
	j.synced = target
	return nil
}

// reset empties the journal once a snapshot holds all of it. The caller
// holds the store mutex, so no append runs concurrently.
func (j *journal) reset() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("zkmeta: journal truncate: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("zkmeta: journal fsync: %w", err)
	}
	j.base += j.size
	j.size = 0
	j.synced = j.base
	return nil
}
