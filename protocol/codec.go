package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is the compression codec of a record batch (attribute bits 0-2).
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns Kafka's name for the codec (compression.type).
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	default:
		return fmt.Sprintf("codec(%d)", int8(c))
	}
}

// DefaultMaxUncompressedBytes is the cap on a decompressed batch when none is
// given.
const DefaultMaxUncompressedBytes = 256 << 20

// zstdMaxWindow matches zstd-jni's default window limit (2^27).
const zstdMaxWindow = 1 << 27

// zstdMinMemory is the lowest memory cap given to the zstd decoder, whatever
// the output limit (see unzstd).
const zstdMinMemory = 8 << 20

var (
	// ErrDecompressedTooLarge is returned when decompressed data exceeds the
	// limit given to Decompress.
	ErrDecompressedTooLarge = errors.New("protocol: decompressed data exceeds the limit")
	// ErrUnknownCodec is returned for a codec id outside 0..4.
	ErrUnknownCodec = errors.New("protocol: unknown compression codec")
)

// Decoder pools: a decoder is taken for one call and put back after it.
var (
	gzipReaders sync.Pool // *gzip.Reader
	lz4Readers  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdDecs    = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
		if err != nil {
			return err
		}
		return d
	}}
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	})
)

// Decompress returns src decompressed with codec. limit caps the output size
// (decompression bombs): more than limit bytes returns an error wrapping
// ErrDecompressedTooLarge; limit <= 0 means DefaultMaxUncompressedBytes.
// Snappy input may be xerial-framed (as written by the Java client) or a raw
// snappy block. CodecNone returns a copy of src.
func Decompress(codec Codec, src []byte, limit int) ([]byte, error) {
	return decompressAppend(nil, codec, src, limit)
}

// DecompressAppend is Decompress appending to dst, so that a caller decompressing many
// batches reuses one buffer.
func DecompressAppend(dst []byte, codec Codec, src []byte, limit int) ([]byte, error) {
	return decompressAppend(dst, codec, src, limit)
}

// decompressAppend appends the decompressed src to dst.
func decompressAppend(dst []byte, codec Codec, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxUncompressedBytes
	}
	switch codec {
	case CodecNone:
		if len(src) > limit {
			return dst, fmt.Errorf("%w: %d > %d", ErrDecompressedTooLarge, len(src), limit)
		}
		return append(dst, src...), nil
	case CodecGzip:
		return gunzip(dst, src, limit)
	case CodecSnappy:
		return unsnappy(dst, src, limit)
	case CodecLZ4:
		return unlz4(dst, src, limit)
	case CodecZstd:
		return unzstd(dst, src, limit)
	default:
		return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, codec)
	}
}

func gunzip(dst, src []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(src)
	var zr *gzip.Reader
	if v, ok := gzipReaders.Get().(*gzip.Reader); ok {
		zr = v
		if err := zr.Reset(br); err != nil {
			gzipReaders.Put(zr)
			return dst, err // gzip errors name gzip already
		}
	} else {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return dst, err
		}
	}
	out, err := readAllLimited(dst, zr, limit, len(src))
	gzipReaders.Put(zr)
	if err != nil {
		return out, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

func unlz4(dst, src []byte, limit int) ([]byte, error) {
	zr, _ := lz4Readers.Get().(*lz4.Reader)
	zr.Reset(bytes.NewReader(src))
	out, err := readAllLimited(dst, zr, limit, len(src))
	zr.Reset(nil)
	lz4Readers.Put(zr)
	if err != nil {
		return out, fmt.Errorf("lz4: %w", err)
	}
	return out, nil
}

func unzstd(dst, src []byte, limit int) ([]byte, error) {
	d, ok := zstdDecs.Get().(*zstd.Decoder)
	if !ok {
		return dst, errors.New("zstd: decoder unavailable")
	}
	defer zstdDecs.Put(d)
	// The decoder's memory cap also caps the window; a streaming encoder (the
	// Java client's) declares windows of a few MiB even for small batches, so
	// the cap is never set below zstdMinMemory and the exact limit is checked
	// on the output.
	if err := d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(max(limit, zstdMinMemory)))); err != nil {
		return dst, fmt.Errorf("zstd: %w", err)
	}
	start := len(dst)
	out, err := d.DecodeAll(src, dst)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return out, fmt.Errorf("zstd: %w: limit %d", ErrDecompressedTooLarge, limit)
	case err != nil:
		return out, fmt.Errorf("zstd: %w", err)
	case len(out)-start > limit:
		return out, fmt.Errorf("zstd: %w: limit %d", ErrDecompressedTooLarge, limit)
	}
	return out, nil
}

// readAllLimited appends everything r yields to dst, failing once more than
// limit bytes came out. hint is the compressed size, used to size the first
// allocation.
func readAllLimited(dst []byte, r io.Reader, limit, hint int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			produced := len(dst) - start
			grow := max(produced, 2*hint, 512)
			grow = min(grow, limit+1-produced) // never allocate far beyond the limit
			dst = slices.Grow(dst, max(grow, 1))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, fmt.Errorf("%w: limit %d", ErrDecompressedTooLarge, limit)
		}
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// Compress returns src compressed with codec: gzip (default level), snappy as
// one raw block, lz4 in the frame format, zstd (default level). CodecNone
// returns a copy of src.
func Compress(codec Codec, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return slices.Clone(src), nil
	case CodecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		return snappy.Encode(nil, src), nil
	case CodecLZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, nil), nil
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownCodec, codec)
	}
}
