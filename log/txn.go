package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactions, the partition's side (Kafka's ProducerStateManager and
// ProducerAppendInfo): a producer's first transactional batch opens its transaction at
// that batch's offset; a control batch (a commit or abort marker, written by the leader
// on the transaction coordinator's WriteTxnMarkers) closes it. The last stable offset is
// the first offset of the earliest transaction that is open, or whose marker the high
// watermark has not passed yet; read_committed consumers read up to it. An aborted
// transaction goes into the .txnindex of the segment that holds its marker.

// appendOrigin is who wrote a batch (Kafka's AppendOrigin, for the leader's appends).
type appendOrigin uint8

const (
	originClient      appendOrigin = iota // a producer: sequences are checked
	originCoordinator                     // a coordinator of this broker: they are not
)

// marker is the content of a control batch's record: an EndTxnMarker.
type marker struct {
	commit           bool
	coordinatorEpoch int32
}

// Marker describes a transaction marker to append (AppendMarker).
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
	Timestamp        int64 // ms
}

// completedTxn is a transaction a marker closed.
type completedTxn struct {
	producerID, firstOffset, lastOffset int64
	aborted                             bool
	lastStable                          int64 // the last stable offset once it completed
}

func (h *batchHeader) transactional() bool { return h.Attributes&attrTransactional != 0 }

// parseMarker decodes the first record of a control batch (recs is the data after the
// batch header, uncompressed as Kafka writes markers). ok is false when it is not an
// end-transaction marker.
func parseMarker(recs []byte) (marker, bool) {
	r := kbin.Reader{Src: recs}
	r.Varint()  // record length
	r.Int8()    // attributes
	r.Varlong() // timestamp delta
	r.Varint()  // offset delta
	key := r.VarintBytes()
	value := r.VarintBytes()
	if !r.Ok() || len(key) < 4 || len(value) < 6 {
		return marker{}, false
	}
	var k kmsg.ControlRecordKey
	if err := k.ReadFrom(key); err != nil || k.Type > 1 {
		return marker{}, false
	}
	return marker{commit: k.Type == kmsg.ControlRecordKeyTypeCommit, coordinatorEpoch: int32(binary.BigEndian.Uint32(value[2:]))}, true
}

// markerOf returns the marker of a whole batch, nil when it is not a control batch.
func markerOf(b []byte, h *batchHeader) *marker {
	if !h.isControl() {
		return nil
	}
	m, ok := parseMarker(b[batchHeaderSize:])
	if !ok {
		m = marker{coordinatorEpoch: -1} // unreadable: closes the transaction as aborted
	}
	return &m
}

// controlMarker reads the marker of the control batch the scanner is at (headers-only
// scans read the record after the header).
func (s *scanner) controlMarker() *marker {
	if !s.h.isControl() {
		return nil
	}
	if s.full {
		return markerOf(s.batch, &s.h)
	}
	n := min(int(s.h.size())-batchHeaderSize, 64)
	b, err := s.window(s.at+batchHeaderSize, n)
	if err != nil {
		return &marker{coordinatorEpoch: -1}
	}
	m, ok := parseMarker(b)
	if !ok {
		m = marker{coordinatorEpoch: -1}
	}
	return &m
}

// MarkerBatch builds the control batch of a transaction marker (Kafka's
// MemoryRecords.withEndTransactionMarker): base offset 0, one record whose key is a
// ControlRecordKey and value an EndTxnMarker, transactional and control attributes.
func MarkerBatch(m Marker) []byte {
	typ := kmsg.ControlRecordKeyTypeAbort
	if m.Commit {
		typ = kmsg.ControlRecordKeyTypeCommit
	}
	key := (&kmsg.ControlRecordKey{Version: 0, Type: typ}).AppendTo(nil)
	value := (&kmsg.EndTxnMarker{Version: 0, CoordinatorEpoch: m.CoordinatorEpoch}).AppendTo(nil)
	var body []byte
	body = append(body, 0)             // attributes
	body = kbin.AppendVarlong(body, 0) // timestamp delta
	body = kbin.AppendVarint(body, 0)  // offset delta
	body = kbin.AppendVarintBytes(body, key)
	body = kbin.AppendVarintBytes(body, value)
	body = kbin.AppendVarint(body, 0) // headers
	rec := kbin.AppendVarint(nil, int32(len(body)))
	rec = append(rec, body...)
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrTransactional | attrControl,
		FirstTimestamp:       m.Timestamp,
		MaxTimestamp:         m.Timestamp,
		ProducerID:           m.ProducerID,
		ProducerEpoch:        m.ProducerEpoch,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              rec,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-batchLogOverhead))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// checkTxnState: a producer with a transaction open here may only write transactional
// batches until its marker (Kafka's "Expected transactional write").
func checkTxnState(e *producerEntry, h *batchHeader) error {
	if e.txnFirstOffset >= 0 && !h.transactional() {
		return fmt.Errorf("%w: producer %d has a transaction open at offset %d and wrote a non-transactional batch",
			ErrInvalidTxnState, h.ProducerID, e.txnFirstOffset)
	}
	return nil
}

// checkMarker applies Kafka's checks to a marker from the coordinator: an older producer
// epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch
// TRANSACTION_COORDINATOR_FENCED.
func (p *producerState) checkMarker(h *batchHeader, m *marker) error {
	e := p.m[h.ProducerID]
	if e == nil {
		return nil
	}
	if h.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: marker for producer %d with epoch %d, current epoch %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	if m != nil && e.coordinatorEpoch > m.coordinatorEpoch {
		return fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, current %d", ErrTransactionCoordinatorFenced, h.ProducerID, m.coordinatorEpoch, e.coordinatorEpoch)
	}
	return nil
}

// beginTxn opens the producer's transaction at its first transactional batch.
func (p *producerState) beginTxn(e *producerEntry, h *batchHeader) {
	if h.transactional() && e.txnFirstOffset < 0 {
		e.txnFirstOffset = h.BaseOffset
		p.txns.begin(h.ProducerID, h.BaseOffset)
		delete(p.guards, h.ProducerID)
	}
}

// endTxn closes the producer's transaction at its marker. A marker without a transaction
// open here (the coordinator writes markers to every partition of the transaction, and
// again when it retries) completes nothing.
func (p *producerState) endTxn(e *producerEntry, h *batchHeader, m *marker) *completedTxn {
	if m != nil && m.coordinatorEpoch >= 0 {
		e.coordinatorEpoch = m.coordinatorEpoch
	}
	delete(p.guards, h.ProducerID)
	if e.txnFirstOffset < 0 {
		return nil
	}
	c := &completedTxn{producerID: h.ProducerID, firstOffset: e.txnFirstOffset, lastOffset: h.BaseOffset, aborted: m == nil || !m.commit}
	e.txnFirstOffset = -1
	c.lastStable = p.txns.complete(c)
	return c
}

// txnTracker holds the offsets the last stable offset depends on: the first offset of
// each open transaction, and of each completed one whose marker may not be below the high
// watermark yet. It has its own lock (a leaf, taken under the Log's or alone) so that
// fetches compute the last stable offset without the Log's lock; with no transaction at
// all, not even that.
type txnTracker struct {
	active atomic.Int32 // len(ongoing) + len(unreplicated)

	mu           sync.Mutex
	ongoing      map[int64]int64 // producer id -> first offset
	unreplicated []completedTxn
}

func newTxnTracker() *txnTracker { return &txnTracker{ongoing: map[int64]int64{}} }

func (t *txnTracker) count() { t.active.Store(int32(len(t.ongoing) + len(t.unreplicated))) }

func (t *txnTracker) begin(pid, first int64) {
	t.mu.Lock()
	t.ongoing[pid] = first
	t.count()
	t.mu.Unlock()
}

// complete moves a transaction from open to completed and returns the last stable offset
// after it (Kafka's lastStableOffset(completedTxn)): the first offset of the earliest
// other open transaction, else the offset after its marker.
func (t *txnTracker) complete(c *completedTxn) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ongoing, c.producerID)
	lso := c.lastOffset + 1
	for _, first := range t.ongoing {
		lso = min(lso, first)
	}
	t.unreplicated = append(t.unreplicated, *c)
	t.count()
	return lso
}

// firstUnstable returns the first offset of the earliest transaction that is open or whose
// marker is at or above hw, or -1; completed ones below hw are forgotten.
func (t *txnTracker) firstUnstable(hw int64) int64 {
	if t.active.Load() == 0 {
		return -1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	first := int64(-1)
	keep := t.unreplicated[:0]
	for _, c := range t.unreplicated {
		if c.lastOffset < hw {
			continue
		}
		keep = append(keep, c)
		if first < 0 || c.firstOffset < first {
			first = c.firstOffset
		}
	}
	clear(t.unreplicated[len(keep):])
	t.unreplicated = keep
	for _, f := range t.ongoing {
		if first < 0 || f < first {
			first = f
		}
	}
	t.count()
	return first
}

// reset rebuilds the open transactions from the producer entries (after a snapshot load or
// a truncation); completed ones are forgotten.
func (t *txnTracker) reset(p *producerState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.ongoing)
	t.unreplicated = nil
	for id, e := range p.m {
		if e.txnFirstOffset >= 0 {
			t.ongoing[id] = e.txnFirstOffset
		}
	}
	t.count()
}

// FirstUnstableOffset is the first offset of the earliest transaction that is open or
// whose marker is at or above hw (the high watermark), or -1 when there is none: the last
// stable offset is the smaller of it and hw. Cheap (no lock) when there are no
// transactions.
func (l *Log) FirstUnstableOffset(hw int64) int64 {
	return l.txns.Load().firstUnstable(hw)
}

// setProducers installs a producer state (under mu, or before the Log is shared).
func (l *Log) setProducers(p *producerState) {
	l.producers = p
	l.txns.Store(p.txns)
}

// AbortedTxns lists the aborted transactions that overlap [from, upTo): what a
// read_committed fetch of the batches from offset from up to upTo must skip (Kafka's
// collectAbortedTransactions). The search goes from the segment holding from through
// later ones until an entry's last stable offset reaches upTo.
func (l *Log) AbortedTxns(from, upTo int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []AbortedTxn
	for i := l.segmentFor(from); i < len(l.segs); i++ {
		var done bool
		out, done = l.segs[i].txn.collect(from, upTo, out)
		if done {
			break
		}
	}
	return out
}

// ProducerInfo describes one producer of the partition (DescribeProducers).
type ProducerInfo struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32 // -1 when none
	LastTimestamp    int64 // -1 when none
	CoordinatorEpoch int32 // -1 before any marker
	TxnStartOffset   int64 // -1 without an open transaction
}

// Producers lists the producers the log knows (those not expired).
func (l *Log) Producers() []ProducerInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]ProducerInfo, 0, len(l.producers.m))
	for id, e := range l.producers.m {
		pi := ProducerInfo{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp,
			CoordinatorEpoch: e.coordinatorEpoch, TxnStartOffset: e.txnFirstOffset}
		if n := len(e.batches); n > 0 {
			pi.LastSequence = e.batches[n-1].lastSeq
		}
		out = append(out, pi)
	}
	return out
}

// ExpireProducers forgets producers without an open transaction whose last batch is
// older than expirationMs at nowMs (producer.id.expiration.ms, Kafka's
// removeExpiredProducers); their next batch is accepted with any sequence. It returns how
// many were forgotten.
func (l *Log) ExpireProducers(nowMs, expirationMs int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, e := range l.producers.m {
		if e.txnFirstOffset < 0 && nowMs-e.lastTimestamp >= expirationMs {
			delete(l.producers.m, id)
			n++
		}
	}
	return n
}

// StartVerification begins the check a leader makes with the transaction coordinator
// before a producer's first transactional batch in the partition (KIP-890): it returns a
// guard to append that batch with (AppendVerified), or 0 when the producer has a
// transaction open here already and no check is needed. A marker for the producer in
// between voids the guard, so a batch verified before the transaction ended cannot open a
// transaction that no marker will ever close.
func (l *Log) StartVerification(pid int64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.producers.m[pid]; e != nil && e.txnFirstOffset >= 0 {
		return 0
	}
	l.producers.guardSeq++
	if l.producers.guards == nil {
		l.producers.guards = map[int64]uint64{}
	}
	l.producers.guards[pid] = l.producers.guardSeq
	return l.producers.guardSeq
}

// AppendVerified is Append for a transactional batch of a partition with verification
// on: a batch that would open the producer's transaction here needs the guard of a
// verification still standing, or it is ErrInvalidTxnState.
func (l *Log) AppendVerified(batch []byte, leaderEpoch int32, guard uint64) (AppendResult, error) {
	return l.appendGuarded(batch, leaderEpoch, originClient, guard, true)
}

// checkGuard applies AppendVerified's rule to h.
func (p *producerState) checkGuard(h *batchHeader, guard uint64) error {
	if !h.transactional() || h.isControl() {
		return nil
	}
	if e := p.m[h.ProducerID]; e != nil && e.txnFirstOffset >= 0 {
		return nil
	}
	if guard == 0 || p.guards[h.ProducerID] != guard {
		return fmt.Errorf("%w: producer %d: the batch was not verified as part of an ongoing transaction", ErrInvalidTxnState, h.ProducerID)
	}
	return nil
}

// AppendMarker writes a transaction marker as the partition's leader (WriteTxnMarkers)
// under leaderEpoch, after Kafka's checks: a marker for an older producer epoch is
// ErrInvalidProducerEpoch, from an older coordinator epoch
// ErrTransactionCoordinatorFenced.
func (l *Log) AppendMarker(m Marker, leaderEpoch int32) (AppendResult, error) {
	return l.appendOrigin(MarkerBatch(m), leaderEpoch, originCoordinator)
}

// AppendCoordinator appends one batch written by a coordinator of this broker (the group
// coordinator's transactional offset commits): as Append, but producer sequences are not
// checked (Kafka's AppendOrigin.COORDINATOR).
func (l *Log) AppendCoordinator(batch []byte, leaderEpoch int32) (AppendResult, error) {
	return l.appendOrigin(batch, leaderEpoch, originCoordinator)
}

// addAborted records a transaction aborted by a marker in the active segment.
func (l *Log) addAborted(c *completedTxn) error {
	if c == nil || !c.aborted {
		return nil
	}
	return l.active().txn.append(AbortedTxn{ProducerID: c.producerID, FirstOffset: c.firstOffset, LastOffset: c.lastOffset, LastStableOffset: c.lastStable})
}
