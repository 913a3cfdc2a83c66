package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawRecords returns the uncompressed records area of a batch.
func rawRecords(t *testing.T, batch []byte) []byte {
	t.Helper()
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Decompress(h.Codec(), batch[BatchHeaderSize:h.Size()], 0)
	if err != nil {
		t.Fatalf("%s records: %v", h.Codec(), err)
	}
	return raw
}

// idempotentTxn marks a test batch transactional with producer 7, epoch 3, base sequence 42.
func idempotentTxn(b *kmsg.RecordBatch) {
	b.Attributes |= attrTransactional
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = 7, 3, 42
}

func TestPrepareProduceBatchRecompresses(t *testing.T) {
	recs := testRecords(60)
	for _, src := range allCodecs {
		for _, dst := range append([]Codec{CodecProducer}, allCodecs...) {
			t.Run(fmt.Sprintf("%s to %s", src, dst), func(t *testing.T) {
				in := buildBatch(t, batchSpec{codec: src, records: recs, edit: idempotentTxn})
				sent := bytes.Clone(in)
				out, h, err := PrepareProduceBatch(in, ValidateOptions{MaxBatchBytes: 1 << 20}, Compression{Codec: dst})
				if err != nil {
					t.Fatal(err)
				}
				if h.Codec() != src || h.NumRecords != 60 {
					t.Fatalf("returned header %+v, want the batch as sent", h)
				}
				if !bytes.Equal(in, sent) {
					t.Fatal("the request's batch was modified")
				}
				if dst == CodecProducer || dst == src {
					if &out[0] != &in[0] || len(out) != len(in) {
						t.Fatal("batch not stored as sent")
					}
					return
				}
				got, err := ValidateProduceBatch(out, ValidateOptions{})
				if err != nil {
					t.Fatalf("recompressed batch does not validate: %v", err)
				}
				if got.Codec() != dst || got.CRC != BatchCRC(out) || got.Size() != len(out) {
					t.Fatalf("recompressed header %+v for %d bytes, want codec %s", got, len(out), dst)
				}
				if got.ProducerID != 7 || got.ProducerEpoch != 3 || got.BaseSequence != 42 || !got.Transactional() ||
					got.LogAppendTime() || got.Control() || got.BaseOffset != 0 || got.LastOffsetDelta != 59 ||
					got.NumRecords != 60 || got.BaseTimestamp != h.BaseTimestamp || got.PartitionLeaderEpoch != -1 {
					t.Fatalf("recompressed header %+v, sent %+v", got, h)
				}
				if got.MaxTimestamp != testBaseTimestamp+3*59 {
					t.Fatalf("maxTimestamp %d, want %d", got.MaxTimestamp, testBaseTimestamp+3*59)
				}
				if !bytes.Equal(rawRecords(t, out), rawRecords(t, in)) {
					t.Fatal("records differ after recompression")
				}
				// kmsg, as a consumer, reads the header and agrees on the CRC.
				var kb kmsg.RecordBatch
				if err := kb.ReadFrom(out); err != nil || uint32(kb.CRC) != BatchCRC(out) || kb.NumRecords != 60 {
					t.Fatalf("kmsg: %v, crc %08x, %d records", err, uint32(kb.CRC), kb.NumRecords)
				}
			})
		}
	}
}

// Levels are applied (the records are what Kafka's framing at that level gives), and a level
// alone does not make a batch be rebuilt.
func TestPrepareProduceBatchLevels(t *testing.T) {
	recs := testRecords(300)
	in := buildBatch(t, batchSpec{records: recs})
	raw := rawRecords(t, in)
	for _, tc := range []struct {
		codec  Codec
		levels []int
	}{
		{CodecGzip, []int{1, 9, -1}},
		{CodecZstd, []int{1, 3, 19}},
		{CodecLZ4, []int{1, 9, 17}},
	} {
		t.Run(tc.codec.String(), func(t *testing.T) {
			outs := map[string]bool{}
			for _, level := range tc.levels {
				c := Compression{Codec: tc.codec, Level: level}
				out, _, err := PrepareProduceBatch(in, ValidateOptions{}, c)
				if err != nil {
					t.Fatal(err)
				}
				want, err := appendKafkaCompressed(nil, c, 2, raw)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out[BatchHeaderSize:], want) {
					t.Fatalf("level %d: records not compressed at that level", level)
				}
				outs[string(want)] = true
			}
			if len(outs) < 2 {
				t.Fatalf("levels %v all give the same bytes", tc.levels)
			}
			same := buildBatch(t, batchSpec{codec: tc.codec, records: recs})
			out, _, err := PrepareProduceBatch(same, ValidateOptions{}, Compression{Codec: tc.codec, Level: tc.levels[0]})
			if err != nil || &out[0] != &same[0] {
				t.Fatalf("a %s batch on a %s topic of another level is rebuilt (err %v)", tc.codec, tc.codec, err)
			}
		})
	}
}

func TestPrepareProduceBatchTooLargeAfterRecompression(t *testing.T) {
	// Compressible records, sent gzip'ed: far smaller than uncompressed.
	recs := testRecords(400)
	in := buildBatch(t, batchSpec{codec: CodecGzip, records: recs})
	limit := int32(len(in) + 100)
	if _, _, err := PrepareProduceBatch(in, ValidateOptions{MaxBatchBytes: limit}, Compression{Codec: CodecProducer}); err != nil {
		t.Fatalf("as sent: %v", err)
	}
	_, _, err := PrepareProduceBatch(in, ValidateOptions{MaxBatchBytes: limit}, Compression{Codec: CodecNone})
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("uncompressed %d-byte records above max %d: %v, want MESSAGE_TOO_LARGE", len(rawRecords(t, in)), limit, err)
	}
	// Incompressible values: lz4 makes them slightly larger than they are.
	big := make([]kmsg.Record, 4)
	for i := range big {
		big[i] = kmsg.Record{OffsetDelta: int32(i), Value: make([]byte, 5000)}
		if _, err := rand.Read(big[i].Value); err != nil {
			t.Fatal(err)
		}
	}
	in = buildBatch(t, batchSpec{records: big})
	out, _, err := PrepareProduceBatch(in, ValidateOptions{}, Compression{Codec: CodecLZ4})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := PrepareProduceBatch(in, ValidateOptions{MaxBatchBytes: int32(len(out) - 1)}, Compression{Codec: CodecLZ4}); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("lz4 batch of %d bytes above max %d: %v", len(out), len(out)-1, err)
	}
}

// Validation errors come before any recompression, and a corrupt batch is not rebuilt.
func TestPrepareProduceBatchErrors(t *testing.T) {
	bad := buildBatch(t, batchSpec{codec: CodecSnappy})
	bad[len(bad)-1] ^= 1
	if _, _, err := PrepareProduceBatch(bad, ValidateOptions{}, Compression{Codec: CodecGzip}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("crc mismatch: %v", err)
	}
	garbage := buildBatch(t, batchSpec{codec: CodecGzip, edit: func(b *kmsg.RecordBatch) { b.Records = []byte("not gzip") }})
	if _, _, err := PrepareProduceBatch(garbage, ValidateOptions{}, Compression{Codec: CodecNone}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("undecompressable: %v", err)
	}
}

// timedRecords are records at the given timestamps (absolute), deltas from the first.
func timedBatch(t *testing.T, codec Codec, stamps ...int64) []byte {
	recs := make([]kmsg.Record, len(stamps))
	for i, ts := range stamps {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: ts - stamps[0], Key: []byte("k"), Value: []byte("v")}
	}
	return buildBatch(t, batchSpec{codec: codec, records: recs, edit: func(b *kmsg.RecordBatch) {
		b.FirstTimestamp = stamps[0]
		b.MaxTimestamp = slicesMax(stamps)
	}})
}

func slicesMax(s []int64) int64 {
	m := int64(math.MinInt64)
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func TestTimestampBounds(t *testing.T) {
	const now = 1_800_000_000_000
	const before, after = 3_600_000, 60_000
	bounds := NewTimestampBounds(now, before, after)
	tests := []struct {
		name   string
		stamps []int64
		bounds TimestampBounds
		bad    []int32 // refused record indexes
	}{
		{name: "at both edges", stamps: []int64{now - before, now, now + after}, bounds: bounds},
		{name: "no timestamp", stamps: []int64{-1, -1}, bounds: bounds},
		{name: "one ms too old", stamps: []int64{now, now - before - 1}, bounds: bounds, bad: []int32{1}},
		{name: "one ms too new", stamps: []int64{now + after + 1, now}, bounds: bounds, bad: []int32{0}},
		{name: "several", stamps: []int64{0, now, now + 2*after, 5}, bounds: bounds, bad: []int32{0, 2, 3}},
		{name: "only after bounded", stamps: []int64{0, now + after}, bounds: NewTimestampBounds(now, math.MaxInt64, after)},
		{name: "only after bounded, too new", stamps: []int64{0, now + after + 1}, bounds: NewTimestampBounds(now, math.MaxInt64, after), bad: []int32{1}},
		{name: "only before bounded", stamps: []int64{now - 10, math.MaxInt64 / 2}, bounds: NewTimestampBounds(now, 10, math.MaxInt64)},
		{name: "zero bounds: only now", stamps: []int64{now, now + 1}, bounds: NewTimestampBounds(now, 0, 0), bad: []int32{1}},
		{name: "defaults check nothing", stamps: []int64{0, math.MaxInt64 / 2}, bounds: NewTimestampBounds(now, math.MaxInt64, math.MaxInt64)},
		{name: "zero value checks nothing", stamps: []int64{0, now + 10*after}},
	}
	for _, codec := range []Codec{CodecNone, CodecLZ4} {
		for _, tt := range tests {
			t.Run(codec.String()+"/"+tt.name, func(t *testing.T) {
				batch := timedBatch(t, codec, tt.stamps...)
				_, err := ValidateProduceBatch(batch, ValidateOptions{Timestamps: tt.bounds})
				if len(tt.bad) == 0 {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var re *RecordsError
				if !errors.As(err, &re) || !errors.Is(err, kerr.InvalidTimestamp) {
					t.Fatalf("err %v, want a RecordsError with INVALID_TIMESTAMP", err)
				}
				if re.Message != "One or more records have been rejected due to invalid timestamp" {
					t.Fatalf("message %q", re.Message)
				}
				if len(re.Records) != len(tt.bad) {
					t.Fatalf("record errors %+v, want indexes %v", re.Records, tt.bad)
				}
				for i, r := range re.Records {
					ts := tt.stamps[tt.bad[i]]
					want := fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
						ts, tt.bad[i], tt.bounds.now-tt.bounds.before, tt.bounds.now+tt.bounds.after)
					if r.Index != tt.bad[i] || r.Message != want {
						t.Fatalf("record error %d: %+v, want index %d %q", i, r, tt.bad[i], want)
					}
				}
			})
		}
	}
}

// Key and timestamp errors are gathered together; one timestamp error makes the batch
// INVALID_TIMESTAMP, key errors alone INVALID_RECORD with Kafka's summary.
func TestRecordErrorsKeysAndTimestamps(t *testing.T) {
	const now = 1_800_000_000_000
	recs := []kmsg.Record{
		{OffsetDelta: 0, Key: []byte("k"), Value: []byte("ok")},
		{OffsetDelta: 1, Value: []byte("no key")},
		{OffsetDelta: 2, Value: []byte("no key")},
		{OffsetDelta: 3, Value: []byte("no key")},
		{OffsetDelta: 4, Value: []byte("no key")},
		{OffsetDelta: 5, Key: []byte("k"), TimestampDelta64: 1 << 40, Value: []byte("far future")},
	}
	batch := buildBatch(t, batchSpec{codec: CodecZstd, records: recs, edit: func(b *kmsg.RecordBatch) { b.FirstTimestamp = now }})
	opts := ValidateOptions{RequireKeys: true, Timestamps: NewTimestampBounds(now, 1000, 1000)}
	var re *RecordsError
	if _, err := ValidateProduceBatch(batch, opts); !errors.As(err, &re) || re.Code != kerr.InvalidTimestamp || len(re.Records) != 5 || re.Records[4].Index != 5 {
		t.Fatalf("keys and timestamp: %v %+v", err, re)
	}
	opts.Timestamps = TimestampBounds{}
	_, err := ValidateProduceBatch(batch, opts)
	if !errors.As(err, &re) || re.Code != kerr.InvalidRecord || len(re.Records) != 4 {
		t.Fatalf("keys only: %v", err)
	}
	want := "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: " +
		"[RecordError(batchIndex=1, message='Compacted topic cannot accept message without key'), " +
		"RecordError(batchIndex=2, message='Compacted topic cannot accept message without key'), " +
		"RecordError(batchIndex=3, message='Compacted topic cannot accept message without key')]"
	if re.Message != want || !strings.HasPrefix(err.Error(), kerr.InvalidRecord.Message) {
		t.Fatalf("message %q\nwant    %q", re.Message, want)
	}
}

// Bounded timestamps cost no allocation on an uncompressed batch that passes.
func TestValidateTimestampsDoNotAllocate(t *testing.T) {
	batch := buildBatch(t, batchSpec{records: testRecords(50)})
	opts := ValidateOptions{Timestamps: NewTimestampBounds(testBaseTimestamp, 60_000, 60_000)}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ValidateProduceBatch(batch, opts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per validation", allocs)
	}
}
