package log

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// pb builds an idempotent batch of n records.
func pb(t testing.TB, pid int64, epoch int16, seq int32, n int) []byte {
	return mkBatch(t, spec{n: n, idem: true, pid: pid, epoch: epoch, seq: seq})
}

type step struct {
	pid     int64
	epoch   int16
	seq     int32
	n       int
	wantErr error
	dupOf   int64 // >= 0: expect a duplicate whose first offset is this
}

func ok(pid int64, epoch int16, seq int32, n int) step {
	return step{pid: pid, epoch: epoch, seq: seq, n: n, dupOf: -1}
}
func fails(pid int64, epoch int16, seq int32, n int, err error) step {
	return step{pid: pid, epoch: epoch, seq: seq, n: n, wantErr: err, dupOf: -1}
}
func dup(pid int64, epoch int16, seq int32, n int, first int64) step {
	return step{pid: pid, epoch: epoch, seq: seq, n: n, dupOf: first}
}

var idempotenceCases = []struct {
	name  string
	steps []step
}{
	{"unknown producer accepts any sequence", []step{ok(1, 0, 42, 2), ok(1, 0, 44, 1)}},
	{"in sequence", []step{ok(1, 0, 0, 3), ok(1, 0, 3, 3), ok(1, 0, 6, 1)}},
	{"gap is out of order", []step{ok(1, 0, 0, 3), fails(1, 0, 4, 1, ErrOutOfOrderSequence)}},
	{"going back is out of order", []step{ok(1, 0, 0, 3), ok(1, 0, 3, 3), fails(1, 0, 2, 1, ErrOutOfOrderSequence)}},
	{"retry of the last batch is a duplicate", []step{ok(1, 0, 0, 3), ok(1, 0, 3, 2), dup(1, 0, 3, 2, 3)}},
	{"retry of the fifth last batch is a duplicate", []step{
		ok(1, 0, 0, 1), ok(1, 0, 1, 1), ok(1, 0, 2, 1), ok(1, 0, 3, 1), ok(1, 0, 4, 1), dup(1, 0, 0, 1, 0)}},
	{"sixth last batch is no longer cached", []step{
		ok(1, 0, 0, 1), ok(1, 0, 1, 1), ok(1, 0, 2, 1), ok(1, 0, 3, 1), ok(1, 0, 4, 1), ok(1, 0, 5, 1),
		fails(1, 0, 0, 1, ErrOutOfOrderSequence)}},
	{"same first sequence but other length is not a duplicate", []step{ok(1, 0, 0, 3), fails(1, 0, 0, 2, ErrOutOfOrderSequence)}},
	{"older epoch is fenced", []step{ok(1, 3, 0, 1), fails(1, 2, 1, 1, ErrInvalidProducerEpoch)}},
	{"retry from an older epoch is fenced", []step{ok(1, 0, 0, 1), ok(1, 1, 0, 1), fails(1, 0, 0, 1, ErrInvalidProducerEpoch)}},
	{"new epoch starts at zero", []step{ok(1, 0, 0, 5), ok(1, 1, 0, 2), ok(1, 1, 2, 1)}},
	{"new epoch must start at zero", []step{ok(1, 0, 0, 5), fails(1, 1, 5, 1, ErrOutOfOrderSequence)}},
	{"sequence wraps at MaxInt32", []step{ok(1, 0, math.MaxInt32-1, 2), ok(1, 0, 0, 1), dup(1, 0, 0, 1, 2)}},
	{"batch wrapping MaxInt32 inside", []step{ok(1, 0, math.MaxInt32, 3), ok(1, 0, 2, 1), dup(1, 0, math.MaxInt32, 3, 0)}},
	{"producers are independent", []step{ok(1, 0, 0, 1), ok(2, 0, 0, 1), ok(1, 0, 1, 1), fails(2, 0, 5, 1, ErrOutOfOrderSequence), dup(2, 0, 0, 1, 1)}},
}

// runSteps applies steps and returns the offsets assigned. When reopen is
// set, the log is closed cleanly (or abandoned, for unclean) and reopened
// before the last step.
func runSteps(t *testing.T, steps []step, restart string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "t-0")
	o := testOpts()
	o.SegmentBytes = 300 // a few rolls along the way, so snapshots are involved
	l := openT(t, dir, o)
	defer func() { _ = l.Close() }()
	for i, s := range steps {
		if i == len(steps)-1 && restart != "" {
			switch restart {
			case "clean":
				must(t, l.Close())
			case "unclean":
				// abandon l without Close: no snapshot at the log end
			}
			old := l
			l = openT(t, dir, o)
			if restart == "unclean" {
				defer func() { _ = old.Close() }()
			}
		}
		before := l.LogEndOffset()
		r, err := l.Append(pb(t, s.pid, s.epoch, s.seq, s.n), 0)
		switch {
		case s.wantErr != nil:
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
			}
			if l.LogEndOffset() != before {
				t.Fatalf("step %d: rejected batch was written", i)
			}
		case s.dupOf >= 0:
			if err != nil || !r.Duplicate || r.FirstOffset != s.dupOf || r.LastOffset != s.dupOf+int64(s.n)-1 {
				t.Fatalf("step %d: got %+v %v, want duplicate of %d", i, r, err, s.dupOf)
			}
			if l.LogEndOffset() != before {
				t.Fatalf("step %d: duplicate was written", i)
			}
		default:
			if err != nil || r.Duplicate || r.FirstOffset != before {
				t.Fatalf("step %d: got %+v %v", i, r, err)
			}
		}
	}
}

func TestIdempotence(t *testing.T) {
	for _, restart := range []string{"", "clean", "unclean"} {
		for _, tc := range idempotenceCases {
			name := tc.name
			if restart != "" {
				name = restart + " restart/" + name
			}
			t.Run(name, func(t *testing.T) { runSteps(t, tc.steps, restart) })
		}
	}
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	p := newProducerState()
	for i := 0; i < 8; i++ {
		h := batchHeader{BaseOffset: int64(i * 2), LastOffsetDelta: 1, ProducerID: int64(i % 3), ProducerEpoch: 2, BaseSequence: int32(i * 2)}
		p.update(&h, nil)
	}
	txn := batchHeader{BaseOffset: 16, LastOffsetDelta: 0, ProducerID: 9, ProducerEpoch: 1, BaseSequence: 0, Attributes: attrTransactional, MaxTimestamp: 77}
	p.update(&txn, nil)
	ctl := batchHeader{BaseOffset: 20, ProducerID: 7, ProducerEpoch: 4, Attributes: attrControl}
	p.update(&ctl, &marker{commit: true, coordinatorEpoch: 3})
	b := p.encode(21, map[int64]int32{0: 2, 10: 1})
	snap, err := decodeProducerSnapshot(b, 21)
	must(t, err)
	q := snap.state
	if len(snap.aborted) != 2 || snap.aborted[0] != 2 || snap.aborted[10] != 1 {
		t.Fatalf("aborted counts %v", snap.aborted)
	}
	if e := q.m[9]; e.txnFirstOffset != 16 || e.lastTimestamp != 77 || q.txns.firstUnstable(100) != 16 {
		t.Fatalf("open transaction not restored: %+v", e)
	}
	if e := q.m[7]; e.coordinatorEpoch != 3 || e.txnFirstOffset != -1 {
		t.Fatalf("marker state not restored: %+v", e)
	}
	if len(q.m) != len(p.m) {
		t.Fatalf("%d producers, want %d", len(q.m), len(p.m))
	}
	for id, e := range p.m {
		f := q.m[id]
		if f == nil || f.epoch != e.epoch || f.lastOffset != e.lastOffset || len(f.batches) != len(e.batches) {
			t.Fatalf("producer %d: %+v vs %+v", id, f, e)
		}
		for i := range e.batches {
			if e.batches[i] != f.batches[i] {
				t.Fatalf("producer %d batch %d differs", id, i)
			}
		}
	}
	for _, bad := range [][]byte{b[:10], append(append([]byte(nil), b...), 0), flip(b, 20), flip(b, 0)} {
		if _, err := decodeProducerSnapshot(bad, 21); err == nil {
			t.Fatal("corrupt snapshot accepted")
		}
	}
	if _, err := decodeProducerSnapshot(b, 22); err == nil {
		t.Fatal("snapshot for another offset accepted")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestControlBatchFencesOlderEpochs(t *testing.T) {
	l, _ := newLog(t, testOpts())
	appendT(t, l, pb(t, 5, 1, 0, 2), 0)
	marker := mkBatch(t, spec{n: 1, idem: true, pid: 5, epoch: 2, seq: -1, control: true})
	appendT(t, l, marker, 0)
	if _, err := l.Append(pb(t, 5, 1, 2, 1), 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("err = %v, want ErrInvalidProducerEpoch", err)
	}
	appendT(t, l, pb(t, 5, 2, 0, 1), 0)
}
