package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

func TestValidateProduceBatchValid(t *testing.T) {
	tests := []struct {
		name string
		spec batchSpec
	}{
		{"none", batchSpec{codec: CodecNone}},
		{"gzip", batchSpec{codec: CodecGzip}},
		{"snappy raw", batchSpec{codec: CodecSnappy}},
		{"snappy xerial", batchSpec{codec: CodecSnappy, xerial: true, records: testRecords(40)}},
		{"lz4", batchSpec{codec: CodecLZ4}},
		{"zstd", batchSpec{codec: CodecZstd}},
		{"one record", batchSpec{codec: CodecNone, records: testRecords(1)}},
		{"one record zstd", batchSpec{codec: CodecZstd, records: testRecords(1)}},
		{"many records", batchSpec{codec: CodecLZ4, records: testRecords(500)}},
		{"idempotent", batchSpec{edit: func(b *kmsg.RecordBatch) { b.ProducerID, b.ProducerEpoch, b.FirstSequence = 7, 0, 42 }}},
		{"transactional", batchSpec{codec: CodecGzip, edit: func(b *kmsg.RecordBatch) {
			b.Attributes |= attrTransactional
			b.ProducerID, b.ProducerEpoch, b.FirstSequence = 7, 3, 0
		}}},
		{"empty key and value", batchSpec{records: []kmsg.Record{{Key: []byte{}, Value: []byte{}}}}},
	}
	keyed := testRecords(4)
	for i := range keyed {
		keyed[i].Key = []byte("k")
	}
	t.Run("keys required and present", func(t *testing.T) {
		if _, err := ValidateProduceBatch(buildBatch(t, batchSpec{codec: CodecZstd, records: keyed}), ValidateOptions{RequireKeys: true}); err != nil {
			t.Fatal(err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := buildBatch(t, tt.spec)
			h, err := ValidateProduceBatch(batch, ValidateOptions{MaxBatchBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if h.Codec() != tt.spec.codec || h.Magic != 2 || h.Size() != len(batch) {
				t.Fatalf("header %+v for %d bytes", h, len(batch))
			}
			if h.CRC != BatchCRC(batch) {
				t.Fatal("header CRC differs from BatchCRC")
			}
			// kmsg agrees on the header.
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(batch); err != nil {
				t.Fatal(err)
			}
			if kb.NumRecords != h.NumRecords || kb.LastOffsetDelta != h.LastOffsetDelta ||
				kb.FirstTimestamp != h.BaseTimestamp || uint32(kb.CRC) != h.CRC || kb.Attributes != h.Attributes {
				t.Fatalf("kmsg header %+v, ours %+v", kb, h)
			}
		})
	}
}

func TestValidateProduceBatchErrors(t *testing.T) {
	valid := func(t *testing.T) []byte { return buildBatch(t, batchSpec{}) }
	tests := []struct {
		name  string
		build func(t *testing.T) []byte
		opts  ValidateOptions
		want  *kerr.Error
	}{
		// Structural damage: CORRUPT_MESSAGE.
		{name: "ten bytes", want: kerr.CorruptMessage, build: func(t *testing.T) []byte { return valid(t)[:10] }},
		{name: "cut inside header", want: kerr.CorruptMessage, build: func(t *testing.T) []byte { return valid(t)[:40] }},
		{name: "cut inside records", want: kerr.CorruptMessage, build: func(t *testing.T) []byte { b := valid(t); return b[:len(b)-1] }},
		{name: "length below header", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			b := valid(t)
			binary.BigEndian.PutUint32(b[8:], 20)
			return b
		}},
		{name: "negative length", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			b := valid(t)
			binary.BigEndian.PutUint32(b[8:], 0xffffff00)
			return b
		}},
		{name: "crc mismatch", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			b := valid(t)
			b[len(b)-3] ^= 0xff
			return b
		}},
		{name: "crc field wrong", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			b := valid(t)
			b[17] ^= 1
			return b
		}},
		{name: "record length too long", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			raw := appendRecords(nil, testRecords(1))
			raw[0] += 2 // varint length +1
			return buildBatch(t, batchSpec{raw: raw, records: testRecords(1)})
		}},
		{name: "record length too short", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			raw := appendRecords(nil, testRecords(2))
			raw[0] -= 2 // varint length -1: the record's fields overrun it
			return buildBatch(t, batchSpec{raw: raw, records: testRecords(2)})
		}},
		{name: "garbage records", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{raw: bytes.Repeat([]byte{0xff}, 30), records: testRecords(2)})
		}},
		{name: "bad header key length", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			r := kmsg.Record{OffsetDelta: 0, Value: []byte("v")}
			raw := appendRecords(nil, []kmsg.Record{r})
			raw[len(raw)-1] = 2  // one header...
			raw = append(raw, 1) // ...with key length -1
			raw[0] += 2          // the record grew by one byte
			return buildBatch(t, batchSpec{raw: raw, records: []kmsg.Record{r}})
		}},
		{name: "gzip garbage", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecGzip, edit: func(b *kmsg.RecordBatch) { b.Records = []byte("not gzip at all") }})
		}},
		{name: "zstd truncated", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecZstd, edit: func(b *kmsg.RecordBatch) { b.Records = b.Records[:len(b.Records)/2] }})
		}},
		{name: "lz4 garbage", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecLZ4, edit: func(b *kmsg.RecordBatch) { b.Records = []byte{4, 0x22, 0x4d, 0x18, 1, 2, 3} }})
		}},
		{name: "xerial chunk overruns", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecSnappy, xerial: true, edit: func(b *kmsg.RecordBatch) {
				binary.BigEndian.PutUint32(b.Records[16:], 1<<20)
			}})
		}},
		{name: "unknown codec", want: kerr.CorruptMessage, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: 6})
		}},
		{name: "decompressed size cap", want: kerr.CorruptMessage, opts: ValidateOptions{MaxUncompressedBytes: 100}, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecZstd})
		}},
		{name: "decompressed size cap gzip", want: kerr.CorruptMessage, opts: ValidateOptions{MaxUncompressedBytes: 100}, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecGzip})
		}},
		{name: "decompressed size cap snappy", want: kerr.CorruptMessage, opts: ValidateOptions{MaxUncompressedBytes: 100}, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecSnappy, xerial: true})
		}},

		// Size: MESSAGE_TOO_LARGE, before the CRC.
		{name: "too large", want: kerr.MessageTooLarge, build: valid, opts: ValidateOptions{MaxBatchBytes: 100}},
		{name: "too large with bad crc", want: kerr.MessageTooLarge, opts: ValidateOptions{MaxBatchBytes: 100}, build: func(t *testing.T) []byte {
			b := valid(t)
			b[17] ^= 1
			return b
		}},

		// Rejected content: INVALID_RECORD.
		{name: "empty", want: kerr.InvalidRecord, build: func(*testing.T) []byte { return nil }},
		{name: "magic 1", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Magic = 1 }})
		}},
		{name: "magic 0 short legacy message", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			m := kmsg.MessageV0{Magic: 0, Value: []byte("v")}
			return m.AppendTo(nil)
		}},
		{name: "magic 3", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Magic = 3 }})
		}},
		{name: "two batches", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return append(valid(t), valid(t)...)
		}},
		{name: "trailing bytes", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return append(valid(t), 0, 0, 0)
		}},
		{name: "record count zero", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{raw: []byte{}, records: []kmsg.Record{}})
		}},
		{name: "record count negative", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = -1, -2 }})
		}},
		{name: "more records declared than present", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 6, 5 }})
		}},
		{name: "fewer records declared than present", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 4, 3 }})
		}},
		{name: "count mismatch compressed", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecLZ4, edit: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 9, 8 }})
		}},
		{name: "lastOffsetDelta wrong", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.LastOffsetDelta = 7 }})
		}},
		{name: "offsetDelta not index", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			recs := testRecords(3)
			recs[2].OffsetDelta = 5
			return buildBatch(t, batchSpec{records: recs})
		}},
		{name: "offsetDelta not index compressed", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			recs := testRecords(3)
			recs[0].OffsetDelta = 1
			return buildBatch(t, batchSpec{codec: CodecZstd, records: recs})
		}},
		{name: "control batch", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Attributes |= attrControl }})
		}},
		{name: "log append time from client", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Attributes |= attrLogAppendTime }})
		}},
		{name: "base offset not zero", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.FirstOffset = 5 }})
		}},
		{name: "null key on compacted topic", want: kerr.InvalidRecord, opts: ValidateOptions{RequireKeys: true}, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecGzip})
		}},
		{name: "producer id without sequence", want: kerr.InvalidRecord, build: func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.ProducerID, b.ProducerEpoch, b.FirstSequence = 3, 0, -1 }})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ValidateProduceBatch(tt.build(t), tt.opts)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want.Message)
			}
			var kerrErr *kerr.Error
			if !errors.As(err, &kerrErr) || kerrErr != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want.Message)
			}
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("errors.Is(%v, %s) = false", err, tt.want.Message)
			}
		})
	}
}

// The uncompressed path walks the batch in place.
func TestValidateUncompressedDoesNotAllocate(t *testing.T) {
	batch := buildBatch(t, batchSpec{records: testRecords(50)})
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ValidateProduceBatch(batch, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per validation", allocs)
	}
}

func TestBatchHeaderAccessors(t *testing.T) {
	tests := []struct {
		attrs                   int16
		codec                   Codec
		logAppend, txn, control bool
	}{
		{0, CodecNone, false, false, false},
		{1, CodecGzip, false, false, false},
		{2 | attrLogAppendTime, CodecSnappy, true, false, false},
		{3 | attrTransactional, CodecLZ4, false, true, false},
		{4 | attrTransactional | attrControl, CodecZstd, false, true, true},
	}
	for _, tt := range tests {
		h := BatchHeader{Attributes: tt.attrs, Length: 100}
		if h.Codec() != tt.codec || h.LogAppendTime() != tt.logAppend || h.Transactional() != tt.txn || h.Control() != tt.control {
			t.Errorf("attributes %#x: codec %v logAppend %v txn %v control %v", tt.attrs, h.Codec(), h.LogAppendTime(), h.Transactional(), h.Control())
		}
		if h.Size() != 112 {
			t.Errorf("size %d, want 112", h.Size())
		}
	}
	if _, err := ParseBatchHeader(make([]byte, BatchHeaderSize-1)); !errors.Is(err, kerr.CorruptMessage) {
		t.Errorf("short header: %v", err)
	}
}

func TestHeaderRewrites(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := buildBatch(t, batchSpec{codec: codec})
			SetBaseOffset(batch, 123456789)
			SetPartitionLeaderEpoch(batch, 17)
			h, err := ParseBatchHeader(batch)
			if err != nil {
				t.Fatal(err)
			}
			if h.CRC != BatchCRC(batch) {
				t.Fatal("offset and epoch rewrites broke the CRC")
			}
			if err := ForEachRecord(batch, 0, func(RecordView) bool { return true }); err != nil {
				t.Fatalf("offset and epoch rewrites broke the records: %v", err)
			}
			if h.BaseOffset != 123456789 || h.PartitionLeaderEpoch != 17 {
				t.Fatalf("header %+v", h)
			}
			if h.LastOffset() != 123456789+4 {
				t.Fatalf("last offset %d", h.LastOffset())
			}

			const ts = 1_800_000_000_000
			SetLogAppendTime(batch, ts)
			h, err = ParseBatchHeader(batch)
			if err != nil {
				t.Fatal(err)
			}
			if !h.LogAppendTime() || h.MaxTimestamp != ts || h.Codec() != codec {
				t.Fatalf("after SetLogAppendTime: %+v", h)
			}
			if h.CRC != BatchCRC(batch) {
				t.Fatal("CRC not recomputed")
			}
			// kmsg (as a consumer would) still reads it and the CRC matches.
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(batch); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != BatchCRC(batch) {
				t.Fatal("kmsg sees a different CRC")
			}
		})
	}
	// Short input is ignored, not a panic.
	short := make([]byte, 10)
	SetBaseOffset(short, 1)
	SetPartitionLeaderEpoch(short, 1)
	SetLogAppendTime(short, 1)
	if !bytes.Equal(short, make([]byte, 10)) || BatchCRC(short) != 0 {
		t.Fatal("short batch modified")
	}
}
