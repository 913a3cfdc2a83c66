package log

import (
	"path/filepath"
	"testing"
)

func TestOffsetForTimestamp(t *testing.T) {
	codecs := map[string]int{"none": codecNone, "gzip": codecGzip, "snappy": codecSnappy, "lz4": codecLZ4, "zstd": codecZstd}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			o := testOpts()
			o.SegmentBytes = 400
			o.IndexIntervalBytes = 1
			l, _ := newLog(t, o)
			// batch i has 4 records at offsets 4i..4i+3 with timestamps
			// 1000+100i + {5, 0, 30, 10}: not monotonic inside a batch
			for i := 0; i < 12; i++ {
				appendT(t, l, mkBatch(t, spec{n: 4, ts: int64(1000 + 100*i), tsDeltas: []int64{5, 0, 30, 10}, codec: codec}), 0)
			}
			if n := len(l.Segments()); n < 3 {
				t.Fatalf("want several segments, got %d", n)
			}
			cases := []struct {
				ts      int64
				wantOff int64
				wantTs  int64
				wantOK  bool
			}{
				{0, 0, 1005, true},
				{1005, 0, 1005, true},
				{1006, 2, 1030, true},
				{1030, 2, 1030, true},
				{1031, 4, 1105, true},
				{1100, 4, 1105, true},
				{1505, 20, 1505, true},
				{1506, 22, 1530, true},
				{2130, 46, 2130, true},
				{2131, 0, 0, false},
			}
			for _, c := range cases {
				off, ts, ok, err := l.OffsetForTimestamp(c.ts)
				must(t, err)
				if ok != c.wantOK || (ok && (off != c.wantOff || ts != c.wantTs)) {
					t.Errorf("OffsetForTimestamp(%d) = %d %d %v, want %d %d %v", c.ts, off, ts, ok, c.wantOff, c.wantTs, c.wantOK)
				}
			}
			// below the log start offset records are not returned
			must(t, l.DeleteBefore(21))
			off, _, ok, err := l.OffsetForTimestamp(0)
			must(t, err)
			if !ok || off != 21 {
				t.Errorf("after DeleteBefore(21): offset %d ok %v, want 21, the log start", off, ok)
			}
		})
	}
}

func TestOffsetForTimestampLogAppendTime(t *testing.T) {
	l, _ := newLog(t, testOpts())
	appendT(t, l, mkBatch(t, spec{n: 3, ts: 1, appendTime: true, maxTs: 500}), 0)
	appendT(t, l, mkBatch(t, spec{n: 3, ts: 1, appendTime: true, maxTs: 700}), 0)
	off, ts, ok, err := l.OffsetForTimestamp(600)
	must(t, err)
	if !ok || off != 3 || ts != 700 {
		t.Fatalf("got %d %d %v, want 3 700", off, ts, ok)
	}
	mts, moff, ok, err := l.MaxTimestamp()
	must(t, err)
	if !ok || mts != 700 || moff != 3 {
		t.Fatalf("MaxTimestamp = %d %d %v, want 700 3", mts, moff, ok)
	}
}

func TestMaxTimestamp(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 300
	l, dir := newLog(t, o)
	if _, _, ok, err := l.MaxTimestamp(); ok || err != nil {
		t.Fatalf("empty log: ok=%v err=%v", ok, err)
	}
	// the max (9000) is reached by the second record of batch 3 (offsets 9..11)
	// and again later in batch 5: the first one counts
	tss := [][]int64{{100, 200, 300}, {400, 50, 60}, {700, 800, 900}, {1000, 9000, 10}, {5, 6, 7}, {8, 9000, 9}, {1, 2, 3}}
	for _, d := range tss {
		appendT(t, l, mkBatch(t, spec{n: 3, ts: 1, tsDeltas: []int64{d[0] - 1, d[1] - 1, d[2] - 1}, codec: codecZstd}), 0)
	}
	check := func(l *Log) {
		t.Helper()
		ts, off, ok, err := l.MaxTimestamp()
		must(t, err)
		if !ok || ts != 9000 || off != 10 {
			t.Fatalf("MaxTimestamp = %d %d %v, want 9000 10", ts, off, ok)
		}
	}
	check(l)
	must(t, l.Close())
	l2 := openT(t, dir, o) // inactive segments' max comes from the time index
	defer l2.Close()
	check(l2)
	_ = filepath.Join
}
