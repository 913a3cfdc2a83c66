package log

import "fmt"

// headerWalkChunk is the read size while walking batch headers for a read: one read covers
// many small batches, and with large batches each header costs one small read.
const headerWalkChunk = 8 << 10

// Read returns whole batches starting with the batch that contains offset,
// up to maxBytes, never including a batch whose base offset is >= maxOffset
// (the high watermark). When minOneBatch is true the first batch is returned
// even when it is larger than maxBytes (KIP-74). Reads stay within one
// segment, as Kafka's do. offset < LogStartOffset or > LogEndOffset is
// ErrOffsetOutOfRange; offset == LogEndOffset is an empty result.
//
// Read copies the bytes; ReadRegion is the same read without the copy.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	r, err := l.ReadRegion(offset, maxBytes, maxOffset, minOneBatch)
	if err != nil {
		return ReadResult{}, err
	}
	defer r.Release()
	data, err := r.ReadTo(make([]byte, 0, r.Size))
	if err != nil {
		return ReadResult{}, err
	}
	return ReadResult{Data: data, FirstOffset: r.FirstOffset}, nil
}

// ReadRegion is Read answered with the position and size of the batches in their segment
// file instead of their bytes; the caller must Release the region. Only batch headers are
// read: the offset index skips over whole stretches of batches that are known to fit, and
// the headers after the last such index entry are walked.
func (l *Log) ReadRegion(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (Region, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return Region{}, ErrClosed
	}
	if offset < l.logStart || offset > l.logEnd {
		return Region{}, fmt.Errorf("%w: offset %d, log has [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, l.logEnd)
	}
	empty := Region{FirstOffset: offset, NextOffset: offset}
	if offset == l.logEnd {
		return empty, nil
	}
	limit := max(int64(maxBytes), 0)
	for i := l.segmentFor(offset); i < len(l.segs); i++ {
		s := l.segs[i]
		sc, found, err := s.find(offset, headerWalkChunk)
		if err != nil {
			return Region{}, err
		}
		if !found {
			continue
		}
		if sc.h.BaseOffset >= maxOffset {
			return empty, nil
		}
		start, firstOffset := sc.at, sc.h.BaseOffset
		total := sc.h.size()
		if total > limit && !minOneBatch {
			return empty, nil
		}
		// Every batch before an index entry that is within the byte limit and below
		// maxOffset is part of the answer: continue the walk from there.
		if pos, ok := s.idx.lastWithin(start+limit, maxOffset); ok && pos > sc.pos {
			total, sc.pos = pos-start, pos
		}
		next := l.logEnd // where the batches end: the next batch's base, or the segment's end
		if i+1 < len(l.segs) {
			next = l.segs[i+1].base
		}
		for sc.next() {
			if sc.h.BaseOffset >= maxOffset || total+sc.h.size() > limit {
				next = sc.h.BaseOffset
				break
			}
			total += sc.h.size()
		}
		if sc.stop == stopIOError {
			return Region{}, sc.err
		}
		s.log.acquire()
		return Region{File: s.log.File, Pos: start, Size: total, FirstOffset: firstOffset, NextOffset: min(next, maxOffset), ref: s.log}, nil
	}
	return empty, nil
}
