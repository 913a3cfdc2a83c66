package log

import (
	"encoding/binary"
	"fmt"

	"kbroker/protocol"
)

// Compression codecs (attributes bits 0-2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

// decompress inflates a batch's records section with the protocol package's
// codecs (pooled decoders, output capped against decompression bombs). Only
// ListOffsets by timestamp needs record-level data, for one batch per call.
func decompress(codec int, src []byte) ([]byte, error) {
	if codec == codecNone {
		return src, nil
	}
	out, err := protocol.Decompress(protocol.Codec(codec), src, maxDecompressedBatch)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptBatch, err)
	}
	return out, nil
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
