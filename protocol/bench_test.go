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
