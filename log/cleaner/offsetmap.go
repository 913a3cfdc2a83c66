package cleaner

import (
	"hash/maphash"
	"math/bits"
)

// slotBytes is the memory of one slot of the offset map: a 128-bit key hash and an offset,
// as in Kafka's SkimpyOffsetMap (MD5 there).
const slotBytes = 24

// offsetMap maps keys to the offset of their latest record in the dirty section of a log,
// in a fixed table of slots (open addressing, linear probing) whose memory is bounded by
// log.cleaner.dedupe.buffer.size. Keys are kept as 128-bit hashes (two seeded 64-bit
// hashes), never as bytes, so a key costs 24 bytes whatever its size; two keys share a
// hash with probability about n²/2¹²⁹. Not safe for concurrent use.
type offsetMap struct {
	slots   []slot
	mask    uint64
	used    int
	maxUsed int   // slots allowed to fill: len(slots) * load factor
	latest  int64 // last offset mapped (Kafka's latestOffset), -1 when empty
	seeds   [2]maphash.Seed
}

// slot holds a key hash and offset+1 (0: empty).
type slot struct {
	h1, h2 uint64
	off    int64
}

func newOffsetMap() *offsetMap {
	return &offsetMap{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, latest: -1}
}

// reset empties the map and sizes it for about want keys, within memory bytes (at least one
// slot), at the given load factor.
func (m *offsetMap) reset(want int64, memory int64, loadFactor float64) {
	limit := max(memory/slotBytes, 1)
	n := max(int64(float64(want)/loadFactor)+1, 16)
	n = min(n, limit)
	size := int64(1) << (63 - bits.LeadingZeros64(uint64(n))) // power of two at or below n
	if size < n && size*2 <= limit {
		size *= 2
	}
	if int64(cap(m.slots)) >= size {
		m.slots = m.slots[:size]
		clear(m.slots)
	} else {
		m.slots = make([]slot, size)
	}
	m.mask = uint64(size - 1)
	m.used = 0
	m.maxUsed = max(int(float64(size)*loadFactor), 1)
	m.latest = -1
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)
}

// put records offset as the latest of key. It returns false, changing nothing, when key is
// new and the map holds as many keys as it may.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h1, h2 := m.hash(key)
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.off == 0 {
			if m.used >= m.maxUsed {
				return false
			}
			s.h1, s.h2, s.off = h1, h2, offset+1
			m.used++
			return true
		}
		if s.h1 == h1 && s.h2 == h2 {
			s.off = offset + 1
			return true
		}
	}
}

// get returns the latest offset of key, -1 when the map does not hold it.
func (m *offsetMap) get(key []byte) int64 {
	h1, h2 := m.hash(key)
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.off == 0 {
			return -1
		}
		if s.h1 == h1 && s.h2 == h2 {
			return s.off - 1
		}
	}
}

// utilization is the share of slots in use.
func (m *offsetMap) utilization() float64 {
	if len(m.slots) == 0 {
		return 0
	}
	return float64(m.used) / float64(len(m.slots))
}
