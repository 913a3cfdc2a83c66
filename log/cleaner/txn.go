package cleaner

import (
	"encoding/binary"
	"sort"

	"kbroker/log"
)

// Control record types (Kafka's ControlRecordType), from the key of a control batch's
// record: int16 version, int16 type.
const (
	controlAbort  int16 = 0
	controlCommit int16 = 1
	controlNone   int16 = -1 // a control batch without records: one a cleaning emptied
	controlOther  int16 = -2 // an unknown or unreadable control record
)

// txnState follows transactions through the batches of one pass, in offset order, as
// Kafka's CleanedTransactionMetadata does:
//
//   - add gives it the aborted transactions of a range (from the .txnindex, Log.AbortedTxns);
//     each becomes current once a batch at or after its first offset is read;
//   - a transactional data batch of a producer whose current transaction is aborted is
//     discardable (onBatch); any other one marks its producer's transaction as having data;
//   - an abort marker may go once no batch of its transaction was read in this pass (they
//     went in an earlier one); until then it stays, and so does its .txnindex entry, given
//     to the cleaned segment being written (out). A commit marker may go when no batch of
//     its transaction was read. A control batch without records (emptied by an earlier
//     cleaning) may go. "May go" still waits for the marker's delete horizon (filter).
//
// One txnState serves the offset map's reading of the dirty section, and another the
// rewriting of every group of a pass.
type txnState struct {
	pending   []log.AbortedTxn // not current yet, by first offset
	aborted   map[int64]*abortedTxn
	committed map[int64]bool
	out       *log.CleanedSegment // nil: nothing is written (the offset map's pass)
}

// abortedTxn is an aborted transaction the pass is within.
type abortedTxn struct {
	log.AbortedTxn
	observed bool // a batch of it was read (and dropped) in this pass
}

func newTxnState() *txnState {
	return &txnState{aborted: map[int64]*abortedTxn{}, committed: map[int64]bool{}}
}

// add queues aborted transactions (a transaction may come twice, from overlapping ranges).
func (t *txnState) add(txns []log.AbortedTxn) {
	if len(txns) == 0 {
		return
	}
	t.pending = append(t.pending, txns...)
	sort.SliceStable(t.pending, func(i, j int) bool { return t.pending[i].FirstOffset < t.pending[j].FirstOffset })
}

// reach makes current the queued transactions that start at or before offset.
func (t *txnState) reach(offset int64) {
	n := 0
	for ; n < len(t.pending) && t.pending[n].FirstOffset <= offset; n++ {
		a := t.pending[n]
		if t.aborted[a.ProducerID] == nil {
			t.aborted[a.ProducerID] = &abortedTxn{AbortedTxn: a}
		}
	}
	t.pending = t.pending[n:]
}

// onBatch reports whether a data batch belongs to an aborted transaction.
func (t *txnState) onBatch(h *header) bool {
	t.reach(h.LastOffset())
	if h.Attributes&attrTransactional == 0 {
		return false
	}
	if a := t.aborted[h.ProducerID]; a != nil {
		a.observed = true
		return true
	}
	t.committed[h.ProducerID] = true
	return false
}

// onControlBatch reports whether a control batch of type typ may be discarded, its
// transaction having nothing left in the log; an abort marker that stays has its aborted
// transaction added to the cleaned segment's index.
func (t *txnState) onControlBatch(h *header, typ int16) (bool, error) {
	t.reach(h.LastOffset())
	switch typ {
	case controlNone:
		return true, nil
	case controlAbort:
		a := t.aborted[h.ProducerID]
		delete(t.aborted, h.ProducerID)
		if a == nil || !a.observed {
			return true, nil
		}
		if t.out != nil {
			if err := t.out.AddAbortedTxn(a.AbortedTxn); err != nil {
				return false, err
			}
		}
		return false, nil
	case controlCommit:
		had := t.committed[h.ProducerID]
		delete(t.committed, h.ProducerID)
		return !had, nil
	}
	return false, nil
}

// controlType reads the type of a control batch's record (b is the whole batch).
func (c *Cleaner) controlType(b []byte, h *header) (int16, error) {
	if h.NumRecords == 0 {
		return controlNone, nil
	}
	recs, err := c.records(b, h)
	if err != nil {
		return controlOther, err
	}
	typ := controlOther
	err = forEachRecord(recs, 1, func(r *record) error {
		if len(r.key) >= 4 && int16(binary.BigEndian.Uint16(r.key)) >= 0 { // version, then type
			if k := int16(binary.BigEndian.Uint16(r.key[2:])); k == controlAbort || k == controlCommit {
				typ = k
			}
		}
		return nil
	})
	return typ, err
}
