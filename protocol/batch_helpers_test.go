package protocol

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const testBaseTimestamp = 1_700_000_000_000

// testRecords returns n records with offset deltas 0..n-1, some with keys,
// null values and headers.
func testRecords(n int) []kmsg.Record {
	recs := make([]kmsg.Record, n)
	for i := range recs {
		r := kmsg.Record{
			TimestampDelta64: int64(i * 3),
			OffsetDelta:      int32(i),
			Value:            fmt.Appendf(nil, "value-%d-%s", i, "some text that compresses well, some text that compresses well"),
		}
		if i%2 == 0 {
			r.Key = fmt.Appendf(nil, "key-%d", i)
		}
		if i%3 == 1 {
			r.Value = nil
		}
		if i%4 == 3 {
			r.Headers = []kmsg.Header{{Key: "h1", Value: []byte("v1")}, {Key: "h2"}}
		}
		recs[i] = r
	}
	return recs
}

// appendRecords encodes records with their Length fields set.
func appendRecords(dst []byte, recs []kmsg.Record) []byte {
	for _, r := range recs {
		r.Length = 0
		body := r.AppendTo(nil)[1:] // drop the one-byte varint 0
		r.Length = int32(len(body))
		dst = r.AppendTo(dst)
	}
	return dst
}

// batchSpec describes a batch to build.
type batchSpec struct {
	codec  Codec
	xerial bool // snappy framed the Java way
	// raw replaces the encoded records (before compression) when not nil.
	raw []byte
	// numRecords overrides the record count when not nil.
	records []kmsg.Record
	// edit changes the batch struct before the length and CRC are computed.
	edit func(*kmsg.RecordBatch)
}

// buildBatch builds a complete batch with a correct length and CRC.
func buildBatch(tb testing.TB, s batchSpec) []byte {
	tb.Helper()
	recs := s.records
	if recs == nil {
		recs = testRecords(5)
	}
	raw := s.raw
	if raw == nil {
		raw = appendRecords(nil, recs)
	}
	var data []byte
	switch {
	case s.codec == CodecSnappy && s.xerial:
		data = appendXerial(nil, raw, 64)
	case s.codec > CodecZstd:
		data = raw
	default:
		var err error
		if data, err = Compress(s.codec, raw); err != nil {
			tb.Fatal(err)
		}
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(s.codec),
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       testBaseTimestamp,
		MaxTimestamp:         testBaseTimestamp + int64(3*(len(recs)-1)),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              data,
	}
	if s.edit != nil {
		s.edit(&b)
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// fixCRC recomputes the CRC after a test edited the bytes.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
