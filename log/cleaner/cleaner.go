package cleaner

import (
	"context"
	"errors"
	"math"
	"time"

	"kbroker/log"
	"kbroker/protocol"
)

// Config is a partition's cleaning configuration (its topic's), read at each pass.
type Config struct {
	Compact            bool    // cleanup.policy contains compact: the log is cleaned
	Delete             bool    // cleanup.policy contains delete
	DeleteRetentionMs  int64   // delete.retention.ms: how long tombstones outlive their first cleaning
	MinCompactionLagMs int64   // min.compaction.lag.ms
	MaxCompactionLagMs int64   // max.compaction.lag.ms
	MinCleanableRatio  float64 // min.cleanable.dirty.ratio
	SegmentBytes       int64   // segment.bytes: the most bytes of segments cleaned into one
	MaxIndexBytes      int64   // segment.index.bytes: the same bound on their indexes
}

// Stats describe one cleaning pass of a log.
type Stats struct {
	FirstDirty, End   int64 // the dirty section cleaned: [FirstDirty, End)
	MapBytesRead      int64 // bytes read to build the offset map
	MapRecordsRead    int64
	BytesRead         int64 // bytes of the segments rewritten
	BytesWritten      int64
	RecordsRead       int64
	RecordsWritten    int64
	InvalidRecords    int64 // records without a key, removed
	SegmentsRead      int
	SegmentsWritten   int
	BufferUtilization float64       // share of the offset map's slots used
	MapDuration       time.Duration // building the offset map
	Duration          time.Duration // the whole pass
}

// errMapFull stops building the offset map when it holds as many keys as it may.
var errMapFull = errors.New("cleaner: offset map full")

// maxRecordsBytes bounds the decompressed records of one batch.
const maxRecordsBytes = protocol.DefaultMaxUncompressedBytes

// Cleaner compacts one log at a time: it owns an offset map, whose memory is bounded by
// the share of log.cleaner.dedupe.buffer.size it is given, and its buffers. Each cleaner
// thread has one; a Cleaner is not safe for concurrent use.
type Cleaner struct {
	memory     int64
	loadFactor float64
	throttle   *throttle // shared by a manager's threads; nil: no limit
	offsets    *offsetMap
	recs       []byte   // decompressed records of the current batch
	keptRecs   []record // records kept from the current batch
	kept       []byte   // keptRecs encoded
	out        []byte   // a rebuilt batch
}

// NewCleaner returns a cleaner whose offset map uses at most memory bytes, filled to at
// most loadFactor (log.cleaner.io.buffer.load.factor).
func NewCleaner(memory int64, loadFactor float64) *Cleaner {
	if loadFactor <= 0 || loadFactor > 1 {
		loadFactor = 0.9
	}
	return &Cleaner{memory: memory, loadFactor: loadFactor, offsets: newOffsetMap()}
}

// Clean compacts l (Kafka's Cleaner.doClean). It maps the latest offset of every key in the
// dirty section [firstDirty, upTo), as far as the offset map holds them, then rewrites every
// segment below the end of what was mapped, group by group (groupBySize), keeping of each
// record only what the offset map, the tombstone rules and the producers' state ask for
// (keep). upTo is the base offset of a sealed segment or of the active one: the active
// segment is never cleaned. The returned Stats.End is the new first dirty offset.
func (c *Cleaner) Clean(ctx context.Context, l *log.Log, cfg Config, firstDirty, upTo int64, now time.Time) (Stats, error) {
	start := time.Now()
	st := Stats{FirstDirty: firstDirty, End: firstDirty}
	segs, err := l.SealedSegments(upTo)
	if err != nil {
		return st, err
	}
	defer func() {
		for _, s := range segs {
			s.Release()
		}
	}()
	// The batches of aborted transactions put no key in the map.
	txn := newTxnState()
	txn.add(l.AbortedTxns(firstDirty, upTo))
	c.offsets.reset(upTo-firstDirty, c.memory, c.loadFactor)
	for _, s := range segs {
		if s.NextOffset <= firstDirty {
			continue
		}
		full, err := c.mapSegment(ctx, s, firstDirty, txn, &st)
		if err != nil {
			return st, err
		}
		if full {
			break
		}
		c.offsets.latest = s.NextOffset - 1 // over a gap at the end of the segment
	}
	st.MapDuration = time.Since(start)
	st.BufferUtilization = c.offsets.utilization()
	end := c.offsets.latest + 1
	if end <= firstDirty {
		return st, nil
	}
	st.End = end
	var cleanable []*log.SealedSegment
	for _, s := range segs {
		if s.BaseOffset < end {
			cleanable = append(cleanable, s)
		}
	}
	producers := l.ActiveProducers()
	f := filter{cfg: cfg, producers: producers, nowMs: now.UnixMilli(), st: &st, c: c, txn: newTxnState()}
	for _, g := range groupBySize(cleanable, cfg.SegmentBytes, cfg.MaxIndexBytes, upTo) {
		if err := f.cleanGroup(ctx, l, g); err != nil {
			return st, err
		}
		st.SegmentsRead += len(g)
		st.SegmentsWritten++
	}
	st.Duration = time.Since(start)
	return st, nil
}

// mapSegment adds the keys of one segment's batches at or after from to the offset map
// (Kafka's buildOffsetMapForSegment) and reports whether the map filled up.
func (c *Cleaner) mapSegment(ctx context.Context, s *log.SealedSegment, from int64, txn *txnState, st *Stats) (bool, error) {
	err := s.Batches(from, func(b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := parseHeader(b)
		st.MapBytesRead += int64(len(b))
		c.throttle.wait(ctx, len(b))
		switch {
		case h.control():
			typ, err := c.controlType(b, &h)
			if err != nil {
				return err
			}
			if _, err := txn.onControlBatch(&h, typ); err != nil {
				return err
			}
			st.MapRecordsRead++
		case txn.onBatch(&h):
			st.MapRecordsRead += int64(h.NumRecords) // an aborted transaction's batch
		default:
			recs, err := c.records(b, &h)
			if err != nil {
				return err
			}
			err = forEachRecord(recs, h.NumRecords, func(r *record) error {
				if off := h.BaseOffset + int64(r.offsetDelta); r.key != nil && off >= from {
					if !c.offsets.put(r.key, off) {
						return errMapFull
					}
				}
				st.MapRecordsRead++
				return nil
			})
			if err != nil {
				return err
			}
		}
		if last := h.LastOffset(); last >= from {
			c.offsets.latest = last
		}
		return nil
	})
	if errors.Is(err, errMapFull) {
		return true, nil
	}
	return false, err
}

// records returns the records section of batch b, decompressed.
func (c *Cleaner) records(b []byte, h *header) ([]byte, error) {
	data := b[protocol.BatchHeaderSize:]
	if h.codec() == protocol.CodecNone {
		return data, nil
	}
	recs, err := protocol.DecompressAppend(c.recs[:0], h.codec(), data, maxRecordsBytes)
	c.recs = recs
	if err != nil {
		return nil, errors.Join(log.ErrCorruptBatch, err)
	}
	return recs, nil
}

func parseHeader(b []byte) header {
	h, _ := protocol.ParseBatchHeader(b) // the log checked the batch
	return header{h}
}

// groupBySize splits segments into consecutive groups that are each cleaned into one
// segment (Kafka's groupSegmentsBySize): a group's logs add up to at most maxSize bytes,
// its offset and time indexes each to at most maxIndexSize, and its offsets stay within
// 2^31-1 of its base so that the relative offsets of the cleaned segment's index fit.
func groupBySize(segs []*log.SealedSegment, maxSize, maxIndexSize, firstUncleanable int64) [][]*log.SealedSegment {
	var groups [][]*log.SealedSegment
	for len(segs) > 0 {
		g := segs[:1]
		size, idx, tidx := segs[0].Size, segs[0].IndexBytes, segs[0].TimeIndexBytes
		rest := segs[1:]
		for len(rest) > 0 {
			next := rest[0]
			last := firstUncleanable - 1
			if len(rest) > 1 {
				last = next.NextOffset - 1
			}
			if size+next.Size > maxSize || idx+next.IndexBytes > maxIndexSize || tidx+next.TimeIndexBytes > maxIndexSize ||
				(next.Size > 0 && last-g[0].BaseOffset > math.MaxInt32) {
				break
			}
			size, idx, tidx = size+next.Size, idx+next.IndexBytes, tidx+next.TimeIndexBytes
			g = segs[:len(g)+1]
			rest = rest[1:]
		}
		groups = append(groups, g)
		segs = rest
	}
	return groups
}
