package log

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeClean builds a log of n batches and closes it, returning its dir, the
// byte size of each batch and the log end offset.
func writeClean(t *testing.T, o Options, n int) (string, []int64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openT(t, dir, o)
	var sizes []int64
	for i := 0; i < n; i++ {
		b := mkBatch(t, spec{n: 3, valueSize: 40, ts: int64(1000 + i)})
		sizes = append(sizes, int64(len(b)))
		appendT(t, l, b, 1)
	}
	must(t, l.Close())
	return dir, sizes
}

func TestRecoveryCutsTornOrCorruptTail(t *testing.T) {
	cases := []struct {
		name     string
		damage   func(t *testing.T, path string, sizes []int64)
		wantEnd  int64 // batches that survive, times 3 records
		wantSize func(sizes []int64) int64
	}{
		{
			name: "log cut mid batch",
			damage: func(t *testing.T, path string, sizes []int64) {
				must(t, os.Truncate(path, fileSize(t, path)-sizes[len(sizes)-1]/2))
			},
			wantEnd: 9 * 3,
		},
		{
			name: "log cut mid header",
			damage: func(t *testing.T, path string, sizes []int64) {
				must(t, os.Truncate(path, fileSize(t, path)-sizes[len(sizes)-1]+20))
			},
			wantEnd: 9 * 3,
		},
		{
			name: "corrupt byte in last batch",
			damage: func(t *testing.T, path string, sizes []int64) {
				flipByte(t, path, fileSize(t, path)-5)
			},
			wantEnd: 9 * 3,
		},
		{
			name: "corrupt byte in seventh batch",
			damage: func(t *testing.T, path string, sizes []int64) {
				var pos int64
				for _, s := range sizes[:6] {
					pos += s
				}
				flipByte(t, path, pos+30)
			},
			wantEnd: 6 * 3,
		},
		{
			name: "zeroes appended (preallocated tail)",
			damage: func(t *testing.T, path string, sizes []int64) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				must(t, err)
				_, err = f.Write(make([]byte, 100))
				must(t, err)
				must(t, f.Close())
			},
			wantEnd: 10 * 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOpts()
			o.IndexIntervalBytes = 100
			dir, sizes := writeClean(t, o, 10)
			path := filepath.Join(dir, "00000000000000000000.log")
			tc.damage(t, path, sizes)
			var logBuf strings.Builder
			o.Logger = o.Logger.Output(&logBuf).Level(0)
			l := openT(t, dir, o) // RecoveryPoint 0: scan all
			defer l.Close()
			if l.LogEndOffset() != tc.wantEnd {
				t.Fatalf("log end %d, want %d", l.LogEndOffset(), tc.wantEnd)
			}
			var want int64
			for _, s := range sizes[:tc.wantEnd/3] {
				want += s
			}
			if got := fileSize(t, path); got != want || l.Size() != want {
				t.Fatalf("file %d bytes, Size %d, want %d", got, l.Size(), want)
			}
			if hs := readAll(t, l); int64(len(hs)) != tc.wantEnd/3 {
				t.Fatalf("read %d batches", len(hs))
			}
			checkIndexRule(t, l.segs[0], 100)
			r := appendT(t, l, mkBatch(t, spec{n: 2}), 1)
			if r.FirstOffset != tc.wantEnd {
				t.Fatalf("append after recovery at %d, want %d", r.FirstOffset, tc.wantEnd)
			}
			if !strings.Contains(logBuf.String(), `"level":"warn"`) || !strings.Contains(logBuf.String(), "recovery cut") {
				t.Fatalf("no warning logged: %s", logBuf.String())
			}
		})
	}
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, pos)
	must(t, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, pos)
	must(t, err)
}

func TestRecoveryPointLimitsTheScan(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 1000
	dir, _ := writeClean(t, o, 20)
	segs := segmentFiles(t, dir, ".log")
	if len(segs) < 4 {
		t.Fatalf("want several segments, got %v", segs)
	}
	// corrupt the first segment, below the recovery point: not scanned, kept
	flipByte(t, filepath.Join(dir, segs[0]), 70)
	o.RecoveryPoint = 60
	l := openT(t, dir, o)
	if l.LogEndOffset() != 60 {
		t.Fatalf("log end %d, want 60", l.LogEndOffset())
	}
	must(t, l.Close())
	// with recovery point 0 the whole log is scanned and cut at the corruption
	o.RecoveryPoint = 0
	l = openT(t, dir, o)
	defer l.Close()
	if l.LogEndOffset() != 0 {
		t.Fatalf("log end %d, want 0 after cutting the first batch", l.LogEndOffset())
	}
	if got := segmentFiles(t, dir, ".log"); len(got) != 1 {
		t.Fatalf("later segments not deleted: %v", got)
	}
}

func TestRecoveryInMiddleSegmentDropsLaterSegments(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 1000
	dir, _ := writeClean(t, o, 20)
	segs := segmentFiles(t, dir, ".log")
	second := strings.TrimSuffix(segs[1], ".log")
	base, _ := parseOffsetName(second, "")
	// lose the second segment's index and corrupt its last batch
	must(t, os.Remove(filepath.Join(dir, second+".index")))
	p := filepath.Join(dir, segs[1])
	flipByte(t, p, fileSize(t, p)-3)
	o.RecoveryPoint = 60
	l := openT(t, dir, o)
	defer l.Close()
	if got := segmentFiles(t, dir, ".log"); len(got) != 2 {
		t.Fatalf("segments %v, want the first two", got)
	}
	end := l.LogEndOffset()
	if end <= base || end >= 60 {
		t.Fatalf("log end %d, want inside the second segment (base %d)", end, base)
	}
	if hs := readAll(t, l); hs[len(hs)-1].lastOffset()+1 != end {
		t.Fatal("data does not reach the log end")
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	dir, _ := writeClean(t, testOpts(), 3)
	leftovers := []string{
		"00000000000000000000.log.deleted",
		"00000000000000000000.index.cleaned",
		"00000000000000000000.log.swap",
		"leader-epoch-checkpoint.tmp",
		"00000000000000000099.index", // no .log
		"00000000000000000099.timeindex",
	}
	for _, n := range leftovers {
		must(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "sub.abc-delete", "x"), 0o755))
	l := openT(t, dir, testOpts())
	defer l.Close()
	for _, n := range append(leftovers, "sub.abc-delete") {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (%v)", n, err)
		}
	}
	if l.LogEndOffset() != 9 {
		t.Fatalf("log end %d", l.LogEndOffset())
	}
}

// A crash in the middle of a write: FaultFS tears the write, the log refuses
// further writes, and reopening recovers every acknowledged batch.
func TestTornWriteRecovery(t *testing.T) {
	for _, budget := range []int64{0, 1, 30, 61, 100, 150} {
		ffs := NewFaultFS(nil)
		o := testOpts()
		o.FS = ffs
		o.IndexIntervalBytes = 64
		dir := filepath.Join(t.TempDir(), "t-0")
		l := openT(t, dir, o)
		var acked int64
		for i := 0; i < 5; i++ {
			acked = appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 30}), 0).LastOffset + 1
		}
		ffs.TearWritesAfter(budget)
		var failed bool
		for i := 0; i < 5; i++ {
			r, err := l.Append(mkBatch(t, spec{n: 2, valueSize: 30}), 0)
			if err != nil {
				if !errors.Is(err, ErrLogFailed) {
					t.Fatalf("budget %d: err = %v, want ErrLogFailed", budget, err)
				}
				failed = true
				continue
			}
			if failed {
				t.Fatalf("budget %d: append succeeded after a failure", budget)
			}
			acked = r.LastOffset + 1
		}
		if !failed {
			t.Fatalf("budget %d: no failure injected", budget)
		}
		// no Close: the process "died"; reopen on the real filesystem
		l2 := openT(t, dir, testOpts())
		if l2.LogEndOffset() != acked {
			t.Fatalf("budget %d: recovered log end %d, want %d", budget, l2.LogEndOffset(), acked)
		}
		if hs := readAll(t, l2); int64(len(hs)) != acked/2 {
			t.Fatalf("budget %d: %d batches", budget, len(hs))
		}
		must(t, l2.Close())
		_ = l.Close()
	}
}

func TestFaultFSHookFailsOperations(t *testing.T) {
	ffs := NewFaultFS(nil)
	o := testOpts()
	o.FS = ffs
	l, _ := newLog(t, o)
	appendT(t, l, mkBatch(t, spec{}), 0)
	ffs.SetHook(func(op Op, path string) error {
		if op == OpSync {
			return ErrInjected
		}
		return nil
	})
	if err := l.Flush(); !errors.Is(err, ErrInjected) || !errors.Is(err, ErrLogFailed) {
		t.Fatalf("Flush err = %v", err)
	}
	if l.RecoveryPoint() != 0 {
		t.Fatal("recovery point advanced although fsync failed")
	}
	if _, err := l.Append(mkBatch(t, spec{}), 0); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after failed fsync: %v", err)
	}
	ffs.SetHook(nil)
	// reads still work
	if _, err := l.Read(0, 100, 100, true); err != nil {
		t.Fatal(err)
	}
}

// With a recovery point inside the active segment the scan starts at the
// index entry below it; corruption right at that entry still leaves a log
// end that matches the data kept.
func TestRecoveryFromIndexEntry(t *testing.T) {
	o := testOpts()
	o.IndexIntervalBytes = 300
	dir, _ := writeClean(t, o, 12)
	path := filepath.Join(dir, "00000000000000000000.log")
	l := openT(t, dir, o)
	entries := append([]offsetEntry(nil), l.segs[0].idx.entries...)
	must(t, l.Close())
	if len(entries) < 2 {
		t.Fatalf("want index entries, have %d", len(entries))
	}
	e := entries[len(entries)-1]
	flipByte(t, path, int64(e.pos)+40)
	o.RecoveryPoint = 36 // clean shutdown: recovery point = log end
	l = openT(t, dir, o)
	defer l.Close()
	if got := fileSize(t, path); got != int64(e.pos) {
		t.Fatalf("file cut at %d, want %d", got, e.pos)
	}
	hs := readAll(t, l)
	if last := hs[len(hs)-1].lastOffset(); last+1 != l.LogEndOffset() {
		t.Fatalf("log end %d but data ends at %d", l.LogEndOffset(), last+1)
	}
}
