package cleaner

import (
	"context"

	"kbroker/log"
)

// filter rewrites the batches of a group of segments into a cleaned segment (Kafka's
// Cleaner.cleanInto with its RecordFilter and MemoryRecords.filterTo).
type filter struct {
	cfg       Config
	producers map[int64]log.ProducerLast
	nowMs     int64
	st        *Stats
	c         *Cleaner
	txn       *txnState // one for the whole pass, as transactions span groups
}

// cleanGroup cleans the segments of g into one segment and swaps it in for them.
func (f *filter) cleanGroup(ctx context.Context, l *log.Log, g []*log.SealedSegment) error {
	out, err := l.NewCleanedSegment(g[0].BaseOffset)
	if err != nil {
		return err
	}
	f.txn.out = out
	defer func() { f.txn.out = nil }()
	for _, s := range g {
		// Every aborted transaction with batches in the segment, whichever later segment
		// holds its marker and index entry.
		f.txn.add(l.AbortedTxns(s.BaseOffset, s.NextOffset))
		err := s.Batches(0, func(b []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			f.c.throttle.wait(ctx, len(b))
			before := out.Size()
			err := f.batch(b, out)
			f.c.throttle.wait(ctx, int(out.Size()-before))
			return err
		})
		if err != nil {
			out.Abort()
			return err
		}
	}
	f.st.BytesWritten += out.Size()
	return l.ReplaceSegments(out, g)
}

// batchRetention is Kafka's RecordFilter.BatchRetention.
type batchRetention int

const (
	deleteEmpty batchRetention = iota // keep the batch with the records kept, none if none are
	retainEmpty                       // keep at least an empty batch: it holds a producer's state
	deleteBatch                       // drop the batch without looking at its records
)

// batch filters one batch into out.
func (f *filter) batch(b []byte, out *log.CleanedSegment) error {
	h := parseHeader(b)
	f.st.BytesRead += int64(len(b))
	horizon, hasHorizon := h.deleteHorizon()
	// A marker whose transaction has nothing left goes at the first cleaning after its
	// delete horizon, which the first cleaning that finds it so stamps (as tombstones).
	var discardRecords, emptyTxnMarker bool
	if h.control() {
		typ, err := f.c.controlType(b, &h)
		if err != nil {
			return err
		}
		if emptyTxnMarker, err = f.txn.onControlBatch(&h, typ); err != nil {
			return err
		}
		discardRecords = emptyTxnMarker && hasHorizon && horizon <= f.nowMs
	} else {
		discardRecords = f.txn.onBatch(&h)
	}
	retention := deleteEmpty
	switch {
	case h.ProducerID >= 0 && f.lastOfProducer(&h):
		retention = retainEmpty
	case discardRecords:
		retention = deleteBatch
	}
	if retention == deleteBatch {
		f.st.RecordsRead += int64(h.NumRecords)
		return nil
	}

	recs, err := f.c.records(b, &h)
	if err != nil {
		return err
	}
	keptRecs := f.c.keptRecs[:0]
	all, tombstones := true, false
	err = forEachRecord(recs, h.NumRecords, func(r *record) error {
		f.st.RecordsRead++
		if !f.keep(&h, r, discardRecords, hasHorizon, horizon) {
			all = false
			return nil
		}
		tombstones = tombstones || r.tombstone
		keptRecs = append(keptRecs, *r)
		return nil
	})
	f.c.keptRecs = keptRecs
	if err != nil {
		return err
	}
	if len(keptRecs) == 0 {
		if retention == retainEmpty {
			f.c.out = emptyBatch(f.c.out[:0], &h)
			return out.Append(f.c.out)
		}
		return nil
	}
	f.st.RecordsWritten += int64(len(keptRecs))
	// A batch that keeps tombstones, or a marker of a transaction with nothing left, gets a
	// delete horizon the first time it is cleaned: they go at the first cleaning after
	// delete.retention.ms from now (KIP-534).
	needHorizon := (tombstones || emptyTxnMarker) && !hasHorizon
	if all && !needHorizon {
		return out.Append(b)
	}
	// Rebuild the batch from the kept records: the base timestamp is the delete horizon, or
	// else the first kept record's timestamp, and the records' deltas follow it.
	baseTs, maxTs := h.BaseTimestamp+keptRecs[0].tsDelta, int64(noTimestamp)
	for i := range keptRecs {
		maxTs = max(maxTs, h.BaseTimestamp+keptRecs[i].tsDelta)
	}
	if needHorizon {
		horizon, hasHorizon = f.nowMs+f.cfg.DeleteRetentionMs, true
	}
	if hasHorizon {
		baseTs = horizon
	}
	if h.Attributes&attrLogAppendTime != 0 {
		maxTs = h.MaxTimestamp
	}
	f.c.kept = f.c.kept[:0]
	for i := range keptRecs {
		r := &keptRecs[i]
		f.c.kept = appendRecord(f.c.kept, r, h.BaseTimestamp+r.tsDelta-baseTs)
	}
	if f.c.out, err = rebuildBatch(f.c.out[:0], &h, f.c.kept, int32(len(keptRecs)), baseTs, maxTs, hasHorizon); err != nil {
		return err
	}
	return out.Append(f.c.out)
}

// lastOfProducer reports whether the batch carries its producer's state (Kafka's
// isBatchLastRecordOfProducer): the producer's last data batch, or, for a producer whose
// epoch has no data, its last marker of that epoch.
func (f *filter) lastOfProducer(h *header) bool {
	last, ok := f.producers[h.ProducerID]
	if !ok {
		return false
	}
	if last.LastDataOffset >= 0 {
		return h.LastOffset() == last.LastDataOffset
	}
	return h.control() && h.ProducerEpoch == last.Epoch
}

// keep is Kafka's shouldRetainRecord: a record after the offset map's range stays; one
// without a key goes (a compacted topic refuses them, so they come from before the topic was
// compacted); otherwise the latest record of its key stays, a tombstone only until its
// batch's delete horizon.
func (f *filter) keep(h *header, r *record, discardRecords, hasHorizon bool, horizon int64) bool {
	switch {
	case discardRecords:
		return false
	case h.control():
		return true
	}
	off := h.BaseOffset + int64(r.offsetDelta)
	if off > f.c.offsets.latest {
		return true
	}
	if r.key == nil {
		f.st.InvalidRecords++
		return false
	}
	if off < f.c.offsets.get(r.key) {
		return false
	}
	return !r.tombstone || !hasHorizon || f.nowMs < horizon
}
