package driver

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestLoadsLifecycle(t *testing.T) {
	s := NewLoads()
	if c := s.Code(3); c != kerr.NotCoordinator.Code {
		t.Fatalf("unknown partition: %d", c)
	}
	done, start, reload := s.Begin(3, 5)
	if !start || reload || closed(done) || s.Code(3) != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("first begin: start %v reload %v code %d", start, reload, s.Code(3))
	}
	again, start2, _ := s.Begin(3, 5) // the same election again: wait for the load under way
	if start2 {
		t.Fatal("a second load started at the same epoch")
	}
	s.Ended(3, 5, true)
	if !closed(done) || !closed(again) || s.Code(3) != 0 {
		t.Fatalf("after the load: %v %v %d", closed(done), closed(again), s.Code(3))
	}
	if d, start, _ := s.Begin(3, 4); start || !closed(d) {
		t.Fatal("an older epoch reloaded a loaded partition")
	}
	d6, start, reload := s.Begin(3, 6)
	if !start || !reload || s.Code(3) != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("newer epoch: start %v reload %v", start, reload)
	}
	s.Ended(3, 5, true) // a late end of the epoch-5 load changes nothing
	if closed(d6) || s.Code(3) != kerr.CoordinatorLoadInProgress.Code {
		t.Fatal("a stale load end completed the newer load")
	}
	s.Resign(3)
	if !closed(d6) || s.Code(3) != kerr.NotCoordinator.Code {
		t.Fatal("resign did not release the waiters or forget the partition")
	}
	s.Ended(3, 6, true) // the resigned partition's load ends afterwards
	if s.Code(3) != kerr.NotCoordinator.Code {
		t.Fatal("a load that ended after the resignation made the partition loaded")
	}
	d7, _, _ := s.Begin(3, 7)
	s.Ended(3, 7, false)
	if !closed(d7) || s.Code(3) != kerr.NotCoordinator.Code {
		t.Fatal("a failed load left the partition loading")
	}
}

func TestReadToEnd(t *testing.T) {
	// A log of ten one-byte "batches" at offsets 0-9, read three at a time.
	var reads []int64
	read := func(off int64) ([]byte, int64, error) {
		reads = append(reads, off)
		n := min(3, 10-off)
		if n <= 0 {
			return nil, 10, nil
		}
		return make([]byte, n), 10, nil
	}
	var applied int64
	pos := int64(0)
	err := ReadToEnd(read, func(data []byte) (int64, error) {
		applied += int64(len(data))
		pos += int64(len(data))
		return pos, nil
	})
	if err != nil || applied != 10 || len(reads) != 5 || reads[4] != 10 {
		t.Fatalf("err %v, applied %d, reads %v", err, applied, reads)
	}
	bad := errors.New("corrupt")
	err = ReadToEnd(read, func([]byte) (int64, error) { return 0, bad })
	if !errors.Is(err, bad) || err.Error() != "offset 0: corrupt" {
		t.Fatalf("apply error: %v", err)
	}
}
