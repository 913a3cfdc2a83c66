package log

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestTruncateTo(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 1500
	o.IndexIntervalBytes = 100
	cases := []struct {
		name    string
		to      int64
		wantEnd int64
	}{
		{"batch boundary in last segment", 54, 54},
		{"mid batch drops the whole batch", 31, 30},
		{"segment base", 0, 0},
		{"inside first segment", 9, 9},
		{"at the end is a no-op", 60, 60},
		{"beyond the end is a no-op", 100, 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t-0")
			l := openT(t, dir, o)
			for i := 0; i < 20; i++ {
				appendT(t, l, mkBatch(t, spec{n: 3, valueSize: 40, ts: int64(1000 + i), idem: true, pid: 1, seq: int32(3 * i)}), int32(i/5))
			}
			must(t, l.Flush())
			must(t, l.TruncateTo(tc.to))
			if l.LogEndOffset() != tc.wantEnd {
				t.Fatalf("log end %d, want %d", l.LogEndOffset(), tc.wantEnd)
			}
			if l.RecoveryPoint() > tc.wantEnd {
				t.Fatalf("recovery point %d above log end", l.RecoveryPoint())
			}
			hs := readAll(t, l)
			if int64(len(hs)*3) != tc.wantEnd {
				t.Fatalf("%d batches remain", len(hs))
			}
			for _, s := range l.segs {
				checkIndexRule(t, s, 100)
			}
			// epochs: epoch k started at 15k
			if tc.wantEnd < 60 {
				if e, ok := l.LatestEpoch(); tc.wantEnd > 0 && (!ok || int64(e) != (tc.wantEnd-1)/15) {
					t.Fatalf("latest epoch %d %v after truncating to %d", e, ok, tc.wantEnd)
				}
			}
			// producer state follows: the next sequence is wantEnd (3 per batch, seq = offset)
			r, err := l.Append(mkBatch(t, spec{n: 3, idem: true, pid: 1, seq: int32(tc.wantEnd)}), 9)
			if tc.wantEnd == 0 {
				// producer unknown again: any sequence accepted
				if err != nil {
					t.Fatal(err)
				}
			} else if err != nil || r.FirstOffset != tc.wantEnd {
				t.Fatalf("append after truncation: %+v %v", r, err)
			}
			must(t, l.Close())
			// reopen agrees
			o2 := o
			o2.RecoveryPoint = 0
			l2 := openT(t, dir, o2)
			defer l2.Close()
			if l2.LogEndOffset() != tc.wantEnd+3 {
				t.Fatalf("reopened log end %d, want %d", l2.LogEndOffset(), tc.wantEnd+3)
			}
		})
	}
}

func TestTruncateBelowFirstSegment(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 500
	l, dir := newLog(t, o)
	for i := 0; i < 10; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 50}), 0)
	}
	must(t, l.DeleteBefore(10))
	first := l.Segments()[0].BaseOffset
	if first == 0 {
		t.Fatal("expected segments to be deleted")
	}
	must(t, l.TruncateTo(first-1))
	if l.LogStartOffset() != first-1 || l.LogEndOffset() != first-1 || l.Size() != 0 {
		t.Fatalf("start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if got := segmentFiles(t, dir, ".log"); len(got) != 1 || got[0] != offsetName(first-1)+".log" {
		t.Fatalf("segments %v", got)
	}
	if _, ok := l.LatestEpoch(); ok {
		t.Fatal("epochs not cleared")
	}
}

func TestDeleteBefore(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 700
	l, dir := newLog(t, o)
	for i := 0; i < 30; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 50, idem: true, pid: int64(i % 3), seq: int32(2 * (i / 3))}), int32(i/10))
	}
	segs := l.Segments()
	if len(segs) < 4 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	sizeBefore := l.Size()
	cut := segs[2].BaseOffset + 1 // inside the third segment
	must(t, l.DeleteBefore(cut))
	if l.LogStartOffset() != cut {
		t.Fatalf("log start %d, want %d", l.LogStartOffset(), cut)
	}
	got := l.Segments()
	if got[0].BaseOffset != segs[2].BaseOffset {
		t.Fatalf("first segment %d, want %d", got[0].BaseOffset, segs[2].BaseOffset)
	}
	if l.Size() != sizeBefore-segs[0].Size-segs[1].Size {
		t.Fatal("size not reduced by the deleted segments")
	}
	for _, s := range segs[:2] {
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, snapshotSuffix} {
			if _, err := os.Stat(segmentPath(dir, s.BaseOffset, suf)); !errors.Is(err, os.ErrNotExist) && !(suf == snapshotSuffix && s.BaseOffset == got[0].BaseOffset) {
				t.Errorf("%s%s still there", offsetName(s.BaseOffset), suf)
			}
		}
	}
	if _, err := l.Read(cut-1, 100, 1<<62, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	if r, err := l.Read(cut, 100, 1<<62, true); err != nil || r.FirstOffset != cut-1 {
		t.Fatalf("read at log start: %+v %v", r, err)
	}
	if err := l.DeleteBefore(l.LogEndOffset() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond log end: %v", err)
	}
	must(t, l.DeleteBefore(cut-5)) // below: no-op
	if l.LogStartOffset() != cut {
		t.Fatal("log start moved back")
	}
	// epoch cache truncated from the start
	if fe, end := l.EndOffsetForEpoch(0); fe != 0 || end != 20 {
		t.Fatalf("EndOffsetForEpoch(0) = %d %d, want 0 20", fe, end)
	}
	if l.epochs.entries[0].start < cut && l.epochs.entries[0].start != cut {
		t.Fatalf("epoch entries %+v not moved to the log start", l.epochs.entries)
	}
	// delete everything up to the log end: the active segment stays
	end := l.LogEndOffset()
	must(t, l.DeleteBefore(end))
	if l.LogStartOffset() != end || len(l.Segments()) < 1 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}
	r, err := l.Read(end, 100, 1<<62, true)
	if err != nil || len(r.Data) != 0 {
		t.Fatalf("read at end: %+v %v", r, err)
	}
	// producers whose data is all gone are forgotten: any sequence accepted
	if _, err := l.Append(mkBatch(t, spec{n: 1, idem: true, pid: 0, seq: 999}), 5); err != nil {
		t.Fatalf("forgotten producer: %v", err)
	}
	// reopening with the checkpointed log start keeps it
	must(t, l.Close())
	o.LogStartOffset = end
	o.RecoveryPoint = 0
	l2 := openT(t, dir, o)
	defer l2.Close()
	if l2.LogStartOffset() != end || l2.LogEndOffset() != end+1 {
		t.Fatalf("reopened start %d end %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
}

func TestOpenWithLogStartBeyondEnd(t *testing.T) {
	dir, _ := writeClean(t, testOpts(), 3) // log end 9
	o := testOpts()
	o.LogStartOffset = 20
	l := openT(t, dir, o)
	defer l.Close()
	if l.LogStartOffset() != 20 || l.LogEndOffset() != 20 {
		t.Fatalf("start %d end %d, want 20 20", l.LogStartOffset(), l.LogEndOffset())
	}
	r := appendT(t, l, mkBatch(t, spec{}), 0)
	if r.FirstOffset != 20 {
		t.Fatalf("append at %d", r.FirstOffset)
	}
}

func TestDeleteRemovesDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "t-3")
	l := openT(t, dir, testOpts())
	appendT(t, l, mkBatch(t, spec{}), 0)
	must(t, l.Delete())
	entries, err := os.ReadDir(parent)
	must(t, err)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	if _, err := l.Append(mkBatch(t, spec{}), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after delete: %v", err)
	}
	if _, err := l.Read(0, 1, 1, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after delete: %v", err)
	}
}

func TestScanLogDir(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"b-1", "a-0", "a-b-c-10", "a-0.0123abcd-delete", "not_a_partition", "x-01"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(root, "meta.properties"), nil, 0o644))
	tps, err := ScanLogDir(nil, root, testOpts().Logger)
	must(t, err)
	want := []TopicPartition{{"a", 0}, {"a-b-c", 10}, {"b", 1}}
	if len(tps) != len(want) {
		t.Fatalf("got %v", tps)
	}
	for i := range want {
		if tps[i] != want[i] {
			t.Fatalf("got %v, want %v", tps, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "a-0.0123abcd-delete")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("-delete directory not removed")
	}
}

// A failure part way through removing segments (TruncateTo newest first,
// DeleteBefore oldest first) leaves a contiguous log that reopens cleanly.
func TestSegmentRemovalInterrupted(t *testing.T) {
	for _, op := range []string{"truncate", "delete"} {
		for failAt := 1; failAt <= 6; failAt++ {
			ffs := NewFaultFS(nil)
			o := testOpts()
			o.FS = ffs
			o.SegmentBytes = 600
			dir := filepath.Join(t.TempDir(), "t-0")
			l := openT(t, dir, o)
			for i := 0; i < 30; i++ {
				appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 50}), 0)
			}
			if len(l.Segments()) < 5 {
				t.Fatal("want several segments")
			}
			n := 0
			ffs.SetHook(func(o Op, path string) error {
				if o == OpRename || o == OpRemove {
					n++
					if n == failAt {
						return ErrInjected
					}
				}
				return nil
			})
			var err error
			if op == "truncate" {
				err = l.TruncateTo(7)
			} else {
				err = l.DeleteBefore(50)
			}
			if !errors.Is(err, ErrInjected) {
				t.Fatalf("%s fail at %d: err = %v", op, failAt, err)
			}
			ffs.SetHook(nil)
			l2 := openT(t, dir, testOpts())
			hs := readAll(t, l2)
			if len(hs) == 0 {
				t.Fatalf("%s fail at %d: empty log", op, failAt)
			}
			for i := 1; i < len(hs); i++ {
				if hs[i].BaseOffset != hs[i-1].lastOffset()+1 {
					t.Fatalf("%s fail at %d: gap between %d and %d", op, failAt, hs[i-1].lastOffset(), hs[i].BaseOffset)
				}
			}
			if hs[len(hs)-1].lastOffset()+1 != l2.LogEndOffset() {
				t.Fatalf("%s fail at %d: data ends before the log end", op, failAt)
			}
			if op == "delete" && l2.LogEndOffset() != 60 {
				t.Fatalf("delete fail at %d: log end %d, want 60", failAt, l2.LogEndOffset())
			}
			must(t, l2.Close())
			_ = l.Close()
		}
	}
}
