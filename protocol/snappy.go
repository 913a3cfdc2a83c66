package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/snappy"
)

// xerialMagic opens snappy data framed by the Java client's xerial
// SnappyOutputStream: magic, int32 version, int32 compatible version, then
// repeated (int32 big-endian length, raw snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

var errXerialFraming = errors.New("snappy: broken xerial framing")

// unsnappy decodes xerial-framed or raw snappy data and appends it to dst.
func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) >= xerialHeaderSize && bytes.HasPrefix(src, xerialMagic) {
		return unxerial(dst, src[xerialHeaderSize:], limit)
	}
	return unsnappyBlock(dst, src, limit, 0)
}

// unxerial decodes the chunks following a xerial header.
func unxerial(dst, src []byte, limit int) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("%w: %d trailing bytes", errXerialFraming, len(src))
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, fmt.Errorf("%w: chunk of %d bytes, %d left", errXerialFraming, n, len(src))
		}
		var err error
		if dst, err = unsnappyBlock(dst, src[:n], limit, len(dst)-start); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// unsnappyBlock decodes one raw snappy block; produced is what earlier blocks
// of the same data already counted against limit.
func unsnappyBlock(dst, block []byte, limit, produced int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, fmt.Errorf("snappy: %w", err)
	}
	if n > limit-produced {
		return dst, fmt.Errorf("snappy: %w: limit %d", ErrDecompressedTooLarge, limit)
	}
	dst = slices.Grow(dst, n)
	if _, err := snappy.Decode(dst[len(dst):len(dst)+n], block); err != nil {
		return dst, fmt.Errorf("snappy: %w", err)
	}
	return dst[:len(dst)+n], nil
}

// appendXerial frames src as xerial snappy with blocks of at most blockSize
// input bytes (the Java client uses 32 KiB). Tests and tools use it.
func appendXerial(dst, src []byte, blockSize int) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // compatible version
	for len(src) > 0 {
		chunk := src[:min(blockSize, len(src))]
		src = src[len(chunk):]
		block := snappy.Encode(nil, chunk)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
		dst = append(dst, block...)
	}
	return dst
}
