package protocol

import (
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
//     index, a record without a key when RequireKeys is set: INVALID_RECORD.
//
// The header is returned (zero only when it could not be read) even with an
// error, so that a caller can log it. Uncompressed records are walked in
// place without allocating; compressed ones are decompressed into a pooled
// buffer with pooled decoders.
func ValidateProduceBatch(records []byte, opts ValidateOptions) (BatchHeader, error) {
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

	data := records[BatchHeaderSize:]
	if h.Codec() == CodecNone {
		return h, checkRecords(data, h.NumRecords, opts.RequireKeys)
	}
	buf := getDecompressBuffer()
	defer putDecompressBuffer(buf)
	out, err := decompressAppend((*buf)[:0], h.Codec(), data, opts.MaxUncompressedBytes)
	*buf = out
	if err != nil {
		return h, batchErr(kerr.CorruptMessage, "%s records: %v", h.Codec(), err)
	}
	return h, checkRecords(out, h.NumRecords, opts.RequireKeys)
}

// checkRecords walks the records and checks each offsetDelta is the record's
// index (and, with requireKeys, that it has a key), then that count records
// and nothing else are present.
func checkRecords(data []byte, count int32, requireKeys bool) error {
	it := recordIter{data: data}
	var seen int32
	for seen < count && len(it.data) > 0 {
		rv, err := it.next()
		if err != nil {
			return err
		}
		if rv.OffsetDelta != seen {
			return batchErr(kerr.InvalidRecord, "record %d has offsetDelta %d", seen, rv.OffsetDelta)
		}
		if requireKeys && rv.Key == nil {
			return batchErr(kerr.InvalidRecord, "record %d has no key; a compacted topic needs one", seen)
		}
		seen++
	}
	return checkCount(count, seen, len(it.data))
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
