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
