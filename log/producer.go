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
	// Transactions (txn.go).
	coordinatorEpoch int32 // of the last marker, -1 before any
	txnFirstOffset   int64 // first offset of the producer's ongoing transaction, -1 when none
	lastTimestamp    int64 // max timestamp of its last batch (producer.id.expiration.ms), -1
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, coordinatorEpoch: -1, txnFirstOffset: -1, lastTimestamp: -1}
}

// producerState holds every producer id seen in the log, for idempotence and
// transactions. It is owned by the Log and guarded by its mutex; the offsets the last
// stable offset depends on are mirrored in txns, which has a lock of its own.
type producerState struct {
	m    map[int64]*producerEntry
	txns *txnTracker
	// Verifications under way (StartVerification), by producer id; not snapshotted.
	guards   map[int64]uint64
	guardSeq uint64
}

func newProducerState() *producerState {
	return &producerState{m: make(map[int64]*producerEntry), txns: newTxnTracker()}
}

// inSequence: next follows last, wrapping from MaxInt32 to 0.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// check applies Kafka's idempotence rules to a client batch before it is
// written. It returns the original batch for a retried duplicate. seq is false for
// the coordinators' own batches (Kafka's AppendOrigin.COORDINATOR), whose sequences
// are not checked. A non-transactional batch from a producer with a transaction
// open here is ErrInvalidTxnState.
func (p *producerState) check(h *batchHeader, seq bool) (*batchMeta, error) {
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
	if !seq {
		if h.ProducerEpoch < e.epoch {
			return nil, ErrInvalidProducerEpoch
		}
		return nil, checkTxnState(e, h)
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
	return nil, checkTxnState(e, h)
}

// update records a batch that was written (h carries its assigned offsets; m is the
// marker of a control batch). It returns the transaction a marker completed, if any.
func (p *producerState) update(h *batchHeader, m *marker) *completedTxn {
	if h.ProducerID < 0 {
		return nil
	}
	e := p.m[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		p.m[h.ProducerID] = e
	}
	if h.ProducerEpoch != e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	e.lastOffset = h.lastOffset()
	e.lastTimestamp = h.MaxTimestamp
	if h.isControl() {
		return p.endTxn(e, h, m)
	}
	p.beginTxn(e, h)
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
	return nil
}

// truncateHead forgets producers whose every write is below logStart.
func (p *producerState) truncateHead(logStart int64) {
	for id, e := range p.m {
		if e.lastOffset < logStart {
			delete(p.m, id)
		}
	}
	p.txns.reset(p)
}

// Snapshot file format (ours; Kafka treats the unknown version as a corrupt
// snapshot and rebuilds from the log, so the directory stays loadable by it):
//
//	int16  version (101; 100, written before transactions, is still read)
//	uint32 CRC-32C of everything after this field
//	int64  offset the snapshot was taken at (the log end offset)
//	int32  (101) number of segments with aborted transactions, then per segment
//	       (ascending): int64 base offset, int32 entries in its .txnindex; Open
//	       rebuilds the index of a segment that lost some (a missing .txnindex)
//	int32  producer count, then per producer (sorted by id):
//	  int64 producerId, int16 epoch, int64 lastOffset,
//	  (101) int32 coordinatorEpoch, int64 txnFirstOffset, int64 lastTimestamp,
//	  int8 batch count,
//	  then per batch: int32 firstSeq, int32 lastSeq, int64 firstOffset, int64 lastOffset
const (
	snapshotVersion       = 101
	snapshotVersionNoTxns = 100
)

var errCorruptSnapshot = errors.New("log: corrupt producer snapshot")

// producerSnapshot is a decoded snapshot: the producer state and the number of aborted
// transactions in each segment's .txnindex (segments without any are absent); aborted is
// nil for a version 100 snapshot.
type producerSnapshot struct {
	state   *producerState
	aborted map[int64]int32
}

func (p *producerState) encode(offset int64, aborted map[int64]int32) []byte {
	ids := make([]int64, 0, len(p.m))
	for id := range p.m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 6, 6+16+len(ids)*(39+producerBatchesCached*24))
	binary.BigEndian.PutUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	bases := make([]int64, 0, len(aborted))
	for base := range aborted {
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	b = binary.BigEndian.AppendUint32(b, uint32(len(bases)))
	for _, base := range bases {
		b = binary.BigEndian.AppendUint64(b, uint64(base))
		b = binary.BigEndian.AppendUint32(b, uint32(aborted[base]))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := p.m[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
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

func decodeProducerSnapshot(b []byte, wantOffset int64) (producerSnapshot, error) {
	bad := producerSnapshot{}
	if len(b) < 18 {
		return bad, errCorruptSnapshot
	}
	version := binary.BigEndian.Uint16(b)
	if version != snapshotVersion && version != snapshotVersionNoTxns {
		return bad, errCorruptSnapshot
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return bad, errCorruptSnapshot
	}
	if int64(binary.BigEndian.Uint64(b[6:])) != wantOffset {
		return bad, errCorruptSnapshot
	}
	r := b[14:]
	snap := producerSnapshot{state: newProducerState()}
	if version == snapshotVersion {
		if len(r) < 4 {
			return bad, errCorruptSnapshot
		}
		k := int(binary.BigEndian.Uint32(r))
		r = r[4:]
		if k < 0 || len(r) < k*12 {
			return bad, errCorruptSnapshot
		}
		snap.aborted = make(map[int64]int32, k)
		for ; k > 0; k-- {
			snap.aborted[int64(binary.BigEndian.Uint64(r))] = int32(binary.BigEndian.Uint32(r[8:]))
			r = r[12:]
		}
	}
	if len(r) < 4 {
		return bad, errCorruptSnapshot
	}
	n := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	fixed := 19
	if version == snapshotVersion {
		fixed = 39
	}
	for i := 0; i < n; i++ {
		if len(r) < fixed {
			return bad, errCorruptSnapshot
		}
		id := int64(binary.BigEndian.Uint64(r))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(r[8:])))
		e.lastOffset = int64(binary.BigEndian.Uint64(r[10:]))
		if version == snapshotVersion {
			e.coordinatorEpoch = int32(binary.BigEndian.Uint32(r[18:]))
			e.txnFirstOffset = int64(binary.BigEndian.Uint64(r[22:]))
			e.lastTimestamp = int64(binary.BigEndian.Uint64(r[30:]))
		}
		k := int(r[fixed-1])
		r = r[fixed:]
		if k > producerBatchesCached || len(r) < k*24 {
			return bad, errCorruptSnapshot
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
		snap.state.m[id] = e
	}
	if len(r) != 0 {
		return bad, errCorruptSnapshot
	}
	snap.state.txns.reset(snap.state)
	return snap, nil
}
