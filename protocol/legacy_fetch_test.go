package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFetchMagic(t *testing.T) {
	for v, want := range map[int16]int8{0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 12: 2} {
		if got := FetchMagic(v); got != want {
			t.Errorf("Fetch v%d: magic %d, want %d", v, got, want)
		}
	}
}

func TestAppendDownConverted(t *testing.T) {
	recs := testRecords(9) // offset deltas 0..8, timestamp deltas 0, 3, 6, ...; headers on some
	const base = 100
	for _, codec := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4} {
		for _, magic := range []int8{0, 1} {
			for _, first := range []int64{base, base + 4} {
				t.Run(fmt.Sprintf("%s to magic %d from %d", codec, magic, first), func(t *testing.T) {
					batch := buildBatch(t, batchSpec{codec: codec, records: recs})
					SetBaseOffset(batch, base)
					out, err := AppendDownConverted([]byte("prefix"), batch, magic, first, 0)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(out, []byte("prefix")) {
						t.Fatal("dst was not appended to")
					}
					got := readLegacy(t, out[len("prefix"):])
					skip := 0
					if codec == CodecNone {
						skip = int(first - base) // uncompressed records below the fetch offset are left out
					}
					if len(got) != len(recs)-skip {
						t.Fatalf("%d messages, want %d", len(got), len(recs)-skip)
					}
					for i, m := range got {
						r := recs[i+skip]
						wantTS := int64(-1)
						if magic == 1 {
							wantTS = testBaseTimestamp + r.TimestampDelta64
						}
						wrapperWant := int8(-1)
						if codec != CodecNone {
							wrapperWant = int8(codec)
						}
						if m.magic != magic || m.offset != base+int64(r.OffsetDelta) || m.timestamp != wantTS || m.attrs != 0 ||
							m.wrapperAttrs != wrapperWant || !bytes.Equal(m.key, r.Key) || (m.key == nil) != (r.Key == nil) || !bytes.Equal(m.value, r.Value) || (m.value == nil) != (r.Value == nil) {
							t.Fatalf("message %d: %+v, want record %+v at offset %d ts %d", i, m, r, base+int64(r.OffsetDelta), wantTS)
						}
					}
					if codec != CodecNone {
						w, _ := parseLegacyMessage(out[len("prefix"):])
						wantTS := int64(-1)
						if magic == 1 {
							wantTS = testBaseTimestamp + recs[len(recs)-1].TimestampDelta64
						}
						if w.offset != base+8 || w.timestamp != wantTS || w.key != nil {
							t.Fatalf("wrapper offset %d ts %d key %q, want %d %d null", w.offset, w.timestamp, w.key, base+8, wantTS)
						}
					}
				})
			}
		}
	}
}

func TestAppendDownConvertedLogAppendTime(t *testing.T) {
	const lat = testBaseTimestamp + 5000
	for _, codec := range []Codec{CodecNone, CodecGzip} {
		batch := buildBatch(t, batchSpec{codec: codec})
		SetLogAppendTime(batch, lat)
		out, err := AppendDownConverted(nil, batch, 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range readLegacy(t, out) {
			if m.timestamp != lat || m.attrs != legacyAttrLogAppendTime {
				t.Fatalf("%s: message ts %d attrs %d, want the log append time %d with attribute 8", codec, m.timestamp, m.attrs, lat)
			}
			if codec != CodecNone && m.wrapperAttrs != int8(codec)|legacyAttrLogAppendTime {
				t.Fatalf("wrapper attributes %d", m.wrapperAttrs)
			}
		}
		out0, err := AppendDownConverted(nil, batch, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range readLegacy(t, out0) {
			if m.timestamp != -1 || m.attrs != 0 {
				t.Fatalf("magic 0 message with ts %d attrs %d", m.timestamp, m.attrs)
			}
		}
	}
}

func TestAppendDownConvertedSkipsAndRefuses(t *testing.T) {
	control := buildBatch(t, batchSpec{records: testRecords(1), edit: func(b *kmsg.RecordBatch) {
		b.Attributes |= attrControl | attrTransactional
		b.ProducerID, b.ProducerEpoch = 9, 0
	}})
	if out, err := AppendDownConverted([]byte{1}, control, 1, 0, 0); err != nil || !bytes.Equal(out, []byte{1}) {
		t.Fatalf("control batch: %v, %d bytes; want nothing appended", err, len(out))
	}
	zstdBatch := buildBatch(t, batchSpec{codec: CodecZstd})
	if _, err := AppendDownConverted(nil, zstdBatch, 1, 0, 0); !errors.Is(err, kerr.UnsupportedCompressionType) {
		t.Fatalf("zstd batch: %v, want UNSUPPORTED_COMPRESSION_TYPE", err)
	}
	// Transactional data (not a control batch) is converted like any other.
	txn := buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) {
		b.Attributes |= attrTransactional
		b.ProducerID, b.ProducerEpoch, b.FirstSequence = 9, 0, 0
	}})
	if out, err := AppendDownConverted(nil, txn, 1, 0, 0); err != nil || len(readLegacy(t, out)) != 5 {
		t.Fatalf("transactional batch: %v", err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 20), buildBatch(t, batchSpec{codec: CodecGzip})[:70]} {
		if _, err := AppendDownConverted(nil, bad, 1, 0, 0); !errors.Is(err, kerr.CorruptMessage) {
			t.Fatalf("%d damaged bytes: %v, want CORRUPT_MESSAGE", len(bad), err)
		}
	}
	// A stored legacy message passes through when it is not newer than asked.
	v0 := legacySet(0, testLegacyMsgs(1, 0))
	if out, err := AppendDownConverted(nil, v0, 1, 0, 0); err != nil || !bytes.Equal(out, v0) {
		t.Fatalf("magic 0 message to magic 1: %v", err)
	}
}

// Produce conversion followed by fetch conversion gives back the producer's
// bytes when offsets start at 0: the two directions agree with each other.
func TestLegacyRoundTrip(t *testing.T) {
	msgs := testLegacyMsgs(6, legacyTS)
	cases := []struct {
		name  string
		magic int8
		set   []byte
	}{
		{"v1 uncompressed", 1, legacySet(1, msgs)},
		{"v0 uncompressed", 0, legacySet(0, func() []legacyMsg {
			m := testLegacyMsgs(6, -1)
			for i := range m {
				m[i].timestamp = -1
			}
			return m
		}())},
		{"v1 gzip", 1, legacyWrapper(t, 1, CodecGzip, 5, legacyTS+5, msgs)},
		{"v1 lz4", 1, legacyWrapper(t, 1, CodecLZ4, 5, legacyTS+5, msgs)},
		{"v0 lz4", 0, legacyWrapper(t, 0, CodecLZ4, 5, -1, msgs)},
		{"v0 snappy", 0, legacyWrapper(t, 0, CodecSnappy, 5, -1, msgs)},
	}
	for _, c := range cases {
		batch, _, err := ConvertMessageSet(c.set, anyTime)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		back, err := AppendDownConverted(nil, batch, c.magic, 0, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(back, c.set) {
			t.Errorf("%s: down-converted bytes differ from the produced ones\n got % x\nwant % x", c.name, back[:min(80, len(back))], c.set[:min(80, len(c.set))])
		}
	}
}

func TestOverflowHeader(t *testing.T) {
	h := OverflowHeader(5)
	if n, _ := nextEntrySize(append(h[:], 1, 0, 0, 0)); n != 0 {
		t.Fatalf("overflow entry read as complete (%d bytes)", n)
	}
	if got := int32(h[8])<<24 | int32(h[9])<<16 | int32(h[10])<<8 | int32(h[11]); got != BatchHeaderSize {
		t.Fatalf("length %d, want %d", got, BatchHeaderSize)
	}
	h = OverflowHeader(1000)
	if got := int32(h[8])<<24 | int32(h[9])<<16 | int32(h[10])<<8 | int32(h[11]); got != 1001 {
		t.Fatalf("length %d, want 1001", got)
	}
}
