package log

import (
	"errors"
	"io"
)

// scanStop says why a scan ended.
type scanStop int

const (
	stopEnd     scanStop = iota // reached the end cleanly
	stopTorn                    // a partial header or batch at the end
	stopCorrupt                 // an implausible header or a CRC mismatch
	stopIOError                 // reading failed (see scanner.err)
)

// scanner walks the batches of a segment file from a position, reading in
// large chunks so that walking headers costs few system calls. With full set
// it checks each batch's CRC and exposes its bytes.
type scanner struct {
	f     File
	pos   int64 // position of the next batch
	end   int64 // scan stops here (the file size)
	full  bool  // read whole batches and check CRCs
	chunk int   // preferred read size (0 = maxScanChunk)
	buf   []byte
	bufAt int64 // file position of buf[0]

	h     batchHeader
	at    int64  // position of the current batch
	batch []byte // the current batch (full mode only); valid until next
	stop  scanStop
	err   error
}

func newScanner(f File, from, end int64, full bool) *scanner {
	return &scanner{f: f, pos: from, end: end, full: full}
}

// window returns n bytes at file position off, reading if needed.
func (s *scanner) window(off int64, n int) ([]byte, error) {
	if off >= s.bufAt && off+int64(n) <= s.bufAt+int64(len(s.buf)) {
		i := off - s.bufAt
		return s.buf[i : i+int64(n)], nil
	}
	chunk := s.chunk
	if chunk <= 0 {
		chunk = maxScanChunk
	}
	want := max(n, chunk)
	if rest := s.end - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	m, err := s.f.ReadAt(s.buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && m == want) {
		if errors.Is(err, io.EOF) {
			s.buf = s.buf[:m]
			s.bufAt = off
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	s.bufAt = off
	return s.buf[:n], nil
}

// next advances to the next batch. It returns false at the end; s.stop says
// why, and s.pos is then the position where valid data ends.
func (s *scanner) next() bool {
	if s.pos >= s.end {
		s.stop = stopEnd
		return false
	}
	if s.end-s.pos < batchHeaderSize {
		s.stop = stopTorn
		return false
	}
	hb, err := s.window(s.pos, batchHeaderSize)
	if err != nil {
		return s.fail(err)
	}
	h := parseBatchHeader(hb)
	if !h.plausible() {
		s.stop = stopCorrupt
		return false
	}
	if h.size() > s.end-s.pos {
		s.stop = stopTorn
		return false
	}
	if s.full {
		b, err := s.window(s.pos, int(h.size()))
		if err != nil {
			return s.fail(err)
		}
		if !validCRC(b) {
			s.stop = stopCorrupt
			return false
		}
		s.batch = b
	}
	s.h = h
	s.at = s.pos
	s.pos += h.size()
	return true
}

func (s *scanner) fail(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		s.stop = stopTorn
		return false
	}
	s.stop = stopIOError
	s.err = err
	return false
}
