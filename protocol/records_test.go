package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestForEachRecord(t *testing.T) {
	want := testRecords(12)
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := buildBatch(t, batchSpec{codec: codec, records: want})
			var got []kmsg.Record
			err := ForEachRecord(batch, 0, func(r RecordView) bool {
				got = append(got, kmsg.Record{
					OffsetDelta:      r.OffsetDelta,
					TimestampDelta64: r.TimestampDelta,
					Key:              bytes.Clone(r.Key),
					Value:            bytes.Clone(r.Value),
				})
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.OffsetDelta != w.OffsetDelta || g.TimestampDelta64 != w.TimestampDelta64 ||
					!bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) ||
					(g.Key == nil) != (w.Key == nil) || (g.Value == nil) != (w.Value == nil) {
					t.Fatalf("record %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestForEachRecordStops(t *testing.T) {
	batch := buildBatch(t, batchSpec{codec: CodecGzip, records: testRecords(10)})
	var n int
	err := ForEachRecord(batch, 0, func(RecordView) bool { n++; return n < 3 })
	if err != nil || n != 3 {
		t.Fatalf("n = %d, err = %v; want 3 calls, no error", n, err)
	}
}

// ForEachRecord reads a batch within a longer slice (a log segment).
func TestForEachRecordTrailingData(t *testing.T) {
	one := buildBatch(t, batchSpec{records: testRecords(2)})
	two := append(bytes.Clone(one), buildBatch(t, batchSpec{records: testRecords(7)})...)
	var n int
	if err := ForEachRecord(two, 0, func(RecordView) bool { n++; return true }); err != nil || n != 2 {
		t.Fatalf("n = %d, err = %v", n, err)
	}
}

func TestForEachRecordErrors(t *testing.T) {
	tests := []struct {
		name  string
		batch func(t *testing.T) []byte
		limit int
		want  *kerr.Error
	}{
		{"short", func(t *testing.T) []byte { return make([]byte, 20) }, 0, kerr.CorruptMessage},
		{"truncated", func(t *testing.T) []byte { b := buildBatch(t, batchSpec{}); return b[:len(b)-4] }, 0, kerr.CorruptMessage},
		{"magic 1", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Magic = 1 }})
		}, 0, kerr.InvalidRecord},
		{"count mismatch", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{edit: func(b *kmsg.RecordBatch) { b.NumRecords = 9 }})
		}, 0, kerr.InvalidRecord},
		{"limit", func(t *testing.T) []byte { return buildBatch(t, batchSpec{codec: CodecLZ4}) }, 50, kerr.CorruptMessage},
		{"broken record", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{raw: []byte{0x80}, records: testRecords(1)})
		}, 0, kerr.CorruptMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ForEachRecord(tt.batch(t), tt.limit, func(RecordView) bool { return true })
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %s", err, tt.want.Message)
			}
		})
	}
}
