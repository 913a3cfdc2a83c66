package protocol

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LegacyOptions are the topic settings ConvertMessageSet applies: the inputs
// of Kafka's LogValidator.
type LegacyOptions struct {
	// MaxMessageBytes is max.message.bytes: each entry of the set (a message,
	// or a compressed wrapper whole) and the converted batch above it are
	// MESSAGE_TOO_LARGE. 0 means no limit.
	MaxMessageBytes int32
	// MaxUncompressedBytes caps a wrapper's decompressed message set; more is
	// CORRUPT_MESSAGE. 0 means DefaultMaxUncompressedBytes.
	MaxUncompressedBytes int
	// RequireKeys rejects messages without a key (a compacted topic).
	RequireKeys bool
	// LogAppendTime is message.timestamp.type=LogAppendTime: producer
	// timestamps are not range-checked, and the broker stamps the batch
	// (which the caller does when appending).
	LogAppendTime bool
	// NowMs is the broker's clock, against which CreateTime timestamps are
	// checked with TimestampBeforeMaxMs and TimestampAfterMaxMs
	// (message.timestamp.before.max.ms and .after.max.ms).
	NowMs                                     int64
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
	// Compression is the topic's compression.type with its level; Codec
	// CodecProducer keeps the codec of the message set.
	Compression Compression
}

// LegacyResult describes a converted message set.
type LegacyResult struct {
	Magic        int8  // of the message set
	SourceCodec  Codec // of the message set (of its wrapper when compressed)
	Records      int32 // in the batch
	MaxTimestamp int64 // the batch's maxTimestamp before any LogAppendTime stamp
}

// legacyRecord is one record to write into the converted batch.
type legacyRecord struct {
	timestamp  int64
	key, value []byte
}

// ConvertMessageSet validates the records of one partition of a Produce
// request that hold a message set of magic 0 or 1, and returns them as one
// magic-2 batch with base offset 0, no producer id and CreateTime, compressed
// as opts.Compression says: what Kafka's LogValidator stores
// (convertAndAssignOffsetsNonCompressed and buildRecordsAndAssignOffsets).
// A set without one complete entry gives a nil batch and no error: Kafka
// appends nothing and answers success. A partial entry at the end is dropped,
// as Kafka trims it.
//
// Checks, in Kafka's order, each failure wrapping its *kerr.Error:
//
//   - per entry (UnifiedLog.analyzeAndValidateRecords): a messageSize below 14
//     or a magic outside 0..2: CORRUPT_MESSAGE; a magic-2 batch with a base
//     offset other than 0: INVALID_RECORD; an entry above MaxMessageBytes:
//     MESSAGE_TOO_LARGE; a CRC mismatch: CORRUPT_MESSAGE;
//   - a compressed wrapper with other entries beside it, entries of more than
//     one magic: INVALID_RECORD;
//   - a wrapper (AbstractLegacyRecordBatch's deep iterator): zstd, a null
//     value, no inner message, a magic 1 wrapper whose offset is neither 0
//     nor at least its last inner offset, a compressed inner message:
//     INVALID_RECORD; an inner messageSize below 14, an inner CRC mismatch:
//     CORRUPT_MESSAGE;
//   - per message: a magic other than the wrapper's, a missing key when
//     RequireKeys: INVALID_RECORD; a CreateTime timestamp outside the allowed
//     range, or a LogAppendTime type set by the producer where no CreateTime
//     timestamp is checked: INVALID_TIMESTAMP (when both kinds occur in one
//     set, INVALID_TIMESTAMP);
//   - the converted batch above MaxMessageBytes: MESSAGE_TOO_LARGE.
//
// Where Kafka fails with an unchecked exception (an unknown codec id,
// undecompressable data, lengths that overrun a message whose CRC matches, a
// negative timestamp other than -1), and so answers UNKNOWN_SERVER_ERROR, the
// answer here is CORRUPT_MESSAGE (INVALID_TIMESTAMP for the timestamp).
// Inner offsets are otherwise not checked: Kafka rewrites them.
func ConvertMessageSet(set []byte, opts LegacyOptions) ([]byte, LegacyResult, error) {
	var res LegacyResult
	entries, source, err := shallowValidate(set, opts.MaxMessageBytes)
	if err != nil || len(entries) == 0 {
		return nil, res, err
	}
	res.Magic, res.SourceCodec = int8(entries[0][offLegacyMagic]), source
	if source != CodecNone && len(entries) > 1 {
		return nil, res, batchErr(kerr.InvalidRecord, "a compressed wrapper with %d more entries beside it", len(entries)-1)
	}
	v := legacyValidator{opts: opts}
	defer v.release()
	for _, e := range entries {
		if m := int8(e[offLegacyMagic]); m != res.Magic {
			return nil, res, batchErr(kerr.InvalidRecord, "entry of magic %d after entries of magic %d", m, res.Magic)
		}
		if err := v.entry(e); err != nil {
			return nil, res, err
		}
	}
	target := opts.Compression
	if target.Codec == CodecProducer {
		target = Compression{Codec: source}
	}
	batch, maxTS, err := buildLegacyBatch(v.records, target)
	if err != nil {
		return nil, res, err
	}
	if opts.MaxMessageBytes > 0 && len(batch) > int(opts.MaxMessageBytes) {
		return nil, res, batchErr(kerr.MessageTooLarge, "converted batch of %d bytes above the limit of %d", len(batch), opts.MaxMessageBytes)
	}
	res.Records, res.MaxTimestamp = int32(len(v.records)), maxTS
	return batch, res, nil
}

// MessageSetMagic returns the magic of the first entry of a Produce
// partition's records, or -1 when there is no complete entry header.
func MessageSetMagic(records []byte) int8 {
	if len(records) <= offLegacyMagic {
		return -1
	}
	return int8(records[offLegacyMagic])
}

// shallowValidate walks the complete entries of set with Kafka's per-entry
// checks and returns them with the codec of the set (the last non-none one).
func shallowValidate(set []byte, maxBytes int32) ([][]byte, Codec, error) {
	var entries [][]byte
	source := CodecNone
	for rest := set; ; {
		n, err := nextEntrySize(rest)
		if err != nil {
			return nil, source, err
		}
		if n == 0 {
			return entries, source, nil
		}
		e := rest[:n]
		rest = rest[n:]
		magic := int8(e[offLegacyMagic])
		if magic >= 2 {
			if base := int64(binary.BigEndian.Uint64(e)); base != 0 {
				return nil, source, batchErr(kerr.InvalidRecord, "batch base offset %d, clients must send 0", base)
			}
		}
		if maxBytes > 0 && n > int(maxBytes) {
			return nil, source, batchErr(kerr.MessageTooLarge, "message of %d bytes above the limit of %d", n, maxBytes)
		}
		var codec Codec
		if magic >= 2 {
			if n < BatchHeaderSize || BatchCRC(e) != binary.BigEndian.Uint32(e[offCRC:]) {
				return nil, source, batchErr(kerr.CorruptMessage, "batch CRC mismatch")
			}
			codec = Codec(e[offAttributes+1] & attrCodecMask)
		} else {
			if stored, computed := binary.BigEndian.Uint32(e[offLegacyCRC:]), crc32.ChecksumIEEE(e[offLegacyMagic:]); stored != computed {
				return nil, source, batchErr(kerr.CorruptMessage, "message at offset %d: stored crc %d, computed %d", len(set)-len(rest)-n, stored, computed)
			}
			codec = Codec(e[offLegacyMagic+1] & attrCodecMask)
		}
		if codec > CodecZstd {
			return nil, source, batchErr(kerr.CorruptMessage, "unknown compression codec %d", codec)
		}
		if codec != CodecNone {
			source = codec
		}
		entries = append(entries, e)
	}
}

// legacyValidator collects the records of a message set, with the record
// errors Kafka gathers before failing (processRecordErrors).
type legacyValidator struct {
	opts         LegacyOptions
	records      []legacyRecord
	invalid      int  // records with errors
	badTimestamp bool // one of them a timestamp error
	firstErr     error
	buf          *[]byte // the decompressed wrapper, which records alias
}

// release gives the decompression buffer back once the records are written.
func (v *legacyValidator) release() {
	if v.buf != nil {
		putDecompressBuffer(v.buf)
		v.buf = nil
	}
}

// entry validates one entry of the set: a message, or a wrapper and the
// messages inside it.
func (v *legacyValidator) entry(e []byte) error {
	m, err := parseLegacyMessage(e)
	if err != nil {
		return err
	}
	if m.codec() == CodecNone {
		v.message(&m, m.logAppendTime())
	} else if err := v.wrapper(&m); err != nil {
		return err
	}
	if v.invalid > 0 {
		code := kerr.InvalidRecord
		if v.badTimestamp {
			code = kerr.InvalidTimestamp
		}
		return batchErr(code, "%d record errors, the first: %v", v.invalid, v.firstErr)
	}
	return nil
}

// wrapper decompresses a wrapper's message set and validates each message in it.
func (v *legacyValidator) wrapper(w *legacyMessage) error {
	codec := w.codec()
	switch {
	case codec == CodecZstd:
		return batchErr(kerr.InvalidRecord, "zstd wrapper in a magic %d message set", w.magic)
	case w.value == nil:
		return batchErr(kerr.InvalidRecord, "compressed wrapper (magic %d) with a null value", w.magic)
	}
	if v.buf == nil {
		v.buf = getDecompressBuffer()
	}
	buf := v.buf
	var inner []byte
	var err error
	if codec == CodecLZ4 && w.magic == 0 {
		inner, err = unlz4Legacy((*buf)[:0], w.value, v.opts.MaxUncompressedBytes)
	} else {
		inner, err = decompressAppend((*buf)[:0], codec, w.value, v.opts.MaxUncompressedBytes)
	}
	*buf = inner
	if err != nil {
		return batchErr(kerr.CorruptMessage, "%s wrapper: %v", codec, err)
	}
	// The inner entries, read as Kafka's DataLogInputStream reads them: no
	// magic check here, a partial entry at the end ends the set.
	var entries [][]byte
	for rest := inner; len(rest) >= legacyLogOverhead; {
		size := int32(binary.BigEndian.Uint32(rest[8:]))
		if size < legacyMinSize {
			return batchErr(kerr.CorruptMessage, "inner message size %d below the minimum of %d", size, legacyMinSize)
		}
		n := int64(size) + legacyLogOverhead
		if n > int64(len(rest)) {
			break
		}
		entries = append(entries, rest[:n])
		rest = rest[n:]
	}
	if len(entries) == 0 {
		return batchErr(kerr.InvalidRecord, "compressed wrapper (magic %d) with no inner message", w.magic)
	}
	if w.magic == 1 && w.offset != 0 {
		if last := int64(binary.BigEndian.Uint64(entries[len(entries)-1])); w.offset < last {
			return batchErr(kerr.InvalidRecord, "wrapper offset %d below its last inner offset %d", w.offset, last)
		}
	}
	for i, e := range entries {
		if Codec(e[offLegacyMagic+1]&attrCodecMask) != CodecNone {
			return batchErr(kerr.InvalidRecord, "inner message %d is compressed", i)
		}
		if magic := int8(e[offLegacyMagic]); magic != w.magic {
			v.recordError(false, batchErr(kerr.InvalidRecord, "inner message %d has magic %d, its wrapper %d", i, magic, w.magic))
			continue
		}
		m, err := parseLegacyMessage(e)
		if err == nil && !m.crcOK() {
			err = batchErr(kerr.CorruptMessage, "inner message %d: crc mismatch", i)
		}
		if err != nil {
			return err
		}
		if w.logAppendTime() {
			m.timestamp = w.timestamp // the wrapper's LogAppendTime stands for its messages'
		}
		v.message(&m, w.logAppendTime())
	}
	return nil
}

// message validates one message (batchLogAppendTime: the timestamp type of
// the message or of its wrapper) and keeps it as a record.
func (v *legacyValidator) message(m *legacyMessage, batchLogAppendTime bool) {
	if v.opts.RequireKeys && m.key == nil {
		v.recordError(false, batchErr(kerr.InvalidRecord, "a compacted topic needs a key on every message"))
		return
	}
	o := &v.opts
	if !o.LogAppendTime && m.timestamp != -1 {
		diff := o.NowMs - m.timestamp
		if diff > o.TimestampBeforeMaxMs || -diff > o.TimestampAfterMaxMs {
			v.recordError(true, batchErr(kerr.InvalidTimestamp, "timestamp %d out of range [%d, %d]", m.timestamp, o.NowMs-o.TimestampBeforeMaxMs, o.NowMs+o.TimestampAfterMaxMs))
			return
		}
	} else if batchLogAppendTime {
		v.recordError(true, batchErr(kerr.InvalidTimestamp, "producers may not set the LogAppendTime timestamp type"))
		return
	}
	if m.timestamp < -1 {
		v.recordError(true, batchErr(kerr.InvalidTimestamp, "negative timestamp %d", m.timestamp))
		return
	}
	v.records = append(v.records, legacyRecord{timestamp: m.timestamp, key: m.key, value: m.value})
}

func (v *legacyValidator) recordError(timestamp bool, err error) {
	if v.invalid == 0 {
		v.firstErr = err
	}
	v.invalid++
	v.badTimestamp = v.badTimestamp || timestamp
}

// buildLegacyBatch writes records as one magic-2 batch (Kafka's MemoryRecordsBuilder
// with CreateTime): base offset 0, offset deltas 0..n-1, the first record's
// timestamp as the base timestamp, the largest as maxTimestamp (-1 when none
// has one), no producer id, records compressed with c.
func buildLegacyBatch(records []legacyRecord, c Compression) ([]byte, int64, error) {
	if len(records) == 0 {
		return nil, -1, batchErr(kerr.InvalidRecord, "no records")
	}
	base := records[0].timestamp
	maxTS := int64(-1)
	size := 0
	for i := range records {
		maxTS = max(maxTS, records[i].timestamp)
		size += 16 + len(records[i].key) + len(records[i].value)
	}
	buf := getDecompressBuffer()
	defer putDecompressBuffer(buf)
	raw := (*buf)[:0]
	for i := range records {
		r := kmsg.Record{
			TimestampDelta64: records[i].timestamp - base,
			OffsetDelta:      int32(i),
			Key:              records[i].key,
			Value:            records[i].value,
		}
		r.Length = int32(recordBodySize(&r))
		raw = r.AppendTo(raw)
	}
	*buf = raw
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(c.Codec),
		LastOffsetDelta:      int32(len(records) - 1),
		FirstTimestamp:       base,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(records)),
	}
	out := b.AppendTo(make([]byte, 0, BatchHeaderSize+size))
	out, err := appendKafkaCompressed(out, c, 2, raw)
	if err != nil {
		return nil, -1, batchErr(kerr.CorruptMessage, "compressing the converted batch: %v", err)
	}
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint32(out[offCRC:], BatchCRC(out))
	return out, maxTS, nil
}

// recordBodySize is the encoded size of a record after its length varint.
func recordBodySize(r *kmsg.Record) int {
	n := 1 + kbin.VarlongLen(r.TimestampDelta64) + kbin.VarintLen(r.OffsetDelta)
	for _, b := range [][]byte{r.Key, r.Value} {
		if b == nil {
			n += kbin.VarintLen(-1)
		} else {
			n += kbin.VarintLen(int32(len(b))) + len(b)
		}
	}
	return n + kbin.VarintLen(int32(len(r.Headers)))
}
