package protocol

import "testing"

func benchmarkValidate(b *testing.B, codec Codec) {
	batch := buildBatch(b, batchSpec{codec: codec, records: testRecords(200)})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateProduceBatch(batch, ValidateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateUncompressed(b *testing.B) { benchmarkValidate(b, CodecNone) }
func BenchmarkValidateZstd(b *testing.B)         { benchmarkValidate(b, CodecZstd) }
func BenchmarkValidateLZ4(b *testing.B)          { benchmarkValidate(b, CodecLZ4) }

// BenchmarkValidateTimestampsBounded is BenchmarkValidateUncompressed on a CreateTime topic
// with message.timestamp.before/after.max.ms set: the cost of the per-record check.
func BenchmarkValidateTimestampsBounded(b *testing.B) {
	batch := buildBatch(b, batchSpec{records: testRecords(200)})
	opts := ValidateOptions{Timestamps: NewTimestampBounds(testBaseTimestamp, 3_600_000, 60_000)}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateProduceBatch(batch, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecompress is PrepareProduceBatch with a topic codec other than the batch's.
func BenchmarkRecompress(b *testing.B) {
	for _, tc := range []struct{ from, to Codec }{{CodecSnappy, CodecGzip}, {CodecNone, CodecLZ4}, {CodecZstd, CodecNone}, {CodecGzip, CodecZstd}} {
		b.Run(tc.from.String()+"-to-"+tc.to.String(), func(b *testing.B) {
			batch := buildBatch(b, batchSpec{codec: tc.from, records: testRecords(200)})
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := PrepareProduceBatch(batch, ValidateOptions{}, Compression{Codec: tc.to}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
