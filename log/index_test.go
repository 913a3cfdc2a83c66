package log

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// fillLog appends n batches with varying record counts and sizes.
func fillLog(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		appendT(t, l, mkBatch(t, spec{n: 1 + i%5, valueSize: 10 + (i*37)%200, ts: int64(10_000 + i*10)}), int32(i/100))
	}
}

func TestIndexLookupAcrossSegments(t *testing.T) {
	o := testOpts()
	o.IndexIntervalBytes = 512
	o.SegmentBytes = 16 << 10
	l, dir := newLog(t, o)
	fillLog(t, l, 1500)
	if n := len(l.Segments()); n < 10 {
		t.Fatalf("only %d segments", n)
	}
	// every offset finds the batch containing it
	end := l.LogEndOffset()
	for off := int64(0); off < end; off++ {
		r, err := l.Read(off, 1, 1<<62, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		hs := batchesIn(t, r.Data)
		if len(hs) != 1 || hs[0].BaseOffset > off || hs[0].lastOffset() < off {
			t.Fatalf("Read(%d) returned %+v", off, hs)
		}
	}
	// index files hold whole entries only and follow Kafka's rule (entries reach the files
	// in batches; a flush writes them all)
	must(t, l.Flush())
	for _, s := range l.segs {
		idxPath := segmentPath(dir, s.base, indexSuffix)
		raw, err := os.ReadFile(idxPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 8*len(s.idx.entries) {
			t.Fatalf("%s: %d bytes for %d entries", idxPath, len(raw), len(s.idx.entries))
		}
		checkIndexRule(t, s, int64(o.IndexIntervalBytes))
	}
}

// checkIndexRule recomputes which batches get an index entry (Kafka: when more
// than interval bytes were appended since the last entry) and compares.
func checkIndexRule(t *testing.T, s *segment, interval int64) {
	t.Helper()
	sc := newScanner(s.log, 0, s.size, false)
	var want []offsetEntry
	var lastPos int64
	for sc.next() {
		if sc.at-lastPos > interval {
			want = append(want, offsetEntry{rel: uint32(sc.h.lastOffset() - s.base), pos: uint32(sc.at)})
			lastPos = sc.at
		}
	}
	if len(want) != len(s.idx.entries) {
		t.Fatalf("segment %d: %d index entries, want %d", s.base, len(s.idx.entries), len(want))
	}
	for i := range want {
		if want[i] != s.idx.entries[i] {
			t.Fatalf("segment %d entry %d = %+v, want %+v", s.base, i, s.idx.entries[i], want[i])
		}
	}
}

func TestIndexFileFormat(t *testing.T) {
	o := testOpts()
	o.IndexIntervalBytes = 1
	l, dir := newLog(t, o)
	var sizes []int
	for i := 0; i < 3; i++ {
		b := mkBatch(t, spec{n: 2, ts: int64(5000 + 100*i)})
		sizes = append(sizes, len(b))
		appendT(t, l, b, 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.index"))
	if err != nil {
		t.Fatal(err)
	}
	// entries for batches 2 and 3 (offsets 3 and 5) at their positions
	want := make([]byte, 0, 16)
	want = binary.BigEndian.AppendUint32(want, 3)
	want = binary.BigEndian.AppendUint32(want, uint32(sizes[0]))
	want = binary.BigEndian.AppendUint32(want, 5)
	want = binary.BigEndian.AppendUint32(want, uint32(sizes[0]+sizes[1]))
	if !bytes.Equal(raw, want) {
		t.Fatalf(".index = %x, want %x", raw, want)
	}
	traw, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.timeindex"))
	if err != nil {
		t.Fatal(err)
	}
	// max timestamp so far at each entry: 5101 (batch 2), 5201 (batch 3);
	// the seal on close adds nothing new
	var twant []byte
	twant = binary.BigEndian.AppendUint64(twant, 5101)
	twant = binary.BigEndian.AppendUint32(twant, 3)
	twant = binary.BigEndian.AppendUint64(twant, 5201)
	twant = binary.BigEndian.AppendUint32(twant, 5)
	if !bytes.Equal(traw, twant) {
		t.Fatalf(".timeindex = %x, want %x", traw, twant)
	}
}

func TestIndexRebuiltWhenMissingOrBad(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, idx, tidx string)
	}{
		{"index deleted", func(t *testing.T, idx, tidx string) { must(t, os.Remove(idx)) }},
		{"time index deleted", func(t *testing.T, idx, tidx string) { must(t, os.Remove(tidx)) }},
		{"both deleted", func(t *testing.T, idx, tidx string) { must(t, os.Remove(idx)); must(t, os.Remove(tidx)) }},
		{"index garbage", func(t *testing.T, idx, tidx string) {
			must(t, os.WriteFile(idx, bytes.Repeat([]byte{0xff, 0, 0, 1}, 20), 0o644))
		}},
		{"index offsets decreasing", func(t *testing.T, idx, tidx string) {
			raw, err := os.ReadFile(idx)
			must(t, err)
			copy(raw[8:12], []byte{0, 0, 0, 0})
			must(t, os.WriteFile(idx, raw, 0o644))
		}},
		{"index position beyond file", func(t *testing.T, idx, tidx string) {
			raw, err := os.ReadFile(idx)
			must(t, err)
			binary.BigEndian.PutUint32(raw[len(raw)-4:], 1<<30)
			must(t, os.WriteFile(idx, raw, 0o644))
		}},
		{"time index timestamps decreasing", func(t *testing.T, idx, tidx string) {
			raw, err := os.ReadFile(tidx)
			must(t, err)
			binary.BigEndian.PutUint64(raw[12:], 1)
			must(t, os.WriteFile(tidx, raw, 0o644))
		}},
		{"index partial entry", func(t *testing.T, idx, tidx string) {
			raw, err := os.ReadFile(idx)
			must(t, err)
			must(t, os.WriteFile(idx, raw[:len(raw)-3], 0o644))
		}},
		{"index truncated to fewer entries", func(t *testing.T, idx, tidx string) {
			raw, err := os.ReadFile(idx)
			must(t, err)
			must(t, os.WriteFile(idx, raw[:16], 0o644))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOpts()
			o.IndexIntervalBytes = 256
			o.SegmentBytes = 8 << 10
			dir := filepath.Join(t.TempDir(), "t-0")
			l := openT(t, dir, o)
			fillLog(t, l, 200)
			end := l.LogEndOffset()
			must(t, l.Close())
			// damage the first (inactive) segment, which recovery would not scan
			idx := filepath.Join(dir, "00000000000000000000.index")
			tidx := filepath.Join(dir, "00000000000000000000.timeindex")
			origIdx, _ := os.ReadFile(idx)
			origTidx, _ := os.ReadFile(tidx)
			tc.damage(t, idx, tidx)
			o.RecoveryPoint = end
			l2 := openT(t, dir, o)
			defer l2.Close()
			if l2.LogEndOffset() != end {
				t.Fatalf("log end %d, want %d", l2.LogEndOffset(), end)
			}
			for off := int64(0); off < end; off += 7 {
				r, err := l2.Read(off, 1, 1<<62, true)
				must(t, err)
				hs := batchesIn(t, r.Data)
				if len(hs) != 1 || hs[0].BaseOffset > off || hs[0].lastOffset() < off {
					t.Fatalf("Read(%d) = %+v", off, hs)
				}
			}
			must(t, l2.Flush()) // rebuilt entries reach the files in batches; a flush writes them all
			gotIdx, _ := os.ReadFile(idx)
			gotTidx, _ := os.ReadFile(tidx)
			switch tc.name {
			case "index truncated to fewer entries":
				if !bytes.Equal(gotIdx, origIdx[:16]) {
					t.Fatal("a consistent shorter index should be kept as is")
				}
				return
			case "index partial entry":
				if !bytes.Equal(gotIdx, origIdx[:len(origIdx)-8]) {
					t.Fatalf("partial trailing entry not trimmed: %d bytes, want %d", len(gotIdx), len(origIdx)-8)
				}
				return
			}
			if !bytes.Equal(gotIdx, origIdx) || !bytes.Equal(gotTidx, origTidx) {
				t.Fatalf("rebuilt indexes differ: index %d/%d bytes, time index %d/%d bytes",
					len(gotIdx), len(origIdx), len(gotTidx), len(origTidx))
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
