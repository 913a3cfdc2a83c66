package log

import (
	"hash/crc32"
	"math"

	"kbroker/protocol"
)

// Sizes of the record batch v2 header (see doc.go); protocol parses and rewrites its fields.
const (
	batchHeaderSize  = protocol.BatchHeaderSize
	batchLogOverhead = 12 // baseOffset + batchLength

	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20

	// maxBatchSize bounds a batch length read from disk; anything larger is
	// treated as corruption.
	maxBatchSize = math.MaxInt32 - batchLogOverhead
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the decoded fixed part of a record batch.
type batchHeader struct {
	BaseOffset      int64
	Length          int32 // batchLength: bytes after the length field
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// size is the batch's total size in bytes.
func (h *batchHeader) size() int64 { return int64(h.Length) + batchLogOverhead }

// lastOffset is the offset of the batch's last record.
func (h *batchHeader) lastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// lastSequence is the sequence of the batch's last record (wrapping at MaxInt32).
func (h *batchHeader) lastSequence() int32 {
	return incrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

func (h *batchHeader) codec() int          { return int(h.Attributes & attrCodecMask) }
func (h *batchHeader) logAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }
func (h *batchHeader) isControl() bool     { return h.Attributes&attrControl != 0 }

// incrementSequence adds n to seq, wrapping from MaxInt32 to 0 as Kafka does.
func incrementSequence(seq, n int32) int32 {
	if seq < 0 || n < 0 {
		return seq
	}
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// parseBatchHeader decodes the fixed header from b (at least 61 bytes).
func parseBatchHeader(b []byte) batchHeader {
	h, _ := protocol.ParseBatchHeader(b) // callers check the length
	return batchHeader{
		BaseOffset:      h.BaseOffset,
		Length:          h.Length,
		LeaderEpoch:     h.PartitionLeaderEpoch,
		Magic:           h.Magic,
		CRC:             h.CRC,
		Attributes:      h.Attributes,
		LastOffsetDelta: h.LastOffsetDelta,
		BaseTimestamp:   h.BaseTimestamp,
		MaxTimestamp:    h.MaxTimestamp,
		ProducerID:      h.ProducerID,
		ProducerEpoch:   h.ProducerEpoch,
		BaseSequence:    h.BaseSequence,
		RecordCount:     h.NumRecords,
	}
}

// plausible reports whether a header read from a file is plausible: magic
// 2, a length that covers the header, a non-negative offset delta.
func (h *batchHeader) plausible() bool {
	return h.Magic == 2 &&
		h.Length >= batchHeaderSize-batchLogOverhead &&
		int64(h.Length) <= maxBatchSize &&
		h.LastOffsetDelta >= 0 &&
		h.BaseOffset >= 0
}

// validCRC checks the CRC-32C of a whole batch.
func validCRC(batch []byte) bool {
	if len(batch) < batchHeaderSize {
		return false
	}
	return protocol.BatchCRC(batch) == parseBatchHeader(batch).CRC
}

// splitBatch checks that b starts with one whole, plausible batch and returns
// its header. It does not check the CRC.
func splitBatch(b []byte) (batchHeader, bool) {
	if len(b) < batchHeaderSize {
		return batchHeader{}, false
	}
	h := parseBatchHeader(b)
	if !h.plausible() || h.size() > int64(len(b)) {
		return batchHeader{}, false
	}
	return h, true
}

func setBaseOffset(b []byte, off int64) { protocol.SetBaseOffset(b, off) }

func setLeaderEpoch(b []byte, epoch int32) { protocol.SetPartitionLeaderEpoch(b, epoch) }
