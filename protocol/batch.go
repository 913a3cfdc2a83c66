package protocol

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
)

// BatchHeaderSize is the size of a magic-2 record batch header, records
// excluded.
const BatchHeaderSize = 61

// Byte offsets of the batch header fields.
const (
	offBaseOffset      = 0
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
	offNumRecords      = 57

	// logOverhead is baseOffset + batchLength: the bytes not counted by
	// batchLength.
	logOverhead = 12
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a magic-2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseBatchHeader decodes the header at the start of b. It needs
// BatchHeaderSize bytes and checks nothing else (not the magic, not the CRC):
// ValidateProduceBatch does that. A short input wraps kerr.CorruptMessage.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, batchErr(kerr.CorruptMessage, "batch header needs %d bytes, have %d", BatchHeaderSize, len(b))
	}
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

// Codec returns the compression codec of the batch (attribute bits 0-2).
func (h BatchHeader) Codec() Codec { return Codec(h.Attributes & attrCodecMask) }

// LogAppendTime reports whether the timestamp type is LogAppendTime
// (attribute bit 3).
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// Transactional reports whether the batch is part of a transaction
// (attribute bit 4).
func (h BatchHeader) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds control records such as
// transaction markers (attribute bit 5).
func (h BatchHeader) Control() bool { return h.Attributes&attrControl != 0 }

// Size returns the full size of the batch on the wire: Length + 12.
func (h BatchHeader) Size() int { return int(h.Length) + logOverhead }

// LastOffset returns the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// SetBaseOffset rewrites the base offset of the batch in place. The base
// offset is outside the CRC, which stays valid. A batch shorter than its
// header is left untouched.
func SetBaseOffset(batch []byte, offset int64) {
	if len(batch) < BatchHeaderSize {
		return
	}
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch in place. The
// epoch is outside the CRC, which stays valid. A batch shorter than its
// header is left untouched.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	if len(batch) < BatchHeaderSize {
		return
	}
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch's timestamp type as LogAppendTime, sets
// maxTimestamp to ts and recomputes the CRC (consumers check it). Record
// timestamps are left as they are: with LogAppendTime readers use
// maxTimestamp for every record. A batch shorter than its header is left
// untouched.
func SetLogAppendTime(batch []byte, ts int64) {
	if len(batch) < BatchHeaderSize {
		return
	}
	be := binary.BigEndian
	attrs := be.Uint16(batch[offAttributes:])
	be.PutUint16(batch[offAttributes:], attrs|attrLogAppendTime)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], BatchCRC(batch))
}

// BatchCRC computes the CRC-32C (Castagnoli) of the batch from the
// attributes to the end, as stored in the header's crc field. The batch is
// taken to end at len(batch) (or at its declared size when shorter); it
// returns 0 for a batch shorter than its header.
func BatchCRC(batch []byte) uint32 {
	if len(batch) < BatchHeaderSize {
		return 0
	}
	end := len(batch)
	if size := int64(int32(binary.BigEndian.Uint32(batch[offLength:]))) + logOverhead; size >= BatchHeaderSize && size < int64(end) {
		end = int(size)
	}
	return crc32.Checksum(batch[offAttributes:end], castagnoli)
}

// batchError carries the Kafka error code of a batch problem with a message.
type batchError struct {
	code *kerr.Error
	msg  string
}

func (e *batchError) Error() string { return e.code.Message + ": " + e.msg }
func (e *batchError) Unwrap() error { return e.code }

func batchErr(code *kerr.Error, format string, args ...any) error {
	return &batchError{code: code, msg: fmt.Sprintf(format, args...)}
}
