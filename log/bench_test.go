package log

import (
	"math"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	o := testOpts()
	o.SegmentBytes = 64 << 20
	l, _ := newLog(b, o)
	batch := mkBatch(b, spec{n: 10, valueSize: 100})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	o := testOpts()
	l, _ := newLog(b, o)
	batch := mkBatch(b, spec{n: 10, valueSize: 100})
	const n = 10000
	for i := 0; i < n; i++ {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	end := l.LogEndOffset()
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := int64(i*7919) % end
		if _, err := l.Read(off, 64<<10, math.MaxInt64, true); err != nil {
			b.Fatal(err)
		}
	}
}
