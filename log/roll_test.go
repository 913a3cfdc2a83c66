package log

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func segmentFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	sort.Strings(m)
	return m
}

func TestRollBySize(t *testing.T) {
	b := mkBatch(t, spec{n: 2, valueSize: 100})
	o := testOpts()
	o.SegmentBytes = int64(3 * len(b)) // three batches fit exactly
	l, dir := newLog(t, o)
	for i := 0; i < 7; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 100}), 0)
	}
	want := []string{"00000000000000000000.log", "00000000000000000006.log", "00000000000000000012.log"}
	if got := segmentFiles(t, dir, ".log"); !equalStrings(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	if got := fileSize(t, filepath.Join(dir, want[0])); got != int64(3*len(b)) {
		t.Fatalf("first segment %d bytes, want %d", got, 3*len(b))
	}
	// a read stays within one segment
	r, err := l.Read(0, 1<<20, 1<<62, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(batchesIn(t, r.Data)); n != 3 {
		t.Fatalf("read %d batches across a segment end, want 3", n)
	}
	if got := len(readAll(t, l)); got != 7 {
		t.Fatalf("read %d batches, want 7", got)
	}
	// rolling wrote producer snapshots at the new bases
	if got := segmentFiles(t, dir, ".snapshot"); !equalStrings(got, []string{"00000000000000000006.snapshot", "00000000000000000012.snapshot"}) {
		t.Fatalf("snapshots %v", got)
	}
	// a batch larger than a segment still goes in (alone)
	big := mkBatch(t, spec{n: 1, valueSize: 4 * len(b)})
	appendT(t, l, big, 0)
	if n := len(l.Segments()); n != 4 {
		t.Fatalf("%d segments, want 4", n)
	}
}

func TestRollByTime(t *testing.T) {
	c := &clock{now: time.UnixMilli(1_700_000_000_000)}
	o := testOpts()
	o.SegmentMs = int64(time.Hour / time.Millisecond)
	o.Now = c.Now
	l, _ := newLog(t, o)
	appendT(t, l, mkBatch(t, spec{}), 0)
	c.advance(30 * time.Minute)
	appendT(t, l, mkBatch(t, spec{}), 0)
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments after 30m, want 1", n)
	}
	c.advance(31 * time.Minute) // the first append is now 61 minutes old
	appendT(t, l, mkBatch(t, spec{}), 0)
	segs := l.Segments()
	if len(segs) != 2 || segs[1].BaseOffset != 2 {
		t.Fatalf("segments %+v, want a roll at offset 2", segs)
	}
	c.advance(59 * time.Minute)
	appendT(t, l, mkBatch(t, spec{}), 0)
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments, want 2 (new segment younger than an hour)", n)
	}
}

func TestRollWhenIndexFull(t *testing.T) {
	o := testOpts()
	o.IndexIntervalBytes = 1
	o.MaxIndexBytes = 24 // 3 offset entries, 2 time entries
	l, _ := newLog(t, o)
	for i := 0; i < 12; i++ {
		appendT(t, l, mkBatch(t, spec{ts: int64(1000 + i)}), 0)
	}
	segs := l.Segments()
	if len(segs) < 3 {
		t.Fatalf("%d segments, want rolls on a full index", len(segs))
	}
	for _, s := range l.segs {
		if len(s.idx.entries) > s.idx.max || len(s.tidx.entries) > s.tidx.max+1 {
			t.Fatalf("segment %d: %d/%d index entries", s.base, len(s.idx.entries), len(s.tidx.entries))
		}
	}
	if got := len(readAll(t, l)); got != 12 {
		t.Fatalf("read %d batches, want 12", got)
	}
}

func TestRollExplicit(t *testing.T) {
	l, dir := newLog(t, testOpts())
	if err := l.Roll(); err != nil { // empty: no-op
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, ".log")); n != 1 {
		t.Fatalf("%d segments after rolling an empty log", n)
	}
	appendT(t, l, mkBatch(t, spec{n: 5}), 0)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	got := segmentFiles(t, dir, ".log")
	if !equalStrings(got, []string{"00000000000000000000.log", "00000000000000000005.log"}) {
		t.Fatalf("segments %v", got)
	}
	for _, suf := range []string{".index", ".timeindex"} {
		if _, err := os.Stat(filepath.Join(dir, "00000000000000000005"+suf)); err != nil {
			t.Fatalf("new segment lacks %s: %v", suf, err)
		}
	}
	// the rolled segment's time index got its final entry
	if ts, off := l.segs[0].tidx.last(); ts != 1004 || off != 4 {
		t.Fatalf("sealed time index last entry (%d, %d), want (1004, 4)", ts, off)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
