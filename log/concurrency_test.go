package log

import (
	"sync"
	"testing"
)

// Appends, reads, flushes and rolls at the same time; run with -race.
func TestConcurrentAppendReadFlush(t *testing.T) {
	o := testOpts()
	o.SegmentBytes = 4 << 10
	o.FlushIntervalMessages = 50
	l, _ := newLog(t, o)
	const writers, perWriter = 3, 100
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := l.Append(mkBatch(t, spec{n: 2, idem: true, pid: int64(w), seq: int32(2 * i)}), 0); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Add(2)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			end := l.LogEndOffset()
			for off := l.LogStartOffset(); off < end; {
				r, err := l.Read(off, 1<<10, end, true)
				if err != nil {
					t.Errorf("read %d: %v", off, err)
					return
				}
				if len(r.Data) == 0 {
					break
				}
				h, ok := splitBatch(r.Data)
				if !ok {
					t.Errorf("read %d: not a batch", off)
					return
				}
				off = h.lastOffset() + 1
				for rest := r.Data; len(rest) > 0; {
					h, _ := splitBatch(rest)
					off = h.lastOffset() + 1
					rest = rest[h.size():]
				}
			}
		}
	}()
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Flush(); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			_, _, _, _ = l.OffsetForTimestamp(1000)
			_ = l.Segments()
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	if got := l.LogEndOffset(); got != writers*perWriter*2 {
		t.Fatalf("log end %d", got)
	}
	if got := len(readAll(t, l)); got != writers*perWriter {
		t.Fatalf("%d batches", got)
	}
}
