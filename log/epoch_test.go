package log

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEndOffsetForEpoch(t *testing.T) {
	c := &epochCache{}
	c.assign(1, 0)
	c.assign(3, 10)
	c.assign(4, 25)
	const logEnd = 40
	cases := []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{-1, -1, -1}, // undefined
		{0, 0, 0},    // before the first epoch: its start
		{1, 1, 10},
		{2, 1, 10}, // unknown epoch between: the floor epoch, next start
		{3, 3, 25},
		{4, 4, logEnd}, // latest: log end
		{5, -1, -1},    // newer than the latest
	}
	for _, tc := range cases {
		e, off := c.endOffsetFor(tc.epoch, logEnd)
		if e != tc.wantEpoch || off != tc.wantEnd {
			t.Errorf("endOffsetFor(%d) = %d %d, want %d %d", tc.epoch, e, off, tc.wantEpoch, tc.wantEnd)
		}
	}
	if e, off := (&epochCache{}).endOffsetFor(1, 5); e != -1 || off != -1 {
		t.Errorf("empty cache: %d %d", e, off)
	}
}

func TestEpochCacheAssignAndTruncate(t *testing.T) {
	c := &epochCache{}
	if !c.assign(2, 5) || c.assign(2, 9) || c.assign(-1, 20) {
		t.Fatal("assign returned the wrong change flag")
	}
	c.assign(3, 10)
	c.assign(5, 30)
	// a lower epoch at a higher offset replaces entries it conflicts with (Kafka)
	c.assign(4, 20)
	want := []epochEntry{{2, 5}, {3, 10}, {4, 20}}
	if !equalEpochs(c.entries, want) {
		t.Fatalf("entries %v, want %v", c.entries, want)
	}
	c.truncateFromEnd(20)
	if !equalEpochs(c.entries, want[:2]) {
		t.Fatalf("truncateFromEnd: %v", c.entries)
	}
	c.truncateFromStart(7)
	if !equalEpochs(c.entries, []epochEntry{{2, 7}, {3, 10}}) {
		t.Fatalf("truncateFromStart: %v", c.entries)
	}
	c.truncateFromStart(12)
	if !equalEpochs(c.entries, []epochEntry{{3, 12}}) {
		t.Fatalf("truncateFromStart: %v", c.entries)
	}
	if e, ok := c.epochFor(11); ok {
		t.Fatalf("epochFor below first = %d", e)
	}
	if e, ok := c.epochFor(100); !ok || e != 3 {
		t.Fatalf("epochFor = %d %v", e, ok)
	}
}

func equalEpochs(a, b []epochEntry) bool {
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

func TestLeaderEpochCheckpointFile(t *testing.T) {
	l, dir := newLog(t, testOpts())
	appendT(t, l, mkBatch(t, spec{n: 2}), 0)
	appendT(t, l, mkBatch(t, spec{n: 3}), 2)
	appendT(t, l, mkBatch(t, spec{n: 1}), 2)
	appendT(t, l, mkBatch(t, spec{n: 1}), 5)
	raw, err := os.ReadFile(filepath.Join(dir, "leader-epoch-checkpoint"))
	must(t, err)
	if want := "0\n3\n0 0\n2 2\n5 6\n"; string(raw) != want {
		t.Fatalf("leader-epoch-checkpoint = %q, want %q", raw, want)
	}
	// the cache is truncated to the log end at Open (epochs past a torn tail go)
	must(t, l.Close())
	must(t, os.WriteFile(filepath.Join(dir, "leader-epoch-checkpoint"), []byte("0\n4\n0 0\n2 2\n5 6\n7 100\n"), 0o644))
	l2 := openT(t, dir, testOpts())
	defer l2.Close()
	if e, ok := l2.LatestEpoch(); !ok || e != 5 {
		t.Fatalf("latest epoch %d %v, want 5", e, ok)
	}
	if fe, end := l2.EndOffsetForEpoch(2); fe != 2 || end != 6 {
		t.Fatalf("EndOffsetForEpoch(2) = %d %d", fe, end)
	}
	if e, ok := l2.EpochForOffset(4); !ok || e != 2 {
		t.Fatalf("EpochForOffset(4) = %d %v", e, ok)
	}
}

func TestEpochTruncateFromStartAtEntryStart(t *testing.T) {
	c := &epochCache{entries: []epochEntry{{1, 0}, {2, 10}, {3, 20}}}
	if !c.truncateFromStart(10) || !equalEpochs(c.entries, []epochEntry{{2, 10}, {3, 20}}) {
		t.Fatalf("entries %v", c.entries)
	}
	if c.truncateFromStart(10) {
		t.Fatal("second truncation to the same start reported a change")
	}
}
