package log

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// spec describes a test batch.
type spec struct {
	n          int     // records (default 1)
	ts         int64   // base timestamp (default 1000)
	tsDeltas   []int64 // per-record timestamp deltas (default i)
	pid        int64   // producer id (default -1 via noPID)
	epoch      int16
	seq        int32
	idem       bool // use pid/epoch/seq; otherwise -1s
	valueSize  int
	codec      int
	appendTime bool // LogAppendTime: every record's timestamp is maxTs
	maxTs      int64
	control    bool
}

// mkBatch builds a v2 record batch with kmsg and a valid CRC-32C.
func mkBatch(t testing.TB, s spec) []byte {
	t.Helper()
	if s.n == 0 {
		s.n = 1
	}
	if s.ts == 0 {
		s.ts = 1000
	}
	var recs []byte
	maxTs := int64(-1 << 62)
	for i := 0; i < s.n; i++ {
		d := int64(i)
		if s.tsDeltas != nil {
			d = s.tsDeltas[i]
		}
		maxTs = max(maxTs, s.ts+d)
		r := kmsg.Record{TimestampDelta64: d, OffsetDelta: int32(i), Value: bytes.Repeat([]byte{byte('a' + i%26)}, s.valueSize)}
		if d == 0 {
			r.TimestampDelta64 = 0
		}
		body := r.AppendTo(nil) // with Length 0: one varint byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	if s.appendTime {
		maxTs = s.maxTs
	}
	recs = compressFor(t, s.codec, recs)
	attrs := int16(s.codec)
	if s.appendTime {
		attrs |= attrLogAppendTime
	}
	if s.control {
		attrs |= attrControl | attrTransactional
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(s.n - 1),
		FirstTimestamp:       s.ts,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(s.n),
		Records:              recs,
	}
	if s.idem {
		b.ProducerID, b.ProducerEpoch, b.FirstSequence = s.pid, s.epoch, s.seq
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func compressFor(t testing.TB, codec int, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case codecNone:
		return b
	case codecGzip:
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case codecSnappy:
		// xerial framing, as the Java client writes it
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		blk := s2.EncodeSnappy(nil, b)
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(blk)))
		buf.Write(l[:])
		buf.Write(blk)
	case codecLZ4:
		w := lz4.NewWriter(&buf)
		_, _ = w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case codecZstd:
		e, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		return e.EncodeAll(b, nil)
	}
	return buf.Bytes()
}

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// clock is an injectable time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func testOpts() Options {
	return Options{Logger: zerolog.Nop()}
}

func openT(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func newLog(t testing.TB, o Options) (*Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openT(t, dir, o)
	t.Cleanup(func() { _ = l.Close() })
	return l, dir
}

func appendT(t testing.TB, l *Log, b []byte, epoch int32) AppendResult {
	t.Helper()
	r, err := l.Append(b, epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return r
}

// batchesIn splits data into batch headers.
func batchesIn(t testing.TB, data []byte) []batchHeader {
	t.Helper()
	var out []batchHeader
	for len(data) > 0 {
		h, ok := splitBatch(data)
		if !ok {
			t.Fatalf("data does not split into whole batches (%d bytes left)", len(data))
		}
		if !validCRC(data[:h.size()]) {
			t.Fatalf("batch at %d has a bad CRC", h.BaseOffset)
		}
		out = append(out, h)
		data = data[h.size():]
	}
	return out
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func readAll(t testing.TB, l *Log) []batchHeader {
	t.Helper()
	var out []batchHeader
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		r, err := l.Read(off, 1<<30, 1<<62, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		hs := batchesIn(t, r.Data)
		if len(hs) == 0 {
			t.Fatalf("Read(%d) returned nothing below log end %d", off, l.LogEndOffset())
		}
		out = append(out, hs...)
		off = hs[len(hs)-1].lastOffset() + 1
	}
	return out
}

// Field positions in the batch header that tests corrupt by hand.
const (
	offBatchLength = 8
	offMagic       = 16
)
