package log

import (
	"math"
	"testing"
)

// BenchmarkIndexLookup looks offsets up in a full-size sparse offset index (one entry per
// 4 KiB of a 1 GiB segment: 262,144 entries), the first step of every fetch.
func BenchmarkIndexLookup(b *testing.B) {
	const entries = 1 << 18
	x := &offsetIndex{base: 1000, max: entries, entries: make([]offsetEntry, entries)}
	for i := range x.entries {
		x.entries[i] = offsetEntry{rel: uint32(i * 40), pos: uint32(i * 4096)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		off := x.base + int64((i*7919)%(entries*40))
		if _, pos := x.lookup(off); pos < 0 {
			b.Fatal("negative position")
		}
		i++
	}
}

// BenchmarkReadTail reads the newest batches of a log, as a caught-up consumer does.
func BenchmarkReadTail(b *testing.B) {
	l, _ := newLog(b, testOpts())
	batch := mkBatch(b, spec{n: 10, valueSize: 100})
	for i := 0; i < 10000; i++ {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	off := l.LogEndOffset() - 10
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Read(off, 1<<20, math.MaxInt64, true); err != nil {
			b.Fatal(err)
		}
	}
}
