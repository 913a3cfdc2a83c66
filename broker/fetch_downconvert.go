package broker

// Down-conversion for Fetch v0-3 (Kafka's LazyDownConversionRecords, KIP-283). Segments hold
// magic-2 batches; a Fetch v0-1 wants magic 0 messages and v2-3 magic 1. The record set is
// converted while it is written, in chunks of at most downConvertChunk bytes of batches, so
// that a large fetch never sits converted in memory: at most one chunk (or one batch larger
// than a chunk), its decompressed records and its converted bytes at a time.
//
// The record set's size must be known when the response frame is built, before the bulk is
// converted. As in Kafka, the handler converts the first batch that has a legacy form and
// announces max(the batches' stored size, that batch converted); the writer then sends the
// first batch and converts the rest, cutting the last message short when the converted bytes
// run past the announced size (a consumer drops a partial message at the end of a record
// set), or padding with an overflow entry when they fall short (offset -1 and a length past
// the end, which a consumer also takes for a partial message). Control batches have no
// legacy form and are left out; a record set of control batches only is one 12-byte overflow
// entry, as Kafka sends it. A zstd batch in the first chunk is UNSUPPORTED_COMPRESSION_TYPE
// for the partition; later, it ends the record set with the overflow entry, and the
// consumer's next fetch from there gets the error.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/log"
	"kbroker/protocol"
)

// downConvertChunk is the most stored bytes converted at a time (Kafka's MAX_READ_SIZE).
const downConvertChunk = 128 << 10

// chunkBuffers are the read and conversion buffers of the writers' chunks, reused across
// fetches; one larger than a few chunks (a huge batch) is not kept.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, downConvertChunk*3/2); return &b }}

func getChunkBuffer() []byte { return (*chunkBuffers.Get().(*[]byte))[:0] }

func putChunkBuffer(b []byte) {
	if b != nil && cap(b) <= 4*downConvertChunk {
		b = b[:0]
		chunkBuffers.Put(&b)
	}
}

// downConversion is a record set of a Fetch v0-3 answer, converted while it is written.
type downConversion struct {
	region      log.Region // the stored batches
	toMagic     int8
	firstOffset int64 // the fetch offset: uncompressed records below it are left out
	size        int64 // the record set's size in the response
	first       []byte
	read        int64  // bytes of region already converted
	src, out    []byte // reused buffers of the writer's chunks
}

// newDownConversion converts the first batch of r that has a legacy form and fixes the
// record set's size. On error the region is still the caller's.
func newDownConversion(r log.Region, toMagic int8, firstOffset int64) (*downConversion, error) {
	c := &downConversion{region: r, toMagic: toMagic, firstOffset: firstOffset, src: getChunkBuffer()}
	for {
		out, more, err := c.next(0, nil)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			c.first = out
			c.size = max(r.Size, int64(len(out)))
			return c, nil
		}
		if !more {
			break
		}
	}
	if r.Size > 0 {
		c.size = 12 // only control batches: an overflow entry (Kafka's MIN_OVERFLOW_MESSAGE_LENGTH)
	}
	return c, nil
}

// next converts the batches that follow within maxRead stored bytes (at least one batch),
// appending to dst; more says whether batches are left after them.
func (c *downConversion) next(maxRead int64, dst []byte) ([]byte, bool, error) {
	left := c.region.Size - c.read
	if left < 12 {
		return dst, false, nil
	}
	var head [12]byte
	if err := c.readAt(head[:], c.read); err != nil {
		return dst, false, err
	}
	firstSize := int64(int32(binary.BigEndian.Uint32(head[8:]))) + 12
	if firstSize < 12+14 || firstSize > left {
		return dst, false, fmt.Errorf("%w: stored batch of %d bytes at position %d of a %d-byte read", kerr.CorruptMessage, firstSize, c.region.Pos+c.read, c.region.Size)
	}
	n := min(left, max(firstSize, maxRead))
	c.src = slices.Grow(c.src[:0], int(n))[:n]
	if err := c.readAt(c.src, c.read); err != nil {
		return dst, false, err
	}
	chunk := c.src
	for len(chunk) >= 12 {
		size := int64(int32(binary.BigEndian.Uint32(chunk[8:]))) + 12
		if size < 12+14 || size > int64(len(chunk)) {
			break // the batch continues after this chunk: the next one starts with it
		}
		var err error
		if dst, err = protocol.AppendDownConverted(dst, chunk[:size], c.toMagic, c.firstOffset, 0); err != nil {
			return dst, false, err
		}
		c.read += size
		chunk = chunk[size:]
	}
	return dst, c.read+12 <= c.region.Size, nil
}

func (c *downConversion) readAt(p []byte, at int64) error {
	m, err := c.region.File.ReadAt(p, c.region.Pos+at)
	if m == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d record bytes at position %d for down-conversion: %w", len(p), c.region.Pos+at, err)
}

// writeTo writes the record set, exactly c.size bytes. A read error is returned (the
// connection is closed); data that cannot be converted ends the set with an overflow entry.
func (c *downConversion) writeTo(w io.Writer) error {
	remaining := c.size
	put := func(b []byte) error {
		b = b[:min(int64(len(b)), remaining)]
		remaining -= int64(len(b))
		_, err := w.Write(b)
		return err
	}
	if err := put(c.first); err != nil {
		return err
	}
	c.first = nil
	if c.out == nil {
		c.out = getChunkBuffer()
	}
	for remaining > 0 {
		out, more, err := c.next(downConvertChunk, c.out[:0])
		c.out = out
		var ke *kerr.Error
		if err != nil && !errors.As(err, &ke) {
			return err
		}
		if err != nil || (len(out) == 0 && !more) {
			break
		}
		if err := put(out); err != nil {
			return err
		}
	}
	if remaining > 0 {
		h := protocol.OverflowHeader(int(remaining))
		if err := put(h[:]); err != nil {
			return err
		}
		for remaining > 0 {
			if err := put(zeros[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

var zeros [4096]byte

// release lets go of the region and the buffers.
func (c *downConversion) release() {
	c.region.Release()
	putChunkBuffer(c.src)
	putChunkBuffer(c.out)
	c.first, c.src, c.out = nil, nil, nil
}
