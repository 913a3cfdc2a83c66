package protocol

import (
	"fmt"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ValidateOptions are the limits ValidateProduceBatch applies.
type ValidateOptions struct {
	// MaxBatchBytes is max.message.bytes of the topic (message.max.bytes of
	// the broker): a larger batch is MESSAGE_TOO_LARGE. 0 means no limit.
	MaxBatchBytes int32
	// MaxUncompressedBytes caps the decompressed size of a compressed batch
	// (decompression bombs); more is CORRUPT_MESSAGE. 0 means
	// DefaultMaxUncompressedBytes (256 MiB).
	MaxUncompressedBytes int
	// RequireKeys rejects records without a key with INVALID_RECORD, as a
	// compacted topic (cleanup.policy=compact) must.
	RequireKeys bool
	// Timestamps bounds the records' CreateTime timestamps; the zero value
	// checks nothing.
	Timestamps TimestampBounds
}

// TimestampBounds is the range a CreateTime topic accepts record timestamps
// in: [now-before, now+after], message.timestamp.before.max.ms and
// .after.max.ms. The zero value, and bounds made with both limits at
// math.MaxInt64 (Kafka's defaults), check nothing.
type TimestampBounds struct {
	on                 bool
	now, before, after int64
}

// NewTimestampBounds returns the bounds for a batch appended at nowMs.
func NewTimestampBounds(nowMs, beforeMaxMs, afterMaxMs int64) TimestampBounds {
	return TimestampBounds{
		on:     beforeMaxMs != math.MaxInt64 || afterMaxMs != math.MaxInt64,
		now:    nowMs,
		before: beforeMaxMs,
		after:  afterMaxMs,
	}
}

// outside reports whether ts (not -1, "no timestamp") is out of range, with
// Kafka's arithmetic (LogValidator.recordHasInvalidTimestamp).
func (b *TimestampBounds) outside(ts int64) bool {
	diff := b.now - ts
	return diff > b.before || -diff > b.after
}

// ValidateProduceBatch validates the records field of one partition of a
// produce request, which must hold exactly one complete magic-2 batch, and
// returns its header. Errors wrap the *kerr.Error to answer with, checked in
// this order:
//
//   - no data at all, magic other than 2: INVALID_RECORD;
//   - too short for a header, batchLength below the header or beyond the
//     data: CORRUPT_MESSAGE;
//   - bytes after the batch (a second batch), a base offset other than 0
//     (clients always send 0; Kafka rejects anything else): INVALID_RECORD;
//   - batch larger than MaxBatchBytes: MESSAGE_TOO_LARGE (before the CRC, as
//     Kafka does);
//   - CRC-32C mismatch, unknown codec: CORRUPT_MESSAGE;
//   - control bit set, LogAppendTime set by the client, recordCount <= 0,
//     lastOffsetDelta != recordCount-1, producer id without a base sequence:
//     INVALID_RECORD;
//   - records: broken framing, decompression failure or a decompressed size
//     above MaxUncompressedBytes: CORRUPT_MESSAGE; a record count different
//     from the records present or an offsetDelta different from the record's
//     index: INVALID_RECORD;
//   - record errors, gathered over the whole batch as Kafka's LogValidator
//     does and returned as a *RecordsError: a record without a key when
//     RequireKeys is set (INVALID_RECORD), else a timestamp other than -1
//     outside opts.Timestamps (INVALID_TIMESTAMP, which wins when both kinds
//     occur).
//
// The header is returned (zero only when it could not be read) even with an
// error, so that a caller can log it. Uncompressed records are walked in
// place without allocating; compressed ones are decompressed into a pooled
// buffer with pooled decoders.
func ValidateProduceBatch(records []byte, opts ValidateOptions) (BatchHeader, error) {
	_, h, err := PrepareProduceBatch(records, opts, Compression{Codec: CodecProducer})
	return h, err
}

// validateBatchHeader makes ValidateProduceBatch's checks of everything but
// the records.
func validateBatchHeader(records []byte, opts ValidateOptions) (BatchHeader, error) {
	switch {
	case len(records) == 0:
		return BatchHeader{}, batchErr(kerr.InvalidRecord, "no record batch")
	case len(records) <= offMagic:
		return BatchHeader{}, batchErr(kerr.CorruptMessage, "%d bytes, too short for a batch", len(records))
	case records[offMagic] != 2:
		return BatchHeader{}, batchErr(kerr.InvalidRecord, "magic %d, produce needs magic 2", int8(records[offMagic]))
	}
	h, err := ParseBatchHeader(records)
	if err != nil {
		return h, err
	}
	if h.Length < BatchHeaderSize-logOverhead {
		return h, batchErr(kerr.CorruptMessage, "batch length %d below the header size", h.Length)
	}
	size := int64(h.Size())
	switch {
	case size > int64(len(records)):
		return h, batchErr(kerr.CorruptMessage, "batch of %d bytes with only %d bytes of data", size, len(records))
	case size < int64(len(records)):
		return h, batchErr(kerr.InvalidRecord, "%d bytes after the first batch: produce takes exactly one batch", int64(len(records))-size)
	case h.BaseOffset != 0:
		return h, batchErr(kerr.InvalidRecord, "base offset %d, clients must send 0", h.BaseOffset)
	case opts.MaxBatchBytes > 0 && size > int64(opts.MaxBatchBytes):
		return h, batchErr(kerr.MessageTooLarge, "batch of %d bytes above the limit of %d", size, opts.MaxBatchBytes)
	}
	if crc := BatchCRC(records); crc != h.CRC {
		return h, batchErr(kerr.CorruptMessage, "crc %08x, computed %08x", h.CRC, crc)
	}
	if h.Codec() > CodecZstd {
		return h, batchErr(kerr.CorruptMessage, "unknown compression codec %d", h.Codec())
	}
	switch {
	case h.Control():
		return h, batchErr(kerr.InvalidRecord, "clients may not write control batches")
	case h.LogAppendTime():
		return h, batchErr(kerr.InvalidRecord, "clients may not set the LogAppendTime timestamp type")
	case h.NumRecords <= 0:
		return h, batchErr(kerr.InvalidRecord, "record count %d", h.NumRecords)
	case int64(h.LastOffsetDelta) != int64(h.NumRecords)-1:
		return h, batchErr(kerr.InvalidRecord, "lastOffsetDelta %d with %d records", h.LastOffsetDelta, h.NumRecords)
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return h, batchErr(kerr.InvalidRecord, "producer id %d with base sequence %d", h.ProducerID, h.BaseSequence)
	}
	return h, nil
}

// decompressRecords decompresses a compressed batch's records area into
// *buf (which keeps the grown buffer for the pool).
func decompressRecords(buf *[]byte, h *BatchHeader, data []byte, limit int) ([]byte, error) {
	out, err := decompressAppend((*buf)[:0], h.Codec(), data, limit)
	*buf = out
	if err != nil {
		return nil, batchErr(kerr.CorruptMessage, "%s records: %v", h.Codec(), err)
	}
	return out, nil
}

// checkRecords walks the records and checks each offsetDelta is the record's
// index, then that h.NumRecords records and nothing else are present; then
// the record errors (missing keys with RequireKeys, timestamps out of
// opts.Timestamps), gathered over the batch. It returns the largest record
// timestamp (-1 when none is larger), the batch's maxTimestamp as Kafka
// computes it.
func checkRecords(data []byte, h *BatchHeader, opts *ValidateOptions) (int64, error) {
	it := recordIter{data: data}
	var seen int32
	maxTS := int64(-1)
	var rerrs recordErrors
	for seen < h.NumRecords && len(it.data) > 0 {
		rv, err := it.next()
		if err != nil {
			return maxTS, err
		}
		if rv.OffsetDelta != seen {
			return maxTS, batchErr(kerr.InvalidRecord, "record %d has offsetDelta %d", seen, rv.OffsetDelta)
		}
		ts := h.BaseTimestamp + rv.TimestampDelta
		maxTS = max(maxTS, ts)
		switch {
		case opts.RequireKeys && rv.Key == nil:
			rerrs.add(kerr.InvalidRecord, seen, "Compacted topic cannot accept message without key")
		case opts.Timestamps.on && ts != -1 && opts.Timestamps.outside(ts):
			b := &opts.Timestamps
			rerrs.add(kerr.InvalidTimestamp, seen, fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
				ts, h.BaseOffset+int64(rv.OffsetDelta), b.now-b.before, b.now+b.after))
		}
		seen++
	}
	if err := checkCount(h.NumRecords, seen, len(it.data)); err != nil {
		return maxTS, err
	}
	return maxTS, rerrs.err()
}

func checkCount(count, seen int32, left int) error {
	if seen < count {
		return batchErr(kerr.InvalidRecord, "batch declares %d records but holds %d", count, seen)
	}
	if left > 0 {
		return batchErr(kerr.InvalidRecord, "batch declares %d records but has %d bytes more", count, left)
	}
	return nil
}

// maxPooledBuffer bounds the decompression buffers kept for reuse, so a rare
// huge batch does not pin its memory.
const maxPooledBuffer = 8 << 20

var decompressBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getDecompressBuffer() *[]byte {
	b, _ := decompressBuffers.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	return b
}

func putDecompressBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	decompressBuffers.Put(b)
}
