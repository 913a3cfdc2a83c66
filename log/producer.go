package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
)

// batchMeta is what the log remembers of one of a producer's recent batches.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// producerEntry is the state of one producer id.
type producerEntry struct {
	epoch      int16
	lastOffset int64       // last offset written by this producer (data or marker)
	batches    []batchMeta // at most producerBatchesCached, oldest first
}

// producerState holds every producer id seen in the log, for idempotence.
// It is owned by the Log and guarded by its mutex.
type producerState struct {
	m map[int64]*producerEntry
}

func newProducerState() *producerState {
	return &producerState{m: make(map[int64]*producerEntry)}
}

// inSequence: next follows last, wrapping from MaxInt32 to 0.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// check applies Kafka's idempotence rules to a client batch before it is
// written. It returns the original batch for a retried duplicate.
func (p *producerState) check(h *batchHeader) (*batchMeta, error) {
	e := p.m[h.ProducerID]
	if e == nil {
		return nil, nil // unknown producer: accept any sequence (KIP-360)
	}
	if h.isControl() {
		if h.ProducerEpoch < e.epoch {
			return nil, ErrInvalidProducerEpoch
		}
		return nil, nil
	}
	if h.ProducerEpoch == e.epoch {
		last := h.lastSequence()
		for i := range e.batches {
			if e.batches[i].firstSeq == h.BaseSequence && e.batches[i].lastSeq == last {
				dup := e.batches[i]
				return &dup, nil
			}
		}
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, ErrInvalidProducerEpoch
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d",
				ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
	default:
		if len(e.batches) == 0 {
			return nil, nil // epoch known (e.g. from a marker) but no data: accept
		}
		lastSeq := e.batches[len(e.batches)-1].lastSeq
		if !inSequence(lastSeq, h.BaseSequence) {
			return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d",
				ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, incrementSequence(lastSeq, 1), h.BaseSequence)
		}
	}
	return nil, nil
}

// update records a batch that was written (h carries its assigned offsets).
func (p *producerState) update(h *batchHeader) {
	if h.ProducerID < 0 {
		return
	}
	e := p.m[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.m[h.ProducerID] = e
	}
	if h.ProducerEpoch != e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	e.lastOffset = h.lastOffset()
	if h.isControl() {
		return
	}
	if len(e.batches) == producerBatchesCached {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:producerBatchesCached-1]
	}
	e.batches = append(e.batches, batchMeta{
		firstSeq:    h.BaseSequence,
		lastSeq:     h.lastSequence(),
		firstOffset: h.BaseOffset,
		lastOffset:  h.lastOffset(),
	})
}

// truncateHead forgets producers whose every write is below logStart.
func (p *producerState) truncateHead(logStart int64) {
	for id, e := range p.m {
		if e.lastOffset < logStart {
			delete(p.m, id)
		}
	}
}

// Snapshot file format (ours; Kafka treats the unknown version as a corrupt
// snapshot and rebuilds from the log, so the directory stays loadable by it):
//
//	int16  version (100)
//	uint32 CRC-32C of everything after this field
//	int64  offset the snapshot was taken at (the log end offset)
//	int32  producer count, then per producer (sorted by id):
//	  int64 producerId, int16 epoch, int64 lastOffset, int8 batch count,
//	  then per batch: int32 firstSeq, int32 lastSeq, int64 firstOffset, int64 lastOffset
const snapshotVersion = 100

var errCorruptSnapshot = errors.New("log: corrupt producer snapshot")

func (p *producerState) encode(offset int64) []byte {
	ids := make([]int64, 0, len(p.m))
	for id := range p.m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 6, 6+12+len(ids)*(19+producerBatchesCached*24))
	binary.BigEndian.PutUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := p.m[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastOffset))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

func decodeProducerSnapshot(b []byte, wantOffset int64) (*producerState, error) {
	if len(b) < 18 || binary.BigEndian.Uint16(b) != snapshotVersion {
		return nil, errCorruptSnapshot
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return nil, errCorruptSnapshot
	}
	if int64(binary.BigEndian.Uint64(b[6:])) != wantOffset {
		return nil, errCorruptSnapshot
	}
	n := int(binary.BigEndian.Uint32(b[14:]))
	r := b[18:]
	p := newProducerState()
	for i := 0; i < n; i++ {
		if len(r) < 19 {
			return nil, errCorruptSnapshot
		}
		id := int64(binary.BigEndian.Uint64(r))
		e := &producerEntry{
			epoch:      int16(binary.BigEndian.Uint16(r[8:])),
			lastOffset: int64(binary.BigEndian.Uint64(r[10:])),
		}
		k := int(r[18])
		r = r[19:]
		if k > producerBatchesCached || len(r) < k*24 {
			return nil, errCorruptSnapshot
		}
		for j := 0; j < k; j++ {
			e.batches = append(e.batches, batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(r)),
				lastSeq:     int32(binary.BigEndian.Uint32(r[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(r[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(r[16:])),
			})
			r = r[24:]
		}
		p.m[id] = e
	}
	if len(r) != 0 {
		return nil, errCorruptSnapshot
	}
	return p, nil
}
