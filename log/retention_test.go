package log

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// retentionLog is a log of segments of two batches each (about 360 bytes per batch), with
// record timestamps of tsBase + i*1000 for batch i, on a clock the test moves.
func retentionLog(t *testing.T, batches int, tsBase int64) (*Log, string, *clock) {
	t.Helper()
	c := &clock{now: time.UnixMilli(tsBase)}
	o := testOpts()
	o.SegmentBytes = 800
	o.Now = c.Now
	l, dir := newLog(t, o)
	for i := 0; i < batches; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 150, ts: tsBase + int64(i)*1000}), 0)
	}
	return l, dir, c
}

func bases(segs []SegmentInfo) []int64 {
	out := make([]int64, len(segs))
	for i, s := range segs {
		out[i] = s.BaseOffset
	}
	return out
}

func TestRetentionByTime(t *testing.T) {
	l, _, c := retentionLog(t, 10, 1_000_000) // 5 segments: batches {0,1} {2,3} ...
	if n := len(l.Segments()); n != 5 {
		t.Fatalf("%d segments, want 5", n)
	}
	// Segment k's largest timestamp is that of batch 2k+1 (+1 ms for its second record):
	// 8500 ms after the first batch, segments 0 and 1 are more than 5000 ms old.
	c.now = time.UnixMilli(1_000_000 + 8500)
	p := RetentionPolicy{Delete: true, RetentionMs: 5000, RetentionBytes: -1, HighWatermark: l.LogEndOffset()}
	got, err := l.DeleteOldSegments(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Reason != ReasonRetentionMs || got[0].BaseOffset != 0 || got[1].NextOffset != 8 {
		t.Fatalf("deleted %+v, want the first two segments for retention.ms", got)
	}
	if l.LogStartOffset() != 8 || bases(l.Segments())[0] != 8 {
		t.Fatalf("log start %d, segments %v", l.LogStartOffset(), bases(l.Segments()))
	}
	// -1 disables the time rule, and without cleanup.policy delete nothing expires.
	c.advance(time.Hour)
	for _, p := range []RetentionPolicy{
		{Delete: true, RetentionMs: -1, RetentionBytes: -1, HighWatermark: l.LogEndOffset()},
		{Delete: false, RetentionMs: 1, RetentionBytes: 1, HighWatermark: l.LogEndOffset()},
	} {
		if got, err := l.DeleteOldSegments(p); err != nil || len(got) != 0 {
			t.Fatalf("policy %+v deleted %+v (%v)", p, got, err)
		}
	}
}

// TestRetentionRollsExpiredActiveSegment: when every segment has expired, the active one is
// rolled first and deleted with the rest; the log keeps an empty segment at its end.
func TestRetentionRollsExpiredActiveSegment(t *testing.T) {
	l, dir, c := retentionLog(t, 5, 1_000_000) // 3 segments, the last (active) holding one batch
	end := l.LogEndOffset()
	c.advance(time.Hour)
	p := RetentionPolicy{Delete: true, RetentionMs: 1000, RetentionBytes: -1, HighWatermark: end}
	got, err := l.DeleteOldSegments(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("deleted %d segments, want all 3", len(got))
	}
	segs := l.Segments()
	if len(segs) != 1 || segs[0].BaseOffset != end || segs[0].Size != 0 || !segs[0].Active {
		t.Fatalf("segments after: %+v, want one empty active segment at %d", segs, end)
	}
	if l.LogStartOffset() != end || l.LogEndOffset() != end || l.Size() != 0 {
		t.Fatalf("start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if files := segmentFiles(t, dir, ".log"); len(files) != 1 || files[0] != offsetName(end)+".log" {
		t.Fatalf(".log files %v", files)
	}
	// An empty active segment is never deleted.
	if got, err := l.DeleteOldSegments(p); err != nil || len(got) != 0 {
		t.Fatalf("second pass deleted %+v (%v)", got, err)
	}
	// Appends go on at the same offsets.
	if r := appendT(t, l, mkBatch(t, spec{n: 1}), 0); r.FirstOffset != end {
		t.Fatalf("next append at %d, want %d", r.FirstOffset, end)
	}
}

// TestRetentionHighWatermarkBound: no segment holding an offset at or beyond the high
// watermark is deleted, whatever the rules say.
func TestRetentionHighWatermarkBound(t *testing.T) {
	l, _, c := retentionLog(t, 10, 1_000_000)
	c.advance(time.Hour)
	p := RetentionPolicy{Delete: true, RetentionMs: 0, RetentionBytes: -1, HighWatermark: 5}
	got, err := l.DeleteOldSegments(p)
	if err != nil {
		t.Fatal(err)
	}
	// Segments start at 0, 4, 8, ...: only [0,4) is wholly below 5.
	if len(got) != 1 || got[0].NextOffset != 4 || l.LogStartOffset() != 4 {
		t.Fatalf("deleted %+v, log start %d; want only the first segment", got, l.LogStartOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	l, _, _ := retentionLog(t, 10, 1_000_000)
	segs := l.Segments()
	segSize := segs[0].Size
	total := l.Size()
	// Keep at least 2.5 segments' worth: deleting the oldest while the rest stays at or above
	// the limit removes two of five.
	limit := total - 2*segSize - segSize/2
	p := RetentionPolicy{Delete: true, RetentionMs: -1, RetentionBytes: limit, HighWatermark: l.LogEndOffset()}
	got, err := l.DeleteOldSegments(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Reason != ReasonRetentionBytes {
		t.Fatalf("deleted %+v, want two segments for retention.bytes", got)
	}
	if l.Size() < limit || l.Size() != total-2*segSize {
		t.Fatalf("size %d, limit %d", l.Size(), limit)
	}
	// Under the limit: nothing more.
	if got, err := l.DeleteOldSegments(p); err != nil || len(got) != 0 {
		t.Fatalf("second pass deleted %+v (%v)", got, err)
	}
}

// TestRetentionBelowLogStart: IncrementLogStartOffset moves only the offset (reads below it
// fail at once); the next pass deletes the segments wholly below it, whatever the policy.
func TestRetentionBelowLogStart(t *testing.T) {
	l, _, _ := retentionLog(t, 10, 1_000_000)
	moved, err := l.IncrementLogStartOffset(9, "test")
	if err != nil || !moved {
		t.Fatalf("IncrementLogStartOffset: %v %v", moved, err)
	}
	if moved, err := l.IncrementLogStartOffset(3, "test"); err != nil || moved {
		t.Fatalf("moving back: %v %v", moved, err)
	}
	if _, err := l.IncrementLogStartOffset(l.LogEndOffset()+1, "test"); err == nil {
		t.Fatal("beyond the log end: no error")
	}
	if _, err := l.Read(8, 1000, 1<<62, true); err == nil {
		t.Fatal("read below the log start succeeded")
	}
	if len(l.Segments()) != 5 {
		t.Fatal("IncrementLogStartOffset deleted segments")
	}
	got, err := l.DeleteOldSegments(RetentionPolicy{RetentionMs: -1, RetentionBytes: -1, HighWatermark: l.LogEndOffset()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].NextOffset != 8 || got[0].Reason != ReasonLogStartOffset {
		t.Fatalf("deleted %+v, want segments 0 and 4", got)
	}
	if l.LogStartOffset() != 9 {
		t.Fatalf("log start %d, want 9", l.LogStartOffset())
	}
	r, err := l.Read(9, 1000, 1<<62, true)
	if err != nil || r.FirstOffset != 8 {
		t.Fatalf("read at the log start: first offset %d, %v (want the batch holding 9, at 8)", r.FirstOffset, err)
	}
}

// TestRetentionNoTimestampUsesModTime: a segment without record timestamps expires by its
// file's modification time.
func TestRetentionNoTimestampUsesModTime(t *testing.T) {
	c := &clock{now: time.Now()}
	o := testOpts()
	o.SegmentBytes = 800
	o.Now = c.Now
	l, dir := newLog(t, o)
	for i := 0; i < 4; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 150, appendTime: true, maxTs: -1}), 0)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, offsetName(0)+logSuffix), old, old); err != nil {
		t.Fatal(err)
	}
	p := RetentionPolicy{Delete: true, RetentionMs: int64(time.Hour / time.Millisecond), RetentionBytes: -1, HighWatermark: l.LogEndOffset()}
	got, err := l.DeleteOldSegments(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].BaseOffset != 0 || got[0].LargestTimestamp != old.UnixMilli() {
		t.Fatalf("deleted %+v, want segment 0 by its modification time", got)
	}
}

// TestRetentionDeleteDelay: deleted segments are renamed to .deleted at once and removed
// after file.delete.delay.ms; a region taken before the deletion reads the same bytes
// throughout; a reopen removes .deleted leftovers.
func TestRetentionDeleteDelay(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 800
	o.FileDeleteDelayMs = 300
	l, dir := newLog(t, o)
	for i := 0; i < 6; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 150}), 0)
	}
	r, err := l.ReadRegion(0, 1<<20, 1<<62, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	before, err := r.ReadTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, l.DeleteBefore(8))
	deleted := func() []string {
		var out []string
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), deletedSuffix) {
				out = append(out, e.Name())
			}
		}
		return out
	}
	if got := deleted(); len(got) < 4 {
		t.Fatalf(".deleted files right after deletion: %v", got)
	}
	after, err := r.ReadTo(nil)
	if err != nil || string(after) != string(before) {
		t.Fatalf("region after deletion: %d bytes, %v", len(after), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(deleted()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf(".deleted files still there: %v", deleted())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after, err = r.ReadTo(nil); err != nil || string(after) != string(before) {
		t.Fatalf("region after removal: %d bytes, %v", len(after), err)
	}
	// A crash before the removal leaves .deleted files: Open removes them.
	must(t, l.Close())
	junk := filepath.Join(dir, offsetName(0)+logSuffix+deletedSuffix)
	if err := os.WriteFile(junk, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2 := openT(t, dir, testOpts())
	defer l2.Close()
	if got := deleted(); len(got) != 0 {
		t.Fatalf("leftovers after reopen: %v", got)
	}
}

// TestReconfigureRoll: a changed segment.bytes applies to the open log's next appends.
func TestReconfigureRoll(t *testing.T) {
	l, _ := newLog(t, testOpts())
	for i := 0; i < 4; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 150}), 0)
	}
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments before", n)
	}
	o := DefaultOptions()
	o.SegmentBytes = 800
	l.Reconfigure(o)
	for i := 0; i < 4; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 150}), 0)
	}
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("%d segments after lowering segment.bytes", n)
	}
}

// BenchmarkRetentionPass is one retention pass over 10,000 logs with nothing to delete, the
// common case of Kafka's periodic task (docs/benchmarks.md).
func BenchmarkRetentionPass(b *testing.B) {
	const n = 10000
	root := b.TempDir()
	logs := make([]*Log, n)
	o := testOpts() // one segment per log: one descriptor each
	batch := mkBatch(b, spec{n: 2, valueSize: 150, ts: time.Now().UnixMilli()})
	for i := range logs {
		l, err := Open(filepath.Join(root, "t-"+itoa(i)), o)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			if _, err := l.Append(append([]byte(nil), batch...), 0); err != nil {
				b.Fatal(err)
			}
		}
		logs[i] = l
	}
	b.Cleanup(func() {
		for _, l := range logs {
			l.Close()
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range logs {
			p := RetentionPolicy{Delete: true, RetentionMs: 7 * 24 * 3600 * 1000, RetentionBytes: -1, HighWatermark: l.LogEndOffset()}
			if _, err := l.DeleteOldSegments(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/pass")
}

func itoa(i int) string { return offsetName(int64(i))[14:] }
