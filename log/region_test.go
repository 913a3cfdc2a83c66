package log

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
)

// TestReadRegionMatchesWalk compares ReadRegion (which skips ahead with the offset index)
// with a plain walk over every batch, for random offsets, byte limits and high watermarks,
// over batches of mixed sizes in several segments with a small index interval.
func TestReadRegionMatchesWalk(t *testing.T) {
	o := testOpts()
	o.IndexIntervalBytes = 300
	o.SegmentBytes = 20 << 10
	l, _ := newLog(t, o)
	rng := rand.New(rand.NewPCG(1, 2))
	type stored struct {
		base, last int64
		bytes      []byte
	}
	for i := 0; i < 400; i++ {
		appendT(t, l, mkBatch(t, spec{n: 1 + rng.IntN(5), valueSize: rng.IntN(900)}), 0)
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, got %d", len(l.Segments()))
	}
	// The batches as the segment files hold them, read straight from disk.
	var all []stored
	for _, seg := range l.segs {
		data, err := os.ReadFile(seg.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			h, ok := splitBatch(data)
			if !ok {
				t.Fatalf("%s does not split into batches", seg.logPath)
			}
			all = append(all, stored{base: h.BaseOffset, last: h.lastOffset(), bytes: data[:h.size()]})
			data = data[h.size():]
		}
	}
	segBase := func(off int64) int64 {
		var base int64
		for _, s := range l.Segments() {
			if s.BaseOffset <= off {
				base = s.BaseOffset
			}
		}
		return base
	}
	// want is the plain walk: from the batch holding offset, within its segment.
	want := func(offset int64, maxBytes int, maxOffset int64, minOne bool) []byte {
		var out []byte
		for i, s := range all {
			if s.last < offset {
				continue
			}
			seg := segBase(s.base)
			for j := i; j < len(all) && segBase(all[j].base) == seg; j++ {
				b := all[j]
				if b.base >= maxOffset {
					break
				}
				if len(out)+len(b.bytes) > maxBytes && !(minOne && len(out) == 0) {
					break
				}
				out = append(out, b.bytes...)
			}
			return out
		}
		return nil
	}
	end := l.LogEndOffset()
	for i := 0; i < 3000; i++ {
		offset := rng.Int64N(end + 1)
		maxBytes := rng.IntN(30 << 10)
		maxOffset := offset + rng.Int64N(end-offset+2)
		minOne := rng.IntN(2) == 0
		r, err := l.ReadRegion(offset, int32(maxBytes), maxOffset, minOne)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadTo(nil)
		r.Release()
		if err != nil {
			t.Fatal(err)
		}
		if w := want(offset, maxBytes, maxOffset, minOne); !bytes.Equal(got, w) {
			t.Fatalf("ReadRegion(%d, %d, %d, %v): %d bytes (%d batches), want %d bytes (%d batches)",
				offset, maxBytes, maxOffset, minOne, len(got), len(batchesIn(t, got)), len(w), len(batchesIn(t, w)))
		}
	}
}

// TestRegionOutlivesSegment: a region keeps its segment file open after the segment is
// deleted and the log closed, and reads the same bytes; the file closes on Release.
func TestRegionOutlivesSegment(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 4 << 10
	l, _ := newLog(t, o)
	for i := 0; i < 20; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 500}), 0)
	}
	r, err := l.ReadRegion(0, 1<<20, 1<<62, true)
	if err != nil {
		t.Fatal(err)
	}
	before, err := r.ReadTo(nil)
	if err != nil || len(before) == 0 {
		t.Fatalf("first read: %d bytes, %v", len(before), err)
	}
	if err := l.DeleteBefore(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := r.ReadTo(nil)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("after delete and close: %d bytes, %v; want the %d bytes read before", len(after), err, len(before))
	}
	r.Release()
	r.Release() // a second release is a no-op
	if _, err := r.File.ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("segment file still open after the last release")
	}
}

func TestOffsetIndexLastWithin(t *testing.T) {
	x := &offsetIndex{base: 100, entries: []offsetEntry{{rel: 4, pos: 100}, {rel: 9, pos: 250}, {rel: 20, pos: 600}}}
	cases := []struct {
		maxPos, maxOffset int64
		want              int64
		ok                bool
	}{
		{maxPos: 99, maxOffset: 1000, ok: false},
		{maxPos: 100, maxOffset: 1000, want: 100, ok: true},
		{maxPos: 599, maxOffset: 1000, want: 250, ok: true},
		{maxPos: 10000, maxOffset: 1000, want: 600, ok: true},
		{maxPos: 10000, maxOffset: 120, want: 250, ok: true},
		{maxPos: 10000, maxOffset: 104, ok: false},
	}
	for _, c := range cases {
		got, ok := x.lastWithin(c.maxPos, c.maxOffset)
		if got != c.want || ok != c.ok {
			t.Errorf("lastWithin(%d, %d) = %d, %v; want %d, %v", c.maxPos, c.maxOffset, got, ok, c.want, c.ok)
		}
	}
}
