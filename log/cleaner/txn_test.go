package cleaner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kbroker/log"
)

// txnWriter appends transactional batches and markers as a partition leader would, for
// producers of epoch 0.
type txnWriter struct {
	t   testing.TB
	l   *log.Log
	c   *clock
	seq map[int64]int32
}

func newTxnWriter(t testing.TB, l *log.Log, c *clock) *txnWriter {
	return &txnWriter{t: t, l: l, c: c, seq: map[int64]int32{}}
}

// data appends one transactional batch of pid.
func (w *txnWriter) data(pid int64, recs ...kv) {
	w.t.Helper()
	appendT(w.t, w.l, mkBatch(w.t, batchSpec{recs: recs, pid: pid, seq: w.seq[pid], txn: true}))
	w.seq[pid] += int32(len(recs))
}

// end appends pid's commit or abort marker.
func (w *txnWriter) end(pid int64, commit bool) {
	w.t.Helper()
	if _, err := w.l.AppendMarker(log.Marker{ProducerID: pid, Commit: commit, Timestamp: w.c.now.UnixMilli()}, 0); err != nil {
		w.t.Fatalf("marker: %v", err)
	}
}

// filler appends n plain records on one key, enough to roll segments.
func filler(t testing.TB, l *log.Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("filler", strings.Repeat("f", 100))}, pid: -1}))
	}
}

// committedView is what a read_committed reader sees of l: each key's latest record,
// without the batches of the aborted transactions the log lists, nor markers.
func committedView(t testing.TB, l *log.Log) map[string]readRec {
	t.Helper()
	recs, hs := readAll(t, l)
	aborted := l.AbortedTxns(l.LogStartOffset(), l.LogEndOffset())
	skip := map[int64]bool{}
	for _, h := range hs {
		if h.control() {
			skip[h.BaseOffset] = true
			continue
		}
		if h.Attributes&attrTransactional == 0 {
			continue
		}
		for _, a := range aborted {
			if a.ProducerID == h.ProducerID && h.BaseOffset >= a.FirstOffset && h.LastOffset() <= a.LastOffset {
				for o := h.BaseOffset; o <= h.LastOffset(); o++ {
					skip[o] = true
				}
			}
		}
	}
	var kept []readRec
	for _, r := range recs {
		if !skip[r.offset] {
			kept = append(kept, r)
		}
	}
	return latest(kept)
}

// markers returns the control batches of l by producer: "A" for an abort, "C" for a
// commit, lower case when the batch carries a delete horizon, "-" for an emptied one.
func markers(t testing.TB, l *log.Log) map[int64]string {
	t.Helper()
	_, hs := readAll(t, l)
	out := map[int64]string{}
	c := NewCleaner(0, 0.9)
	for _, h := range hs {
		if !h.control() {
			continue
		}
		// readAll hands out headers only: read the batch again for its record.
		r, err := l.Read(h.BaseOffset, int32(h.Size()), 1<<62, true)
		if err != nil {
			t.Fatal(err)
		}
		typ, err := c.controlType(r.Data[:h.Size()], &h)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int16]string{controlAbort: "A", controlCommit: "C", controlNone: "-", controlOther: "?"}[typ]
		if _, ok := h.deleteHorizon(); ok {
			m = strings.ToLower(m)
		}
		out[h.ProducerID] += m
	}
	return out
}

// abortedValues counts the records of l whose value marks them as written by an aborted
// transaction (values starting with "x").
func abortedValues(t testing.TB, l *log.Log) int {
	t.Helper()
	recs, _ := readAll(t, l)
	n := 0
	for _, r := range recs {
		if strings.HasPrefix(r.value, "x") {
			n++
		}
	}
	return n
}

// unlistedAborted counts the records of aborted transactions (values starting with "x")
// that no aborted transaction of l's .txnindex covers.
func unlistedAborted(t testing.TB, l *log.Log) int {
	t.Helper()
	recs, hs := readAll(t, l)
	aborted := l.AbortedTxns(l.LogStartOffset(), l.LogEndOffset())
	pid := map[int64]int64{}
	for _, h := range hs {
		for o := h.BaseOffset; o <= h.LastOffset(); o++ {
			pid[o] = h.ProducerID
		}
	}
	n := 0
	for _, r := range recs {
		if !strings.HasPrefix(r.value, "x") {
			continue
		}
		listed := false
		for _, a := range aborted {
			listed = listed || (a.ProducerID == pid[r.offset] && r.offset >= a.FirstOffset && r.offset <= a.LastOffset)
		}
		if !listed {
			n++
		}
	}
	return n
}

// TestCleanTransactions follows Kafka's LogCleaner through successive passes over a log
// with committed and aborted transactions: the first pass drops the aborted batches and
// keeps their abort markers with their .txnindex entries; the next stamps those markers
// with a delete horizon (their transactions have nothing left) and leaves them out of the
// index; the first pass after the horizon removes them. A commit marker stays while any
// batch of its transaction does, then goes the same way. Throughout, a read_committed
// reader sees the same latest value of every key.
func TestCleanTransactions(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	w := newTxnWriter(t, l, c)
	w.data(1, rec("a", "c1"), rec("b", "c1"))
	w.end(1, true)
	w.data(2, rec("a", "x1"), rec("c", "x1"))
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("p", "plain")}, pid: -1}))
	w.data(2, rec("c", "x1"))
	w.end(2, false)
	w.data(2, rec("d", "c2"))
	w.end(2, true)
	w.data(1, rec("b", "x2"))
	w.end(1, false)
	w.data(1, rec("e", "c3"))
	w.end(1, true)
	filler(t, l, 20)
	if open := l.FirstUnstableOffset(l.LogEndOffset()); open >= 0 {
		t.Fatalf("a transaction is open at %d", open)
	}
	want := committedView(t, l)
	if want["a"].value != "c1" || want["b"].value != "c1" || want["c"].hasKey || abortedValues(t, l) != 4 {
		t.Fatalf("committed view before cleaning %v", want)
	}
	abortedBefore := l.AbortedTxns(0, l.LogEndOffset())
	if len(abortedBefore) != 2 {
		t.Fatalf("aborted transactions %v", abortedBefore)
	}
	cfg := defaultConfig()
	cfg.DeleteRetentionMs = 1000
	check := func(pass int, wantMarkers map[int64]string, wantAborted []log.AbortedTxn) {
		t.Helper()
		if got := committedView(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("pass %d: read_committed view\n got %v\nwant %v", pass, got, want)
		}
		if n := abortedValues(t, l); n != 0 {
			t.Fatalf("pass %d: %d records of aborted transactions left", pass, n)
		}
		if got := markers(t, l); fmt.Sprint(got) != fmt.Sprint(wantMarkers) {
			t.Fatalf("pass %d: markers %v, want %v", pass, got, wantMarkers)
		}
		if got := l.AbortedTxns(0, l.LogEndOffset()); fmt.Sprint(got) != fmt.Sprint(wantAborted) {
			t.Fatalf("pass %d: aborted transactions %v, want %v", pass, got, wantAborted)
		}
	}

	// Pass 1: the aborted batches go; their markers and index entries stay.
	st := fullClean(t, l, cfg, 0, c.now)
	check(1, map[int64]string{1: "CAC", 2: "AC"}, abortedBefore)

	// Pass 2: the abort markers' transactions have nothing left: a delete horizon, and no
	// index entry. Both commit markers of producer 1 and 2 still have batches.
	filler(t, l, 10)
	want = committedView(t, l)
	c.now = c.now.Add(time.Millisecond)
	st = fullClean(t, l, cfg, st.End, c.now)
	check(2, map[int64]string{1: "CaC", 2: "aC"}, nil)

	// Producer 1's first transaction is overwritten by plain records; pass 3, after the
	// abort markers' horizon, removes them and the overwritten batch; the commit marker
	// still saw a batch of its transaction in this pass.
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("a", "p2"), rec("b", "p2")}, pid: -1}))
	filler(t, l, 10)
	want = committedView(t, l)
	c.now = c.now.Add(2 * time.Second)
	st = fullClean(t, l, cfg, st.End, c.now)
	check(3, map[int64]string{1: "CC", 2: "C"}, nil)

	// Pass 4 stamps that commit marker; pass 5, after its horizon, removes it. The
	// producers' last commit markers stay with their transactions' data.
	filler(t, l, 10)
	want = committedView(t, l)
	st = fullClean(t, l, cfg, st.End, c.now)
	check(4, map[int64]string{1: "cC", 2: "C"}, nil)
	filler(t, l, 10)
	want = committedView(t, l)
	c.now = c.now.Add(2 * time.Second)
	fullClean(t, l, cfg, st.End, c.now)
	check(5, map[int64]string{1: "C", 2: "C"}, nil)
	if got := files(t, l.Dir(), ".txnindex"); len(got) > 0 {
		t.Fatalf("transaction indexes left: %v", got)
	}
}

// txnLog writes transactions of three producers over a few keys, every third aborted,
// between plain records, all completed, and rolls past them.
func txnLog(t testing.TB, l *log.Log, c *clock) {
	t.Helper()
	w := newTxnWriter(t, l, c)
	for i := 0; i < 6; i++ {
		pid := int64(1 + i%3)
		abort := i%3 == 1
		v := fmt.Sprintf("c%d", i)
		if abort {
			v = fmt.Sprintf("x%d", i)
		}
		w.data(pid, rec(fmt.Sprintf("k%d", i%4), v), rec(fmt.Sprintf("t%d", i%5), v))
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("p%d", i%2), val(i))}, pid: -1}))
		w.end(pid, !abort)
	}
	filler(t, l, 6)
}

// TestCleanTransactionsCrashAtEveryStep: a crash at any step of a clean that removes
// aborted transactions (group by group) recovers to a log that a read_committed reader
// sees as before, with every aborted record either gone or still listed in a .txnindex.
func TestCleanTransactionsCrashAtEveryStep(t *testing.T) {
	var want map[string]readRec
	var aborted int
	crashAtEveryStep(t, func(l *log.Log, c *clock) {
		txnLog(t, l, c)
		want, aborted = committedView(t, l), abortedValues(t, l)
	}, func(dir string, _ int64) bool {
		c := &clock{now: time.Now()}
		l := openLog(t, dir, c, nil)
		defer l.Close()
		if got := committedView(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("read_committed view after the crash\n got %v\nwant %v", got, want)
		}
		if n := unlistedAborted(t, l); n > 0 {
			t.Fatalf("%d aborted records left that no .txnindex lists", n)
		}
		return abortedValues(t, l) < aborted
	})
}

// TestCleanStopsAtLastStableOffset: with the partition's last stable offset as its bound,
// the cleaner leaves alone the segment holding an open transaction's first batch and
// everything after it; once the transaction is aborted, the next pass removes its batch.
func TestCleanStopsAtLastStableOffset(t *testing.T) {
	root := t.TempDir()
	c := &clock{now: time.Now()}
	m := newTestManager(t, root, c)
	mp := newManaged(t, m, root, "txn", c)
	l := mp.p.Log
	mp.p.UncleanableOffset = func() int64 {
		hw := l.LogEndOffset()
		if first := l.FirstUnstableOffset(hw); first >= 0 && first < hw {
			return first
		}
		return hw
	}
	fillKeys(t, l, 60)
	w := newTxnWriter(t, l, c)
	w.data(7, rec("k1", "x-open"))
	open := l.LogEndOffset() - 1
	fillKeys(t, l, 60)
	before, _ := readAll(t, l)
	var openSeg int64
	for _, s := range l.Segments() {
		if s.BaseOffset <= open {
			openSeg = s.BaseOffset
		}
	}
	if !m.CleanOnce(t.Context(), NewCleaner(1<<20, 0.9)) {
		t.Fatal("nothing cleaned below the open transaction")
	}
	after, _ := readAll(t, l)
	var kept []readRec
	for _, r := range after {
		if r.offset >= openSeg {
			kept = append(kept, r)
		}
	}
	var want []readRec
	for _, r := range before {
		if r.offset >= openSeg {
			want = append(want, r)
		}
	}
	if fmt.Sprint(kept) != fmt.Sprint(want) || len(after) >= len(before) {
		t.Fatalf("from the open transaction's segment at %d on: %d records, want %d untouched; %d records in all, %d before",
			openSeg, len(kept), len(want), len(after), len(before))
	}
	if fd, _ := m.FirstDirtyOffset(mp.p.TP); fd > openSeg {
		t.Fatalf("first dirty offset %d beyond the open transaction's segment %d", fd, openSeg)
	}

	w.end(7, false)
	fillKeys(t, l, 60)
	m.CleanOnce(t.Context(), NewCleaner(1<<20, 0.9))
	if n := abortedValues(t, l); n != 0 {
		t.Fatalf("the aborted transaction's record is left after the next pass")
	}
}

// TestCleanAbortMarkerStaysWithEmptyBatch (Kafka's testAbortMarkerRetentionWithEmptyBatch):
// an aborted transaction holding its producer's last data batch keeps that batch, emptied,
// for the producer's sequence; a batch of the transaction is so read at every pass, and its
// abort marker and index entry stay until a later batch of the producer takes over; then
// the marker gets its delete horizon, and goes at the first pass past it.
func TestCleanAbortMarkerStaysWithEmptyBatch(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	w := newTxnWriter(t, l, c)
	w.data(1, rec("a", "x1"), rec("b", "x1"))
	w.end(1, false)
	aborted := l.AbortedTxns(0, l.LogEndOffset())
	emptyBatches := func() int {
		_, hs := readAll(t, l)
		n := 0
		for _, h := range hs {
			if !h.control() && h.NumRecords == 0 {
				n++
			}
		}
		return n
	}
	cfg := defaultConfig()
	cfg.DeleteRetentionMs = 1000
	var end int64
	pass := func(n int, wantMarkers string, wantAborted []log.AbortedTxn, wantEmpty int) {
		t.Helper()
		filler(t, l, 10)
		end = fullClean(t, l, cfg, end, c.now).End
		c.now = c.now.Add(2 * time.Second)
		if got := markers(t, l)[1]; got != wantMarkers {
			t.Fatalf("pass %d: markers %q, want %q", n, got, wantMarkers)
		}
		if got := l.AbortedTxns(0, l.LogEndOffset()); fmt.Sprint(got) != fmt.Sprint(wantAborted) {
			t.Fatalf("pass %d: aborted transactions %v, want %v", n, got, wantAborted)
		}
		if got := emptyBatches(); got != wantEmpty {
			t.Fatalf("pass %d: %d empty batches, want %d", n, got, wantEmpty)
		}
		if left := abortedValues(t, l); left != 0 {
			t.Fatalf("pass %d: %d aborted records left", n, left)
		}
	}
	pass(1, "A", aborted, 1)
	pass(2, "A", aborted, 1) // past the horizon it would have, but the empty batch was read
	w.data(1, rec("c", "c1"))
	w.end(1, true)
	pass(3, "AC", aborted, 0) // the empty batch goes, but was read in this pass
	pass(4, "aC", nil, 0)
	pass(5, "C", nil, 0)
}
