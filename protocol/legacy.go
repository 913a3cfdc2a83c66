package protocol

// Message sets of magic 0 and 1: the formats of Kafka before 0.11 (Kafka's
// LegacyRecord and AbstractLegacyRecordBatch). A message set is a run of
// entries with no count in front; each entry, all integers big-endian:
//
//	offset  size  field
//	     0     8  offset (absolute; in a compressed magic 1 wrapper's inner
//	              set, relative: 0, 1, ... with the wrapper at the last one)
//	     8     4  messageSize (bytes after this field)
//	    12     4  crc (CRC-32 IEEE of bytes 16..end)
//	    16     1  magic (0 or 1)
//	    17     1  attributes: bits 0-2 codec, bit 3 timestamp type
//	              (magic 1: 1 = LogAppendTime)
//	    18     8  timestamp (magic 1 only)
//	     …     4  key length (-1 = null) and key
//	     …     4  value length (-1 = null) and value
//
// A compressed message (codec != 0) is a wrapper: its key is null and its
// value is a whole message set, compressed, whose messages are uncompressed.
// The fields are decoded with kmsg.MessageV0 and kmsg.MessageV1.

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sizes of the legacy formats (Kafka's LegacyRecord constants).
const (
	legacyLogOverhead = 12 // offset + messageSize
	// legacyMinSize is RECORD_OVERHEAD_V0: crc, magic, attributes and the
	// two length fields, the smallest messageSize a message can have.
	legacyMinSize = 14
	// legacyHeaderV0 and legacyHeaderV1 are the bytes of a message before its
	// key length, log overhead included.
	legacyHeaderV0 = legacyLogOverhead + 4 + 1 + 1
	legacyHeaderV1 = legacyHeaderV0 + 8

	legacyAttrLogAppendTime = 0x08
	offLegacyCRC            = 12
	offLegacyMagic          = 16
)

// legacyMessage is one message of a message set, its key and value aliasing
// the set.
type legacyMessage struct {
	offset    int64
	magic     int8
	attrs     int8
	timestamp int64 // -1 (no timestamp) for magic 0
	key       []byte
	value     []byte
	raw       []byte // the whole entry, log overhead included
}

func (m *legacyMessage) codec() Codec { return Codec(m.attrs & attrCodecMask) }

// logAppendTime reports the LogAppendTime timestamp type (magic 1 only).
func (m *legacyMessage) logAppendTime() bool {
	return m.magic == 1 && m.attrs&legacyAttrLogAppendTime != 0
}

// crcOK checks the message's CRC-32 against its bytes.
func (m *legacyMessage) crcOK() bool {
	return binary.BigEndian.Uint32(m.raw[offLegacyCRC:]) == crc32.ChecksumIEEE(m.raw[offLegacyMagic:])
}

// nextEntrySize reads the size of the entry at the start of b, as Kafka's
// ByteBufferLogInputStream does: 0 when b does not hold a complete entry (the
// end of the set: a partial entry is not an error), a messageSize below the
// minimum or a magic outside 0..2 is CORRUPT_MESSAGE. The size counts the
// log overhead.
func nextEntrySize(b []byte) (int, error) {
	if len(b) < legacyLogOverhead {
		return 0, nil
	}
	size := int32(binary.BigEndian.Uint32(b[8:]))
	if size < legacyMinSize {
		return 0, batchErr(kerr.CorruptMessage, "message size %d below the minimum of %d", size, legacyMinSize)
	}
	if len(b) <= offLegacyMagic {
		return 0, nil
	}
	if magic := int8(b[offLegacyMagic]); magic < 0 || magic > 2 {
		return 0, batchErr(kerr.CorruptMessage, "invalid magic %d", magic)
	}
	total := int64(size) + legacyLogOverhead
	if total > int64(len(b)) {
		return 0, nil
	}
	return int(total), nil
}

// parseLegacyMessage decodes one complete entry (as nextEntrySize delimits it)
// of magic 0 or 1. Lengths that do not fit the entry are CORRUPT_MESSAGE.
// Bytes after the value are ignored, as Kafka ignores them.
func parseLegacyMessage(entry []byte) (legacyMessage, error) {
	m := legacyMessage{raw: entry, magic: int8(entry[offLegacyMagic]), timestamp: -1}
	switch m.magic {
	case 0:
		var v kmsg.MessageV0
		if err := v.ReadFrom(entry); err != nil {
			return m, batchErr(kerr.CorruptMessage, "magic 0 message of %d bytes: key and value lengths do not fit", len(entry))
		}
		m.offset, m.attrs, m.key, m.value = v.Offset, v.Attributes, v.Key, v.Value
	case 1:
		var v kmsg.MessageV1
		if err := v.ReadFrom(entry); err != nil {
			return m, batchErr(kerr.CorruptMessage, "magic 1 message of %d bytes: key and value lengths do not fit", len(entry))
		}
		m.offset, m.attrs, m.timestamp, m.key, m.value = v.Offset, v.Attributes, v.Timestamp, v.Key, v.Value
	default:
		return m, batchErr(kerr.CorruptMessage, "magic %d in a message set", m.magic)
	}
	return m, nil
}

// appendLegacyMessage appends one uncompressed or wrapper message of magic 0
// or 1 with its size and CRC, encoded by kmsg.
func appendLegacyMessage(dst []byte, offset int64, magic, attrs int8, timestamp int64, key, value []byte) []byte {
	start := len(dst)
	size := int32(legacyHeaderV0-legacyLogOverhead) + 8 + int32(len(key)) + int32(len(value))
	if magic == 0 {
		dst = (&kmsg.MessageV0{Offset: offset, MessageSize: size, Magic: 0, Attributes: attrs, Key: key, Value: value}).AppendTo(dst)
	} else {
		size += 8
		dst = (&kmsg.MessageV1{Offset: offset, MessageSize: size, Magic: 1, Attributes: attrs, Timestamp: timestamp, Key: key, Value: value}).AppendTo(dst)
	}
	binary.BigEndian.PutUint32(dst[start+offLegacyCRC:], crc32.ChecksumIEEE(dst[start+offLegacyMagic:]))
	return dst
}
