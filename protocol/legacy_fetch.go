package protocol

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kerr"
)

// FetchMagic is the message format a Fetch version carries: magic 0 for v0-1,
// magic 1 for v2-3, magic 2 (record batches, no conversion) from v4 on.
func FetchMagic(version int16) int8 {
	switch {
	case version <= 1:
		return 0
	case version <= 3:
		return 1
	}
	return 2
}

// AppendDownConverted appends the records of one batch, as stored in a log
// segment, converted to a message set of magic toMagic (0 or 1): Kafka's
// RecordsUtil.downConvert for one batch, for a Fetch of version 0-3 starting
// at firstOffset.
//
//   - A control batch (transaction marker) has no legacy form: nothing is
//     appended.
//   - A zstd batch cannot be converted: the error wraps
//     kerr.UnsupportedCompressionType.
//   - An uncompressed batch becomes one message per record, records below
//     firstOffset left out; a compressed batch becomes one wrapper holding all
//     its records, compressed again with the batch's codec (Kafka's framing
//     for the magic), the wrapper at the last record's offset; with magic 1
//     the inner offsets are relative to the first record.
//   - Timestamps (magic 1): the record's CreateTime, or for a LogAppendTime
//     batch its maxTimestamp with the LogAppendTime attribute on every
//     message; a wrapper carries the largest timestamp. Headers are dropped.
//   - A batch already of magic toMagic or lower is appended as it is.
//
// limit caps the decompressed records (<= 0: DefaultMaxUncompressedBytes).
// Damaged data wraps kerr.CorruptMessage.
func AppendDownConverted(dst, batch []byte, toMagic int8, firstOffset int64, limit int) ([]byte, error) {
	if len(batch) <= offLegacyMagic {
		return dst, batchErr(kerr.CorruptMessage, "batch of %d bytes", len(batch))
	}
	if magic := int8(batch[offLegacyMagic]); magic < 2 {
		n, err := nextEntrySize(batch)
		switch {
		case err != nil:
			return dst, err
		case n == 0:
			return dst, batchErr(kerr.CorruptMessage, "partial magic %d message", magic)
		case magic > toMagic:
			return dst, batchErr(kerr.CorruptMessage, "magic %d message cannot be converted to magic %d", magic, toMagic)
		}
		return append(dst, batch[:n]...), nil
	}
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return dst, err
	}
	if h.Length < BatchHeaderSize-logOverhead || h.Size() > len(batch) {
		return dst, batchErr(kerr.CorruptMessage, "batch length %d does not fit %d bytes", h.Length, len(batch))
	}
	if h.Control() {
		return dst, nil
	}
	codec := h.Codec()
	if codec == CodecZstd {
		return dst, batchErr(kerr.UnsupportedCompressionType, "zstd batch at offset %d cannot be converted to magic %d", h.BaseOffset, toMagic)
	}
	if codec > CodecZstd {
		return dst, batchErr(kerr.CorruptMessage, "unknown compression codec %d", codec)
	}
	data := batch[BatchHeaderSize:h.Size()]
	if codec != CodecNone {
		buf := getDecompressBuffer()
		defer putDecompressBuffer(buf)
		out, err := decompressAppend((*buf)[:0], codec, data, limit)
		*buf = out
		if err != nil {
			return dst, batchErr(kerr.CorruptMessage, "%s records: %v", codec, err)
		}
		data = out
	}
	var attrs int8
	if h.LogAppendTime() && toMagic == 1 {
		attrs = legacyAttrLogAppendTime
	}
	timestamp := func(r RecordView) int64 {
		if h.LogAppendTime() {
			return h.MaxTimestamp
		}
		return h.BaseTimestamp + r.TimestampDelta
	}
	if codec == CodecNone {
		err := walkRecords(data, h.NumRecords, func(r RecordView) bool {
			if off := h.BaseOffset + int64(r.OffsetDelta); off >= firstOffset {
				dst = appendLegacyMessage(dst, off, toMagic, attrs, timestamp(r), r.Key, r.Value)
			}
			return true
		})
		return dst, err
	}
	innerBuf := getDecompressBuffer()
	defer putDecompressBuffer(innerBuf)
	inner := (*innerBuf)[:0]
	innerBase, last, maxTS := int64(-1), int64(-1), int64(-1)
	err = walkRecords(data, h.NumRecords, func(r RecordView) bool {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if innerBase < 0 {
			innerBase = off
		}
		innerOff := off
		if toMagic == 1 {
			innerOff = off - innerBase
		}
		ts := timestamp(r)
		maxTS = max(maxTS, ts)
		last = off
		inner = appendLegacyMessage(inner, innerOff, toMagic, attrs, ts, r.Key, r.Value)
		return true
	})
	*innerBuf = inner
	if err != nil || last < 0 {
		return dst, err
	}
	compBuf := getDecompressBuffer()
	defer putDecompressBuffer(compBuf)
	value, err := appendKafkaCompressed((*compBuf)[:0], Compression{Codec: codec}, toMagic, inner)
	*compBuf = value
	if err != nil {
		return dst, batchErr(kerr.CorruptMessage, "compressing the converted records: %v", err)
	}
	return appendLegacyMessage(dst, last, toMagic, attrs|int8(codec), maxTS, nil, value), nil
}

// OverflowHeader is the start of the filler Kafka puts at the end of a
// down-converted record set that came out shorter than the size announced
// for it (LazyDownConversionRecordsSend's overflow batch): offset -1 and a
// length past the remaining bytes, so that a consumer takes it for a partial
// message and stops there. The remaining bytes after the header are zeros.
func OverflowHeader(remaining int) [legacyLogOverhead]byte {
	var h [legacyLogOverhead]byte
	binary.BigEndian.PutUint64(h[:], ^uint64(0))
	binary.BigEndian.PutUint32(h[8:], uint32(max(remaining+1, BatchHeaderSize)))
	return h
}
