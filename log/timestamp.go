package log

// OffsetForTimestamp returns the first offset (at or after the log start)
// whose record timestamp is >= ts, and that record's timestamp (ListOffsets
// by timestamp); ok is false when no record has such a timestamp. It skips
// segments by their max timestamp, then uses the time index, the offset
// index, batch headers, and finally the records of the one batch found
// (decompressing only that batch).
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, false, ErrClosed
	}
	for i := l.segmentFor(l.logStart); i < len(l.segs); i++ {
		s := l.segs[i]
		if s.size == 0 || s.maxTs < ts {
			continue
		}
		_, tsOff := s.tidx.lookup(ts)
		_, pos := s.idx.lookup(max(tsOff, l.logStart))
		sc := newScanner(s.log, pos, s.size, false)
		for sc.next() {
			h := sc.h
			if h.MaxTimestamp < ts || h.lastOffset() < l.logStart {
				continue
			}
			b, err := sc.window(sc.at, int(h.size()))
			if err != nil {
				return 0, 0, false, err
			}
			found := false
			err = forEachRecord(b, h, func(o, t int64) bool {
				if o >= l.logStart && t >= ts {
					offset, timestamp, found = o, t, true
					return false
				}
				return true
			})
			if err != nil {
				return 0, 0, false, err
			}
			if found {
				return offset, timestamp, true, nil
			}
		}
		if sc.stop == stopIOError {
			return 0, 0, false, sc.err
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the largest record timestamp in the log and the offset
// of the first record that has it (ListOffsets -3, KIP-734); ok is false on
// an empty log.
func (l *Log) MaxTimestamp() (timestamp int64, offset int64, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, false, ErrClosed
	}
	if l.logStart >= l.logEnd {
		return 0, 0, false, nil
	}
	var best *segment
	for _, s := range l.segs {
		if s.size > 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		return 0, 0, false, nil
	}
	_, pos := best.idx.lookup(best.offMaxTs)
	sc := newScanner(best.log, pos, best.size, false)
	for sc.next() {
		h := sc.h
		if h.MaxTimestamp != best.maxTs {
			continue
		}
		b, err := sc.window(sc.at, int(h.size()))
		if err != nil {
			return 0, 0, false, err
		}
		offset = h.lastOffset()
		err = forEachRecord(b, h, func(o, t int64) bool {
			if t == h.MaxTimestamp {
				offset = o
				return false
			}
			return true
		})
		if err != nil {
			return 0, 0, false, err
		}
		return h.MaxTimestamp, offset, true, nil
	}
	if sc.stop == stopIOError {
		return 0, 0, false, sc.err
	}
	return 0, 0, false, nil
}
