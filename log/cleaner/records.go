package cleaner

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"

	"kbroker/log"
	"kbroker/protocol"
)

// Record batch v2 header: field positions (see log/doc.go) and attribute bits.
const (
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
	// attrDeleteHorizon (KIP-534): the base timestamp is the time after which the batch's
	// tombstones and transaction markers may be removed.
	attrDeleteHorizon = 0x40

	noTimestamp = -1
)

// record is one record of a batch, aliasing the batch (or its decompressed records).
type record struct {
	raw         []byte // the whole record: length varint and body
	tsDelta     int64
	offsetDelta int32
	key         []byte // nil: no key
	tombstone   bool   // null value
	tail        []byte // key, value and headers as stored, to re-encode the record
}

// forEachRecord walks count records of data (uncompressed), calling fn for each.
func forEachRecord(data []byte, count int32, fn func(r *record) error) error {
	var r record
	for i := int32(0); i < count; i++ {
		length, n := kbin.Varint(data)
		if n <= 0 || length < 1 || int(length) > len(data)-n {
			return fmt.Errorf("%w: bad record length", log.ErrCorruptBatch)
		}
		r.raw = data[:n+int(length)]
		body := data[n : n+int(length)]
		data = data[n+int(length):]
		body = body[1:] // attributes
		if r.tsDelta, n = kbin.Varlong(body); n <= 0 {
			return fmt.Errorf("%w: bad record timestamp delta", log.ErrCorruptBatch)
		}
		body = body[n:]
		if r.offsetDelta, n = kbin.Varint(body); n <= 0 {
			return fmt.Errorf("%w: bad record offset delta", log.ErrCorruptBatch)
		}
		body = body[n:]
		r.tail = body
		klen, n := kbin.Varint(body)
		if n <= 0 || klen < -1 || int(klen) > len(body)-n {
			return fmt.Errorf("%w: bad record key", log.ErrCorruptBatch)
		}
		r.key = nil
		if klen >= 0 {
			r.key = body[n : n+int(klen)]
			body = body[n+int(klen):]
		} else {
			body = body[n:]
		}
		vlen, n := kbin.Varint(body)
		if n <= 0 || vlen < -1 {
			return fmt.Errorf("%w: bad record value", log.ErrCorruptBatch)
		}
		r.tombstone = vlen == -1
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// appendRecord appends r to dst with timestamp delta tsDelta: the stored bytes when the delta
// is unchanged, otherwise the record re-encoded.
func appendRecord(dst []byte, r *record, tsDelta int64) []byte {
	if tsDelta == r.tsDelta {
		return append(dst, r.raw...)
	}
	var body [1 + binary.MaxVarintLen64 + binary.MaxVarintLen32]byte
	b := append(body[:0], 0) // attributes
	b = binary.AppendVarint(b, tsDelta)
	b = binary.AppendVarint(b, int64(r.offsetDelta))
	dst = binary.AppendVarint(dst, int64(len(b)+len(r.tail)))
	dst = append(dst, b...)
	return append(dst, r.tail...)
}

// header is the decoded header of a batch, with what the cleaner asks of it.
type header struct {
	protocol.BatchHeader
}

func (h *header) control() bool         { return h.Attributes&attrControl != 0 }
func (h *header) codec() protocol.Codec { return protocol.Codec(h.Attributes & attrCodecMask) }

// deleteHorizon returns the batch's delete horizon, if it has one.
func (h *header) deleteHorizon() (int64, bool) {
	if h.Attributes&attrDeleteHorizon != 0 {
		return h.BaseTimestamp, true
	}
	return 0, false
}

// putHeader writes a v2 batch header into b[:protocol.BatchHeaderSize] for a batch of len(b)
// bytes and computes its CRC.
func putHeader(b []byte, h *header, attrs int16, baseTs, maxTs int64, count int32) {
	be := binary.BigEndian
	be.PutUint64(b, uint64(h.BaseOffset))
	be.PutUint32(b[offLength:], uint32(len(b)-12))
	be.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(attrs))
	be.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[offBaseTimestamp:], uint64(baseTs))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	be.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[offRecordCount:], uint32(count))
	be.PutUint32(b[offCRC:], protocol.BatchCRC(b))
}

// emptyBatch is Kafka's DefaultRecordBatch.writeEmptyHeader: a batch without records that
// keeps h's offsets, producer id, epoch and sequences (and so the producer's state), its
// leader epoch, timestamp type, transactional and control flags and max timestamp.
func emptyBatch(dst []byte, h *header) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, protocol.BatchHeaderSize)...)
	attrs := h.Attributes & (attrLogAppendTime | attrTransactional | attrControl)
	putHeader(dst[at:], h, attrs, noTimestamp, h.MaxTimestamp, 0)
	return dst
}

// rebuildBatch appends a batch holding count of h's records (records: their encoded bytes,
// uncompressed), compressed with h's codec, with base timestamp baseTs and max timestamp
// maxTs; with horizon set the base timestamp is the delete horizon (KIP-534). The offsets,
// producer fields and leader epoch are h's: the last offset stays that of the original
// batch, so the producer's last sequence survives.
func rebuildBatch(dst []byte, h *header, records []byte, count int32, baseTs, maxTs int64, horizon bool) ([]byte, error) {
	body := records
	if c := h.codec(); c != protocol.CodecNone {
		var err error
		if body, err = protocol.Compress(c, records); err != nil {
			return dst, err
		}
	}
	at := len(dst)
	dst = append(dst, make([]byte, protocol.BatchHeaderSize)...)
	dst = append(dst, body...)
	attrs := h.Attributes &^ attrDeleteHorizon
	if horizon {
		attrs |= attrDeleteHorizon
	}
	putHeader(dst[at:], h, attrs, baseTs, maxTs, count)
	return dst, nil
}
