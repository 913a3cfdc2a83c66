package driver

import (
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Loads records which coordinator partitions this broker has loaded or is loading, and at
// which leader epoch, for request handlers to read without a trip through the loop. It is
// safe for concurrent use.
type Loads struct {
	mu     sync.Mutex
	status map[int32]loadStatus
	epoch  map[int32]int32 // the leader epoch each partition is loaded or loading at
	wait   map[int32][]chan struct{}
}

type loadStatus uint8

const (
	loading loadStatus = iota + 1
	loaded
)

// NewLoads returns an empty record: no partition loaded.
func NewLoads() *Loads {
	return &Loads{status: map[int32]loadStatus{}, epoch: map[int32]int32{}, wait: map[int32][]chan struct{}{}}
}

// Code is the error code of a request for a partition: 0 when loaded,
// COORDINATOR_LOAD_IN_PROGRESS while loading, NOT_COORDINATOR otherwise.
func (s *Loads) Code(p int32) int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.status[p] {
	case loaded:
		return 0
	case loading:
		return kerr.CoordinatorLoadInProgress.Code
	}
	return kerr.NotCoordinator.Code
}

// Begin is called when this broker becomes leader of partition p at epoch. The returned
// channel is closed when the partition is loaded, or its load failed or was abandoned.
// start tells the caller to load it: the partition was neither loaded nor loading at
// epoch or later (a newer epoch reloads it, as Kafka's coordinators load on every
// election); reload that it had been, at an older epoch.
func (s *Loads) Begin(p, epoch int32) (done <-chan struct{}, start, reload bool) {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status[p]
	current := st != 0 && epoch <= s.epoch[p]
	if current && st == loaded {
		close(ch)
		return ch, false, false
	}
	s.wait[p] = append(s.wait[p], ch)
	if current {
		return ch, false, false
	}
	s.status[p] = loading
	s.epoch[p] = epoch
	return ch, true, st != 0
}

// Ended records the end of the load of p begun at epoch, ok or failed, unless p was
// resigned or is being loaded at a newer epoch since.
func (s *Loads) Ended(p, epoch int32, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status[p] != loading || s.epoch[p] != epoch {
		return
	}
	if ok {
		s.status[p] = loaded
	} else {
		s.forget(p)
	}
	s.wake(p)
}

// Resign forgets partition p, which this broker no longer leads.
func (s *Loads) Resign(p int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(p)
	s.wake(p)
}

func (s *Loads) forget(p int32) {
	delete(s.status, p)
	delete(s.epoch, p)
}

func (s *Loads) wake(p int32) {
	for _, ch := range s.wait[p] {
		close(ch)
	}
	delete(s.wait, p)
}

// ReadToEnd reads a coordinator partition from its start to its log end: read returns the
// batches from an offset and the log end offset (as the coordinators' Log.Read), apply
// takes them and returns the offset after the last whole batch it read.
func ReadToEnd(read func(offset int64) (data []byte, logEnd int64, err error), apply func(data []byte) (next int64, err error)) error {
	offset := int64(0)
	for {
		data, end, err := read(offset)
		if err != nil {
			return err
		}
		if len(data) == 0 || offset >= end {
			return nil
		}
		next, err := apply(data)
		if err != nil {
			return fmt.Errorf("offset %d: %w", offset, err)
		}
		if next <= offset {
			return nil
		}
		offset = next
	}
}
