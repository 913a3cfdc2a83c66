package log

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFlushGroupCommit: with log.flush.interval.messages=1 every append returns only once its
// batch is below the recovery point, and appends that queue behind a running fsync share the
// next one instead of each syncing the segment.
func TestFlushGroupCommit(t *testing.T) {
	ffs := NewFaultFS(nil)
	var syncs atomic.Int64
	ffs.SetHook(func(op Op, path string) error {
		if op == OpSync && strings.HasSuffix(path, ".log") {
			syncs.Add(1)
			time.Sleep(5 * time.Millisecond) // a slow disk: appends pile up behind the fsync
		}
		return nil
	})
	o := testOpts()
	o.FS = ffs
	o.FlushIntervalMessages = 1
	l, _ := newLog(t, o)
	const writers, each = 8, 20
	batch := mkBatch(t, spec{n: 1, valueSize: 100})
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				b := append([]byte(nil), batch...)
				res, err := l.Append(b, 0)
				if err != nil {
					errs <- err
					return
				}
				if rp := l.RecoveryPoint(); rp <= res.LastOffset {
					t.Errorf("append of offset %d returned with the recovery point at %d", res.LastOffset, rp)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l.RecoveryPoint() != writers*each {
		t.Fatalf("recovery point %d, want %d", l.RecoveryPoint(), writers*each)
	}
	if n := syncs.Load(); n >= writers*each/2 {
		t.Fatalf("%d segment fsyncs for %d appends: appends waiting on one fsync did not share the next", n, writers*each)
	} else {
		t.Logf("%d segment fsyncs for %d appends", n, writers*each)
	}
}

// TestRollFlushesInBackground: rolling a segment flushes the segments before it without the
// append waiting, so the recovery point follows the rolled segments (as Kafka's roll does),
// while the active segment stays unflushed (log.flush.interval.messages is off).
func TestRollFlushesInBackground(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 4 << 10
	l, _ := newLog(t, o)
	for i := 0; i < 20; i++ {
		appendT(t, l, mkBatch(t, spec{n: 2, valueSize: 500}), 0)
	}
	segs := l.Segments()
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	active := segs[len(segs)-1].BaseOffset
	deadline := time.Now().Add(5 * time.Second)
	for l.RecoveryPoint() < active {
		if time.Now().After(deadline) {
			t.Fatalf("recovery point %d, want the active segment's base %d after the rolls", l.RecoveryPoint(), active)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rp := l.RecoveryPoint(); rp != active || rp >= l.LogEndOffset() {
		t.Fatalf("recovery point %d, want exactly the active segment's base %d (log end %d)", rp, active, l.LogEndOffset())
	}
}
