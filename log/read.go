package log

import "fmt"

// Read returns whole batches starting with the batch that contains offset,
// up to maxBytes, never including a batch whose base offset is >= maxOffset
// (the high watermark). When minOneBatch is true the first batch is returned
// even when it is larger than maxBytes (KIP-74). Reads stay within one
// segment, as Kafka's do. offset < LogStartOffset or > LogEndOffset is
// ErrOffsetOutOfRange; offset == LogEndOffset is an empty result.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ReadResult{}, ErrClosed
	}
	if offset < l.logStart || offset > l.logEnd {
		return ReadResult{}, fmt.Errorf("%w: offset %d, log has [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, l.logEnd)
	}
	empty := ReadResult{FirstOffset: offset}
	if offset == l.logEnd {
		return empty, nil
	}
	chunk := int(min(max(int64(maxBytes), 0)+int64(l.opts.IndexIntervalBytes)+batchHeaderSize, maxScanChunk))
	for i := l.segmentFor(offset); i < len(l.segs); i++ {
		s := l.segs[i]
		sc, found, err := s.find(offset, chunk)
		if err != nil {
			return ReadResult{}, err
		}
		if !found {
			continue
		}
		if sc.h.BaseOffset >= maxOffset {
			return empty, nil
		}
		start, firstOffset := sc.at, sc.h.BaseOffset
		total := sc.h.size()
		if total > int64(maxBytes) && !minOneBatch {
			return empty, nil
		}
		for sc.next() {
			if sc.h.BaseOffset >= maxOffset || total+sc.h.size() > int64(maxBytes) {
				break
			}
			total += sc.h.size()
		}
		if sc.stop == stopIOError {
			return ReadResult{}, sc.err
		}
		data, err := sc.window(start, int(total))
		if err != nil {
			return ReadResult{}, err
		}
		return ReadResult{Data: data[:total:total], FirstOffset: firstOffset}, nil
	}
	return empty, nil
}
