package log

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// cleanedCopy rewrites the first n sealed segments of l into one cleaned segment holding
// every batch, with the given aborted transactions in its index, and swaps it in.
func cleanedCopy(t *testing.T, l *Log, n int, aborted []AbortedTxn) error {
	t.Helper()
	segs, err := l.SealedSegments(1 << 62)
	must(t, err)
	defer func() {
		for _, s := range segs {
			s.Release()
		}
	}()
	if len(segs) < n {
		t.Fatalf("%d sealed segments, want %d", len(segs), n)
	}
	c, err := l.NewCleanedSegment(segs[0].BaseOffset)
	must(t, err)
	for _, s := range segs[:n] {
		must(t, s.Batches(0, func(b []byte) error { return c.Append(append([]byte(nil), b...)) }))
	}
	for _, a := range aborted {
		if err := c.AddAbortedTxn(a); err != nil {
			c.Abort()
			return err
		}
	}
	return l.ReplaceSegments(c, segs[:n])
}

// TestCleanedSegmentTxnIndex: a cleaned segment's .txnindex holds the aborted transactions
// the cleaner gave it, in place of those of the segments it replaced; a crash after the swap
// keeps it as it is (the snapshot written after the swap records its new count), and
// entries out of order or beyond the segment are refused.
func TestCleanedSegmentTxnIndex(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 700
	dir := filepath.Join(t.TempDir(), "t-0")
	l, want := txnLog(t, dir, o)
	segs := l.Segments()
	// The first n segments, holding two aborted transactions, are cleaned into one.
	var in []AbortedTxn
	n := 1
	for ; n < len(segs)-1 && len(in) < 2; n++ {
		in = in[:0]
		for _, a := range want {
			if a.LastOffset < segs[n].BaseOffset {
				in = append(in, a)
			}
		}
	}
	n--
	end := segs[n].BaseOffset
	if len(in) < 2 || n < 2 || len(want) == len(in) {
		t.Fatalf("segments %v, aborted transactions %v: want two in the first segments and more after", segs, want)
	}

	if err := cleanedCopy(t, l, n, []AbortedTxn{in[1], in[0]}); !errors.Is(err, errInconsistentTxnIndex) {
		t.Fatalf("entries out of order: %v", err)
	}
	beyond := AbortedTxn{ProducerID: 1, FirstOffset: end, LastOffset: end}
	if err := cleanedCopy(t, l, n, []AbortedTxn{beyond}); !errors.Is(err, errInconsistentTxnIndex) {
		t.Fatalf("an entry beyond the segment: %v", err)
	}
	wantAborted(t, l, 0, 1<<62, want...)
	if got := globT(t, dir, "*"+cleanedSuffix); len(got) > 0 {
		t.Fatalf("refused cleaned segments left %v", got)
	}

	// The merged segment's index holds the entries of the segments it replaced (the
	// snapshot taken at the last roll counted them under the first segment and another).
	must(t, cleanedCopy(t, l, n, in))
	wantAborted(t, l, 0, 1<<62, want...)
	if len(l.Segments()) != len(segs)-n+1 {
		t.Fatalf("%d segments after the swap, want %d", len(l.Segments()), len(segs)-n+1)
	}
	// A crash now (a copy of the directory, the log still open) finds the index as it is.
	rp := l.LogEndOffset()
	crashed := filepath.Join(t.TempDir(), "t-0")
	copyDir(t, dir, crashed)
	must(t, l.Close())
	o.RecoveryPoint = rp
	rebuilt := false
	o.Logger = zerolog.New(hookWriter(func(line string) {
		rebuilt = rebuilt || strings.Contains(line, "rebuilt transaction indexes")
	}))
	l = openT(t, crashed, o)
	defer l.Close()
	if rebuilt {
		t.Fatal("the cleaned segment's transaction index was rebuilt at open")
	}
	wantAborted(t, l, 0, 1<<62, want...)
	dir = crashed

	// Cleaned again, the merged segment drops the first transaction (its marker went), then
	// every one, and its .txnindex with them.
	must(t, cleanedCopy(t, l, 1, in[1:]))
	wantAborted(t, l, 0, 1<<62, want[1:]...)
	must(t, cleanedCopy(t, l, 1, nil))
	wantAborted(t, l, 0, 1<<62, want[len(in):]...)
	if got := globT(t, dir, filepath.Base(segmentPath(dir, 0, txnIndexSuffix))); len(got) > 0 {
		t.Fatalf("%v left after its segment was cleaned without aborted transactions", got)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	must(t, os.MkdirAll(to, 0o755))
	ents, err := os.ReadDir(from)
	must(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o644))
	}
}

func globT(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	must(t, err)
	return m
}
