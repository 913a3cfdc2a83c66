package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression codecs (attributes bits 0-2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var errTooLarge = errors.New("log: decompressed batch too large")

// decompress inflates a batch's records section. It is deliberately small:
// only ListOffsets-by-timestamp needs record-level data, and only for one
// batch per request.
func decompress(codec int, src []byte) ([]byte, error) {
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return readLimited(r)
	case codecSnappy:
		return unsnappy(src)
	case codecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)))
	case codecZstd:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressedBatch))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(src, nil)
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, codec)
	}
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDecompressedBatch+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDecompressedBatch {
		return nil, errTooLarge
	}
	return b, nil
}

// unsnappy decodes raw snappy or the xerial framing Java clients use:
// 8-byte magic, 4-byte version, 4-byte compatible version, then chunks of
// (4-byte big-endian length, raw snappy block).
func unsnappy(src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(nil, src)
	}
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: short xerial snappy header", ErrCorruptBatch)
	}
	var out []byte
	rest := src[16:]
	for len(rest) > 0 {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: truncated xerial snappy chunk", ErrCorruptBatch)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: truncated xerial snappy chunk", ErrCorruptBatch)
		}
		var err error
		out, err = snappyBlock(out, rest[:n])
		if err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return out, nil
}

func snappyBlock(dst, block []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > maxDecompressedBatch || len(dst)+n > maxDecompressedBatch {
		return nil, errTooLarge
	}
	d, err := snappy.Decode(nil, block)
	if err != nil {
		return nil, err
	}
	return append(dst, d...), nil
}

// forEachRecord calls fn with the offset and timestamp of every record in
// batch (a whole batch with header h), decompressing it if needed. fn returns
// false to stop. With LogAppendTime every record's timestamp is the batch's
// max timestamp.
func forEachRecord(batch []byte, h batchHeader, fn func(offset, timestamp int64) bool) error {
	recs, err := decompress(h.codec(), batch[batchHeaderSize:])
	if err != nil {
		return err
	}
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(recs)
		if n <= 0 || length < 0 || int64(len(recs)-n) < length {
			return fmt.Errorf("%w: bad record length in batch at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		rec := recs[n : n+int(length)]
		recs = recs[n+int(length):]
		if len(rec) < 1 {
			return fmt.Errorf("%w: empty record in batch at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		rec = rec[1:] // attributes
		tsDelta, n := binary.Varint(rec)
		if n <= 0 {
			return fmt.Errorf("%w: bad record timestamp in batch at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		rec = rec[n:]
		offDelta, n := binary.Varint(rec)
		if n <= 0 {
			return fmt.Errorf("%w: bad record offset in batch at offset %d", ErrCorruptBatch, h.BaseOffset)
		}
		ts := h.BaseTimestamp + tsDelta
		if h.logAppendTime() {
			ts = h.MaxTimestamp
		}
		if !fn(h.BaseOffset+offDelta, ts) {
			return nil
		}
	}
	return nil
}
