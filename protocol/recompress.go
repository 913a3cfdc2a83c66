package protocol

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// PrepareProduceBatch validates the records of one partition of a produce
// request as ValidateProduceBatch does and returns the batch to store with
// the header of the batch as sent. The batch is records itself when
// target.Codec is CodecProducer or the codec records already have (Kafka
// does not recompress for a level alone); otherwise it is a new batch, as
// Kafka's LogValidator rebuilds one for a topic whose compression.type
// differs from the producer's codec:
//
//   - the same records, byte for byte, compressed with target (Kafka's own
//     framing of each codec, appendKafkaCompressed) or stored uncompressed;
//   - the header kept: base offset, lastOffsetDelta, record count, base
//     timestamp, producer id, epoch and base sequence, the transactional
//     flag; the codec bits set to target's, maxTimestamp set to the largest
//     record timestamp (-1 when none is larger), length and CRC recomputed;
//   - above opts.MaxBatchBytes after recompression: MESSAGE_TOO_LARGE, the
//     check Kafka repeats when the size may have changed.
//
// A compressed batch is decompressed once, into a pooled buffer, for both
// the checks and the recompression; an uncompressed one is read in place.
func PrepareProduceBatch(records []byte, opts ValidateOptions, target Compression) ([]byte, BatchHeader, error) {
	h, err := validateBatchHeader(records, opts)
	if err != nil {
		return nil, h, err
	}
	data := records[BatchHeaderSize:]
	if h.Codec() != CodecNone {
		buf := getDecompressBuffer()
		defer putDecompressBuffer(buf)
		if data, err = decompressRecords(buf, &h, data, opts.MaxUncompressedBytes); err != nil {
			return nil, h, err
		}
	}
	maxTS, err := checkRecords(data, &h, &opts)
	if err != nil {
		return nil, h, err
	}
	if target.Codec == CodecProducer || target.Codec == h.Codec() {
		return records, h, nil
	}
	batch, err := rebuildBatch(records[:BatchHeaderSize], data, maxTS, target)
	if err != nil {
		return nil, h, err
	}
	if opts.MaxBatchBytes > 0 && len(batch) > int(opts.MaxBatchBytes) {
		return nil, h, batchErr(kerr.MessageTooLarge, "batch of %d bytes after recompression with %s above the limit of %d", len(batch), target.Codec, opts.MaxBatchBytes)
	}
	return batch, h, nil
}

// rebuildBatch returns a new batch with header's fields and the uncompressed
// records raw compressed with c, its codec bits, maxTimestamp, length and
// CRC set.
func rebuildBatch(header, raw []byte, maxTS int64, c Compression) ([]byte, error) {
	size := BatchHeaderSize + len(raw)
	if c.Codec != CodecNone {
		size = BatchHeaderSize + len(raw)/2 + 64 // grown by append when the data compresses less
	}
	out := append(make([]byte, 0, size), header...)
	out, err := appendKafkaCompressed(out, c, 2, raw)
	if err != nil {
		return nil, fmt.Errorf("recompressing a batch with %s: %w", c.Codec, err)
	}
	be := binary.BigEndian
	attrs := be.Uint16(out[offAttributes:])
	be.PutUint16(out[offAttributes:], attrs&^attrCodecMask|uint16(c.Codec))
	be.PutUint64(out[offMaxTimestamp:], uint64(maxTS))
	be.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	be.PutUint32(out[offCRC:], BatchCRC(out))
	return out, nil
}
