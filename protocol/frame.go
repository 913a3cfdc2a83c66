package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

var (
	// ErrFrameTooLarge is returned by ReadFrame when the size prefix is above
	// the allowed maximum (socket.request.max.bytes on the broker).
	ErrFrameTooLarge = errors.New("protocol: frame larger than allowed")
	// ErrNegativeSize is returned by ReadFrame when the size prefix is negative.
	ErrNegativeSize = errors.New("protocol: negative frame size")
)

// frameChunk is how much body ReadFrame allocates ahead of the bytes actually
// received: a peer that announces a large frame and sends little of it costs
// at most this much memory beyond what it sent.
const frameChunk = 1 << 20

// ReadFrame reads one size-prefixed frame from r and returns its body (without
// the 4-byte size). The size is checked (0 <= size <= maxSize) before any body
// buffer is allocated. buf is reused when its capacity is large enough; pass
// nil for a fresh buffer. A clean end of stream before the size prefix returns
// io.EOF; a stream that ends inside the size or the body returns
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, maxSize int32, buf []byte) ([]byte, error) {
	var sizeBuf [4]byte
	head := sizeBuf[:]
	if cap(buf) >= 4 {
		head = buf[:4] // keeps the size array off the heap
	}
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(head))
	switch {
	case size < 0:
		return nil, fmt.Errorf("%w: %d", ErrNegativeSize, size)
	case size > maxSize:
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, maxSize)
	}
	n := int(size)
	if n <= cap(buf) {
		body := buf[:n]
		if err := readBody(r, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	// Grow in chunks so that the memory follows the bytes really received.
	body := make([]byte, 0, min(n, frameChunk))
	for len(body) < n {
		step := min(n-len(body), frameChunk)
		body = slices.Grow(body, step)
		start := len(body)
		body = body[:start+step]
		if err := readBody(r, body[start:]); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// readBody fills p, turning an end of stream into io.ErrUnexpectedEOF since a
// frame body was announced.
func readBody(r io.Reader, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_, err := io.ReadFull(r, p)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
