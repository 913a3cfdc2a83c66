package log

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Region is a byte range of one segment file that holds whole batches: the answer to
// ReadRegion, for a caller that sends the bytes without copying them (sendfile). The file
// stays open until Release, even when the segment is closed or deleted in the meantime, so a
// region taken under the log's lock can be sent after the lock is dropped. A region of size
// 0 holds no file.
type Region struct {
	File        File  // the segment file: ReadAt, or the *os.File's SyscallConn for sendfile
	Pos         int64 // file position of the first batch
	Size        int64 // bytes of whole batches from Pos
	FirstOffset int64 // base offset of the first batch (the requested offset when empty)
	// NextOffset bounds the offsets of the batches from above: the base offset of the batch
	// after them, or where their segment or the read ends (the aborted transactions a
	// read_committed fetch returns are those below it).
	NextOffset int64

	ref *sharedFile
}

// Release lets go of the region's hold on the file. It is safe to call more than once and
// on an empty region.
func (r *Region) Release() {
	if r.ref != nil {
		_ = r.ref.release()
		r.ref = nil
	}
}

// ReadTo appends the region's bytes to dst with one ReadAt.
func (r *Region) ReadTo(dst []byte) ([]byte, error) {
	if r.Size == 0 {
		return dst, nil
	}
	n := len(dst)
	dst = append(dst, make([]byte, r.Size)...)
	m, err := r.File.ReadAt(dst[n:], r.Pos)
	if int64(m) == r.Size {
		return dst, nil
	}
	if err == nil || err == io.EOF {
		err = fmt.Errorf("%w: segment file shrank under a read (%d of %d bytes at position %d)", io.ErrUnexpectedEOF, m, r.Size, r.Pos)
	}
	return dst[:n], err
}

// sharedFile is a segment file with a reference count: one for the segment itself and one
// for every Region not yet released. Close drops the segment's reference; the file is closed
// when the last reference goes.
type sharedFile struct {
	File
	refs   atomic.Int32
	closed atomic.Bool
}

func newSharedFile(f File) *sharedFile {
	s := &sharedFile{File: f}
	s.refs.Store(1)
	return s
}

// acquire adds a reference. The caller holds the log's lock, under which the segment (and
// so its reference) is alive.
func (f *sharedFile) acquire() { f.refs.Add(1) }

func (f *sharedFile) release() error {
	if f.refs.Add(-1) == 0 {
		return f.File.Close()
	}
	return nil
}

// Close drops the segment's reference, once.
func (f *sharedFile) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	return f.release()
}
