package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression is a codec with its level, as a topic's compression.type and
// compression.<codec>.level give it. Level 0 means the codec's default.
type Compression struct {
	Codec Codec
	Level int
}

// CodecProducer is the compression.type "producer": keep the codec the
// producer used. It is only a value of Compression.Codec.
const CodecProducer Codec = -1

// ParseCompressionType maps a compression.type value (producer, uncompressed,
// none, gzip, snappy, lz4, zstd) to its codec; producer is CodecProducer.
func ParseCompressionType(s string) (Codec, error) {
	switch s {
	case "producer":
		return CodecProducer, nil
	case "uncompressed", "none":
		return CodecNone, nil
	case "gzip":
		return CodecGzip, nil
	case "snappy":
		return CodecSnappy, nil
	case "lz4":
		return CodecLZ4, nil
	case "zstd":
		return CodecZstd, nil
	}
	return CodecNone, fmt.Errorf("unknown compression.type %q", s)
}

// xerialBlockSize is the block size of the Java client's SnappyOutputStream.
const xerialBlockSize = 32 << 10

// appendKafkaCompressed appends src compressed the way Kafka's own writers
// frame each codec, for a record set of the given magic:
//
//   - gzip: a gzip stream at the level (GZIPOutputStream);
//   - snappy: xerial framing with 32 KiB blocks (SnappyOutputStream);
//   - lz4: an LZ4 frame of independent 64 KiB blocks without block or
//     content checksums (KafkaLZ4BlockOutputStream); for magic 0 the frame
//     descriptor checksum is computed over the magic bytes too, the mistake
//     old clients made and that Kafka keeps for that format (KAFKA-3160);
//   - zstd: one zstd frame at the level.
func appendKafkaCompressed(dst []byte, c Compression, magic int8, src []byte) ([]byte, error) {
	switch c.Codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return appendGzip(dst, src, c.Level)
	case CodecSnappy:
		return appendXerial(dst, src, xerialBlockSize), nil
	case CodecLZ4:
		return appendLZ4Frame(dst, src, c.Level, magic == 0)
	case CodecZstd:
		enc, err := zstdEncoderFor(c.Level)
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	default:
		return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, c.Codec)
	}
}

// sliceWriter appends what is written to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// pooledWriter is a compressing writer that can be reset onto another destination.
type pooledWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// writerPools holds one pool of writers per codec and level.
var writerPools sync.Map // [2]int{codec, level} -> *sync.Pool

// appendPooled appends src compressed by a writer of the pool for (codec, level), made with
// newWriter when the pool is empty.
func appendPooled(dst, src []byte, codec Codec, level int, newWriter func(io.Writer) (pooledWriter, error)) ([]byte, error) {
	pv, _ := writerPools.LoadOrStore([2]int{int(codec), level}, &sync.Pool{})
	pool := pv.(*sync.Pool)
	sw := &sliceWriter{b: dst}
	zw, _ := pool.Get().(pooledWriter)
	if zw == nil {
		var err error
		if zw, err = newWriter(sw); err != nil {
			return dst, fmt.Errorf("%s level %d: %w", codec, level, err)
		}
	} else {
		zw.Reset(sw)
	}
	_, err := zw.Write(src)
	if err == nil {
		err = zw.Close()
	}
	zw.Reset(nil)
	pool.Put(zw)
	if err != nil {
		return dst, fmt.Errorf("%s: %w", codec, err)
	}
	return sw.b, nil
}

func appendGzip(dst, src []byte, level int) ([]byte, error) {
	if level == 0 {
		level = gzip.DefaultCompression
	}
	return appendPooled(dst, src, CodecGzip, level, func(w io.Writer) (pooledWriter, error) {
		return gzip.NewWriterLevel(w, level)
	})
}

// lz4Level maps Kafka's compression.lz4.level (1-17, default 9) to the
// library's levels: 1 is the fast compressor, 2-9 the high-compression
// levels, above 9 the highest it has.
func lz4Level(level int) lz4.CompressionLevel {
	switch {
	case level == 0:
		return lz4.Level9
	case level <= 1:
		return lz4.Fast
	case level >= 9:
		return lz4.Level9
	}
	return lz4.CompressionLevel(1 << (7 + level))
}

func appendLZ4Frame(dst, src []byte, level int, brokenHC bool) ([]byte, error) {
	lvl := lz4Level(level)
	start := len(dst)
	out, err := appendPooled(dst, src, CodecLZ4, int(lvl), func(w io.Writer) (pooledWriter, error) {
		zw := lz4.NewWriter(w)
		return zw, zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false),
			lz4.BlockChecksumOption(false), lz4.CompressionLevelOption(lvl), lz4.ConcurrencyOption(1))
	})
	if err != nil {
		return dst, err
	}
	if brokenHC {
		// magic(4) FLG BD HC: no content size is written, so HC is byte 6.
		if len(out)-start < 7 {
			return dst, fmt.Errorf("lz4: frame of %d bytes", len(out)-start)
		}
		out[start+6] = byte(xxh32Short(out[start:start+6]) >> 8)
	}
	return out, nil
}

// lz4FrameMagic opens every LZ4 frame (little-endian 0x184D2204).
var lz4FrameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

// fixLZ4HeaderChecksum returns a reader of src, an LZ4 frame whose frame
// descriptor checksum may have been computed over the magic bytes too (the
// magic 0 mistake): the checksum byte is replaced by the right one so that the
// decoder does not check it, as Kafka ignores it for magic 0.
func fixLZ4HeaderChecksum(src []byte) io.Reader {
	if len(src) < 7 || !bytes.Equal(src[:4], lz4FrameMagic) {
		return bytes.NewReader(src)
	}
	flg := src[4]
	desc := 2 // FLG, BD
	if flg&0x08 != 0 {
		desc += 8 // content size
	}
	if flg&0x01 != 0 {
		desc += 4 // dictionary id
	}
	hc := 4 + desc
	if len(src) <= hc {
		return bytes.NewReader(src)
	}
	head := append([]byte(nil), src[:hc+1]...)
	head[hc] = byte(xxh32Short(head[4:hc]) >> 8)
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(src[hc+1:]))
}

// unlz4Legacy decompresses an LZ4 frame of a magic 0 message, whose header
// checksum is not checked (Kafka's KafkaLZ4BlockInputStream for magic 0).
func unlz4Legacy(dst, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxUncompressedBytes
	}
	return unlz4From(dst, fixLZ4HeaderChecksum(src), limit, len(src))
}

// xxh32Short is XXH32 with seed 0 of fewer than 16 bytes: enough for an LZ4
// frame descriptor (at most 15 bytes with the magic).
func xxh32Short(b []byte) uint32 {
	const (
		p1 = 2654435761
		p2 = 2246822519
		p3 = 3266489917
		p4 = 668265263
		p5 = 374761393
	)
	h := uint32(p5) + uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * p3
		h = bits.RotateLeft32(h, 17) * p4
	}
	for _, c := range b {
		h += uint32(c) * p5
		h = bits.RotateLeft32(h, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

// zstdEncoders holds one encoder per speed; EncodeAll is safe for concurrent use.
var zstdEncoders [5]func() (*zstd.Encoder, error)

func init() {
	for i := range zstdEncoders {
		lvl := zstd.EncoderLevel(i)
		zstdEncoders[i] = sync.OnceValues(func() (*zstd.Encoder, error) {
			return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(lvl))
		})
	}
}

// zstdEncoderFor returns the encoder for Kafka's compression.zstd.level (the
// zstd levels, default 3; 0 means the default).
func zstdEncoderFor(level int) (*zstd.Encoder, error) {
	if level == 0 {
		level = 3
	}
	lvl := zstd.EncoderLevelFromZstd(level)
	if int(lvl) <= 0 || int(lvl) >= len(zstdEncoders) {
		lvl = zstd.SpeedDefault
	}
	return zstdEncoders[lvl]()
}
