package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"kbroker/protocol"
)

// hookWriter passes each log line to fn.
type hookWriter func(line string)

func (h hookWriter) Write(p []byte) (int, error) {
	h(string(p))
	return len(p), nil
}

// txb builds a transactional batch of n records.
func txb(t testing.TB, pid int64, epoch int16, seq int32, n int) []byte {
	b := mkBatch(t, spec{n: n, idem: true, pid: pid, epoch: epoch, seq: seq, valueSize: 20})
	attrs := binary.BigEndian.Uint16(b[21:]) | attrTransactional
	binary.BigEndian.PutUint16(b[21:], attrs)
	binary.BigEndian.PutUint32(b[17:], protocol.BatchCRC(b))
	return b
}

func mark(t testing.TB, l *Log, pid int64, epoch int16, commit bool) AppendResult {
	t.Helper()
	r, err := l.AppendMarker(Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: 1, Commit: commit, Timestamp: 5000}, 0)
	if err != nil {
		t.Fatalf("AppendMarker: %v", err)
	}
	return r
}

func wantUnstable(t testing.TB, l *Log, hw, want int64) {
	t.Helper()
	if got := l.FirstUnstableOffset(hw); got != want {
		t.Fatalf("FirstUnstableOffset(%d) = %d, want %d", hw, got, want)
	}
}

func wantAborted(t testing.TB, l *Log, from, upTo int64, want ...AbortedTxn) {
	t.Helper()
	got := l.AbortedTxns(from, upTo)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("AbortedTxns(%d, %d) = %v, want %v", from, upTo, got, want)
	}
}

func TestMarkerBatch(t *testing.T) {
	b := MarkerBatch(Marker{ProducerID: 7, ProducerEpoch: 3, CoordinatorEpoch: 9, Commit: true, Timestamp: 42})
	h, ok := splitBatch(b)
	if !ok || !validCRC(b) || h.size() != int64(len(b)) || !h.isControl() || !h.transactional() || h.RecordCount != 1 ||
		h.ProducerID != 7 || h.ProducerEpoch != 3 || h.BaseSequence != -1 || h.MaxTimestamp != 42 {
		t.Fatalf("marker batch header %+v", h)
	}
	m := markerOf(b, &h)
	if m == nil || !m.commit || m.coordinatorEpoch != 9 {
		t.Fatalf("marker %+v", m)
	}
	abort := MarkerBatch(Marker{ProducerID: 7, ProducerEpoch: 3, CoordinatorEpoch: 2})
	h, _ = splitBatch(abort)
	if m := markerOf(abort, &h); m == nil || m.commit || m.coordinatorEpoch != 2 {
		t.Fatalf("abort marker %+v", m)
	}
}

func TestTransactionsAndLastStableOffset(t *testing.T) {
	l, _ := newLog(t, testOpts())
	appendT(t, l, mkBatch(t, spec{n: 2}), 0) // 0-1: not transactional
	wantUnstable(t, l, 2, -1)
	appendT(t, l, txb(t, 10, 0, 0, 3), 0) // 2-4: producer 10 opens a transaction
	appendT(t, l, txb(t, 11, 0, 0, 2), 0) // 5-6: producer 11 too
	appendT(t, l, txb(t, 10, 0, 3, 1), 0) // 7
	wantUnstable(t, l, 8, 2)
	// A read up to the last stable offset tells where its batches end.
	reg, err := l.ReadRegion(0, 1<<20, 2, true)
	must(t, err)
	if reg.NextOffset != 2 {
		t.Fatalf("region up to 2 ends at %d", reg.NextOffset)
	}
	reg.Release()
	if reg, _ = l.ReadRegion(2, 1, 100, true); reg.NextOffset != 5 {
		t.Fatalf("region of one batch from 2 ends at %d, want 5", reg.NextOffset)
	}
	reg.Release()
	// A non-transactional batch from a producer inside a transaction is refused.
	if _, err := l.Append(pb(t, 10, 0, 4, 1), 0); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional write inside a transaction: %v", err)
	}
	// Producer 10 aborts: its transaction [2, 8] enters the index with the last stable
	// offset at 5, where producer 11's open transaction begins.
	r := mark(t, l, 10, 0, false) // 8
	if r.FirstOffset != 8 {
		t.Fatalf("marker at %d", r.FirstOffset)
	}
	wantAborted(t, l, 0, 100, AbortedTxn{ProducerID: 10, FirstOffset: 2, LastOffset: 8, LastStableOffset: 5})
	wantUnstable(t, l, 8, 2) // the marker is not below the high watermark yet
	wantUnstable(t, l, 9, 5) // now it is: producer 11 holds the last stable offset
	mark(t, l, 11, 0, true)  // 9: commit, not indexed
	wantUnstable(t, l, 9, 5)
	wantUnstable(t, l, 10, -1)
	wantAborted(t, l, 0, 100, AbortedTxn{ProducerID: 10, FirstOffset: 2, LastOffset: 8, LastStableOffset: 5})
	wantAborted(t, l, 9, 100) // after the aborted transaction
	wantAborted(t, l, 0, 2)   // before it
	wantAborted(t, l, 8, 9, AbortedTxn{ProducerID: 10, FirstOffset: 2, LastOffset: 8, LastStableOffset: 5})
	// A marker for a producer without a transaction here completes nothing.
	mark(t, l, 12, 0, false) // 10
	wantUnstable(t, l, 10, -1)
	if n := len(l.AbortedTxns(0, 100)); n != 1 {
		t.Fatalf("%d aborted transactions, want 1", n)
	}
	// The producer goes on with its next transaction.
	appendT(t, l, txb(t, 10, 0, 4, 1), 0) // 11
	wantUnstable(t, l, 12, 11)
	if ps := l.Producers(); len(ps) != 3 {
		t.Fatalf("producers %+v", ps)
	}
	for _, p := range l.Producers() {
		if p.ProducerID == 10 && (p.TxnStartOffset != 11 || p.LastSequence != 4 || p.CoordinatorEpoch != 1) {
			t.Fatalf("producer 10: %+v", p)
		}
	}
}

func TestMarkerChecks(t *testing.T) {
	l, _ := newLog(t, testOpts())
	appendT(t, l, txb(t, 10, 3, 0, 1), 0)
	if _, err := l.AppendMarker(Marker{ProducerID: 10, ProducerEpoch: 2, CoordinatorEpoch: 5}, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker from an older producer epoch: %v", err)
	}
	if _, err := l.AppendMarker(Marker{ProducerID: 10, ProducerEpoch: 3, CoordinatorEpoch: 5, Commit: true}, 0); err != nil {
		t.Fatal(err)
	}
	appendT(t, l, txb(t, 10, 3, 1, 1), 0)
	if _, err := l.AppendMarker(Marker{ProducerID: 10, ProducerEpoch: 3, CoordinatorEpoch: 4}, 0); !errors.Is(err, ErrTransactionCoordinatorFenced) {
		t.Fatalf("marker from an older coordinator epoch: %v", err)
	}
	// A fencing marker (the coordinator aborting with a bumped epoch) moves the epoch on.
	if _, err := l.AppendMarker(Marker{ProducerID: 10, ProducerEpoch: 4, CoordinatorEpoch: 5}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(txb(t, 10, 3, 2, 1), 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie write after the fence: %v", err)
	}
	if end := l.LogEndOffset(); end != 4 {
		t.Fatalf("log end %d after refused writes, want 4", end)
	}
}

func TestAppendCoordinatorSkipsSequences(t *testing.T) {
	l, _ := newLog(t, testOpts())
	for i := 0; i < 3; i++ { // the group coordinator writes every offset commit with sequence 0
		if _, err := l.AppendCoordinator(txb(t, 10, 0, 0, 2), 0); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	wantUnstable(t, l, 6, 0)
	mark(t, l, 10, 0, true)
	wantUnstable(t, l, 7, -1)
}

// txnLog writes, over several segments, transactions that are committed and aborted, one
// left open, and returns the aborted entries expected.
func txnLog(t *testing.T, dir string, o Options) (*Log, []AbortedTxn) {
	t.Helper()
	l := openT(t, dir, o)
	var want []AbortedTxn
	seq := map[int64]int32{}
	for i := 0; i < 12; i++ {
		pid := int64(100 + i%3)
		first := appendT(t, l, txb(t, pid, 0, seq[pid], 2), 0).FirstOffset
		seq[pid] += 2
		appendT(t, l, mkBatch(t, spec{n: 3, valueSize: 50}), 0)
		if i%3 == 2 {
			continue // producer 102 keeps its transactions open until the next round
		}
		if i%2 == 0 {
			last := mark(t, l, pid, 0, false).FirstOffset
			lso := last + 1
			if open := l.FirstUnstableOffset(1 << 62); open >= 0 && open < lso {
				lso = open
			}
			want = append(want, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: last, LastStableOffset: lso})
		} else {
			mark(t, l, pid, 0, true)
		}
	}
	return l, want
}

func TestTxnIndexSurvivesRestarts(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 700
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"clean restart", func(*testing.T, string) {}},
		{"missing .txnindex of a sealed segment", func(t *testing.T, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+txnIndexSuffix))
			if len(paths) < 2 {
				t.Fatalf("want aborted transactions in several segments, have %v", paths)
			}
			must(t, os.Remove(paths[0]))
		}},
		{"torn .txnindex", func(t *testing.T, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+txnIndexSuffix))
			f, err := os.OpenFile(paths[0], os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.Write([]byte{0, 0, 0})
			must(t, err)
			must(t, f.Close())
		}},
		{"garbage .txnindex", func(t *testing.T, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+txnIndexSuffix))
			must(t, os.WriteFile(paths[len(paths)-1], make([]byte, abortedTxnSize), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t-0")
			l, want := txnLog(t, dir, o)
			open := l.FirstUnstableOffset(1 << 62)
			if len(l.Segments()) < 4 || open < 0 {
				t.Fatalf("%d segments, open transaction at %d", len(l.Segments()), open)
			}
			must(t, l.Close())
			tc.damage(t, dir)
			o := o
			o.RecoveryPoint = l.RecoveryPoint() // as the broker's checkpoint gives it
			rebuilt := false
			o.Logger = zerolog.New(hookWriter(func(line string) {
				rebuilt = rebuilt || strings.Contains(line, "rebuilt transaction indexes")
			}))
			l = openT(t, dir, o)
			defer l.Close()
			if rebuilt != (tc.name != "clean restart") {
				t.Fatalf("transaction indexes rebuilt: %v", rebuilt)
			}
			wantAborted(t, l, 0, 1<<62, want...)
			wantUnstable(t, l, 1<<62, open)
		})
	}
}

func TestTxnStateAfterCrash(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 700
	dir := filepath.Join(t.TempDir(), "t-0")
	l, want := txnLog(t, dir, o)
	open := l.FirstUnstableOffset(1 << 62)
	end := l.LogEndOffset()
	// kill -9: no Close, so no snapshot at the log end, no checkpointed recovery point;
	// and the index files of the active segment are lost (not yet written out).
	for _, s := range l.Segments() {
		if s.Active {
			_ = os.Remove(segmentPath(dir, s.BaseOffset, txnIndexSuffix))
		}
	}
	l2 := openT(t, dir, o)
	defer l2.Close()
	defer l.Close()
	if l2.LogEndOffset() != end {
		t.Fatalf("log end %d, want %d", l2.LogEndOffset(), end)
	}
	wantAborted(t, l2, 0, 1<<62, want...)
	wantUnstable(t, l2, 1<<62, open)
	// The open transaction goes on and ends after the restart.
	pid := int64(102)
	var seq int32
	for _, p := range l2.Producers() {
		if p.ProducerID == pid {
			seq = p.LastSequence + 1
		}
	}
	appendT(t, l2, txb(t, pid, 0, seq, 1), 0)
	mark(t, l2, pid, 0, false)
	wantUnstable(t, l2, 1<<62, -1)
	if got := l2.AbortedTxns(0, 1<<62); len(got) != len(want)+1 || got[len(got)-1].FirstOffset != open {
		t.Fatalf("aborted after restart: %v", got)
	}
}

func TestTxnIndexTruncation(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 700
	dir := filepath.Join(t.TempDir(), "t-0")
	l, want := txnLog(t, dir, o)
	defer l.Close()
	cut := want[len(want)-1].LastOffset // the last abort marker goes
	must(t, l.TruncateTo(cut))
	wantAborted(t, l, 0, 1<<62, want[:len(want)-1]...)
	// The aborted transaction's data is back to open.
	if fu := l.FirstUnstableOffset(1 << 62); fu < 0 || fu > want[len(want)-1].FirstOffset {
		t.Fatalf("first unstable offset %d after cutting the abort marker at %d", fu, cut)
	}
}

func TestFollowerAppendsKeepTxnState(t *testing.T) {
	leader, _ := newLog(t, testOpts())
	appendT(t, leader, txb(t, 7, 0, 0, 2), 3)
	mark(t, leader, 7, 0, false)
	appendT(t, leader, txb(t, 7, 0, 2, 1), 3)
	r, err := leader.Read(0, 1<<20, 1<<62, true)
	must(t, err)
	follower, _ := newLog(t, testOpts())
	if _, err := follower.AppendAsFollower(r.Data); err != nil {
		t.Fatal(err)
	}
	wantAborted(t, follower, 0, 100, AbortedTxn{ProducerID: 7, FirstOffset: 0, LastOffset: 2, LastStableOffset: 3})
	wantUnstable(t, follower, 100, 3)
}

func TestExpireProducers(t *testing.T) {
	l, _ := newLog(t, testOpts())
	appendT(t, l, pb(t, 1, 0, 0, 1), 0)  // timestamp 1000
	appendT(t, l, txb(t, 2, 0, 0, 1), 0) // open transaction: never expires
	if n := l.ExpireProducers(1000+500, 1000); n != 0 {
		t.Fatalf("expired %d too early", n)
	}
	if n := l.ExpireProducers(1000+1000, 1000); n != 1 || len(l.Producers()) != 1 {
		t.Fatalf("expired %d, left %+v", n, l.Producers())
	}
	// An expired producer starts over with any sequence.
	appendT(t, l, pb(t, 1, 0, 17, 1), 0)
}

func TestVerificationGuard(t *testing.T) {
	l, _ := newLog(t, testOpts())
	// Without a verification, a batch may not open a transaction.
	if _, err := l.AppendVerified(txb(t, 3, 0, 0, 1), 0, 0); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("unverified: %v", err)
	}
	g := l.StartVerification(3)
	// A marker (the coordinator aborting the transaction) voids the verification.
	mark(t, l, 3, 0, false)
	if _, err := l.AppendVerified(txb(t, 3, 0, 0, 1), 0, g); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("verified before the marker: %v", err)
	}
	g = l.StartVerification(3)
	if _, err := l.AppendVerified(txb(t, 3, 0, 0, 1), 0, g); err != nil {
		t.Fatal(err)
	}
	// Inside the transaction no verification is needed.
	if g := l.StartVerification(3); g != 0 {
		t.Fatalf("guard %d inside a transaction", g)
	}
	if _, err := l.AppendVerified(txb(t, 3, 0, 1, 1), 0, 0); err != nil {
		t.Fatal(err)
	}
	if end := l.LogEndOffset(); end != 3 {
		t.Fatalf("log end %d", end)
	}
}
