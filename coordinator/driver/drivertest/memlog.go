// Package drivertest holds what the coordinators' driver tests share: an in-memory
// coordinator partition log.
package drivertest

import (
	"context"
	"sync"

	"kbroker/protocol"
)

// MemLog is an in-memory coordinator log (__consumer_offsets or __transaction_state):
// validated batches per partition, offsets assigned on append. It serves the drivers'
// Log interface.
type MemLog struct {
	mu    sync.Mutex
	parts map[int32][]byte
	next  map[int32]int64
}

// NewMemLog returns an empty log.
func NewMemLog() *MemLog { return &MemLog{parts: map[int32][]byte{}, next: map[int32]int64{}} }

// Append validates batch as a produce would and appends it to partition p.
func (l *MemLog) Append(_ context.Context, p int32, batch []byte) error {
	if _, err := protocol.ValidateProduceBatch(batch, protocol.ValidateOptions{MaxBatchBytes: 1 << 20}); err != nil {
		return err
	}
	h, _ := protocol.ParseBatchHeader(batch)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append([]byte(nil), batch...)
	protocol.SetBaseOffset(b, l.next[p])
	l.next[p] += int64(h.LastOffsetDelta) + 1
	l.parts[p] = append(l.parts[p], b...)
	return nil
}

// Read returns the whole of partition p on a read from offset 0, nothing from any later
// offset, and the log end offset.
func (l *MemLog) Read(p int32, offset int64, maxBytes int) ([]byte, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if offset > 0 {
		return nil, l.next[p], nil
	}
	return l.parts[p], l.next[p], nil
}
