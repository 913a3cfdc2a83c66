package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
	"kbroker/protocol"
)

// storedRegion writes batches one after the other, with consecutive base offsets from 0, to
// a file and returns them as a region.
func storedRegion(t *testing.T, batches ...[]byte) log.Region {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	next := int64(0)
	size := int64(0)
	for _, b := range batches {
		b = bytes.Clone(b)
		h, err := protocol.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		protocol.SetBaseOffset(b, next)
		next += int64(h.LastOffsetDelta) + 1
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		size += int64(len(b))
	}
	return log.Region{File: f, Size: size, NextOffset: next}
}

// codecBatch is rawBatch(n, size) compressed with codec.
func codecBatch(t *testing.T, codec protocol.Codec, n, size int) []byte {
	t.Helper()
	raw := rawBatch(n, size)
	recs, err := protocol.Compress(codec, raw[protocol.BatchHeaderSize:])
	if err != nil {
		t.Fatal(err)
	}
	out := append(raw[:protocol.BatchHeaderSize:protocol.BatchHeaderSize], recs...)
	binary.BigEndian.PutUint16(out[21:], uint16(codec))
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], protocol.BatchCRC(out))
	return out
}

// legacyMessages walks a down-converted record set: the offsets of its complete messages
// (a wrapper counts once, at its offset), and whether it ends with a partial message.
func legacyMessages(t *testing.T, set []byte, magic int8) (offsets []int64, partial bool) {
	t.Helper()
	for len(set) > 0 {
		if len(set) < 12 {
			return offsets, true
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(set[8:])))
		if n > len(set) {
			return offsets, true
		}
		var off int64
		var crc int32
		if magic == 0 {
			var m kmsg.MessageV0
			if err := m.ReadFrom(set[:n]); err != nil || m.Magic != 0 {
				t.Fatalf("message %d: %v (magic %d)", len(offsets), err, m.Magic)
			}
			off, crc = m.Offset, m.CRC
		} else {
			var m kmsg.MessageV1
			if err := m.ReadFrom(set[:n]); err != nil || m.Magic != 1 {
				t.Fatalf("message %d: %v (magic %d)", len(offsets), err, m.Magic)
			}
			off, crc = m.Offset, m.CRC
		}
		if uint32(crc) != crc32.ChecksumIEEE(set[16:n]) {
			t.Fatalf("message at offset %d: bad crc", off)
		}
		offsets = append(offsets, off)
		set = set[n:]
	}
	return offsets, false
}

func convertAll(t *testing.T, r log.Region, magic int8, first int64) (*downConversion, []byte) {
	t.Helper()
	c, err := newDownConversion(r, magic, first)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != c.size {
		t.Fatalf("wrote %d bytes, announced %d", buf.Len(), c.size)
	}
	return c, buf.Bytes()
}

// A large read is converted chunk by chunk: the announced size is the stored one (the
// conversion is larger, and is cut short), every message before the cut is there once, in
// order, and the buffers never grow past a chunk.
func TestDownConversionChunks(t *testing.T) {
	var batches [][]byte
	for range 300 {
		batches = append(batches, rawBatch(20, 100)) // ~2.3 KB a batch, 680 KB in all
	}
	r := storedRegion(t, batches...)
	for _, magic := range []int8{0, 1} {
		c, out := convertAll(t, r, magic, 0)
		if c.size != r.Size {
			t.Fatalf("magic %d: size %d, want the stored %d", magic, c.size, r.Size)
		}
		offs, partial := legacyMessages(t, out, magic)
		if !partial || len(offs) < 1000 {
			t.Fatalf("magic %d: %d messages, partial end %v; want many, cut short", magic, len(offs), partial)
		}
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("magic %d: message %d at offset %d", magic, i, o)
			}
		}
		if cap(c.src) > 2*downConvertChunk || cap(c.out) > 2*downConvertChunk {
			t.Fatalf("magic %d: buffers of %d and %d bytes for a %d-byte chunk", magic, cap(c.src), cap(c.out), downConvertChunk)
		}
	}
}

// Converted data that fits is sent whole; a fetch offset inside an uncompressed batch leaves
// the records before it out; a single batch that grows on conversion is announced at its
// converted size.
func TestDownConversionSmall(t *testing.T) {
	r := storedRegion(t, rawBatch(50, 1), codecBatch(t, protocol.CodecGzip, 10, 50))
	c, out := convertAll(t, r, 1, 7)
	if c.size <= r.Size {
		t.Fatalf("size %d, stored %d: the conversion of tiny records is larger", c.size, r.Size)
	}
	offs, partial := legacyMessages(t, out, 1)
	// The first batch alone was announced; its 43 records from offset 7, then the cut.
	if len(offs) < 43 || offs[0] != 7 {
		t.Fatalf("offsets %v (partial %v)", offs, partial)
	}
	one := storedRegion(t, rawBatch(50, 1))
	c, out = convertAll(t, one, 0, 0)
	if offs, partial := legacyMessages(t, out, 0); len(offs) != 50 || partial || c.size != int64(len(out)) {
		t.Fatalf("one batch: %d messages, partial %v", len(offs), partial)
	}
}

func TestDownConversionControlAndZstd(t *testing.T) {
	marker := log.MarkerBatch(log.Marker{ProducerID: 5, ProducerEpoch: 0, Commit: true, Timestamp: time.Now().UnixMilli()})
	// Only control batches: a 12-byte overflow entry, as Kafka sends.
	_, out := convertAll(t, storedRegion(t, marker, marker), 1, 0)
	if h := protocol.OverflowHeader(12); !bytes.Equal(out, h[:]) {
		t.Fatalf("control batches only: % x, want the overflow entry", out)
	}
	// A marker first: skipped, the data after it sent once.
	_, out = convertAll(t, storedRegion(t, marker, rawBatch(3, 10), marker, rawBatch(3, 10)), 1, 0)
	if offs, _ := legacyMessages(t, out, 1); len(offs) != 6 || offs[0] != 1 || offs[3] != 5 {
		t.Fatalf("offsets %v, want 1-3 and 5-7", offs)
	}
	zstd := codecBatch(t, protocol.CodecZstd, 5, 20)
	if _, err := newDownConversion(storedRegion(t, zstd, rawBatch(2, 1)), 1, 0); !errors.Is(err, kerr.UnsupportedCompressionType) {
		t.Fatalf("zstd first: %v, want UNSUPPORTED_COMPRESSION_TYPE", err)
	}
	// zstd after convertible data: the set ends with the overflow entry there.
	c, out := convertAll(t, storedRegion(t, rawBatch(4, 10), zstd, rawBatch(4, 10)), 1, 0)
	offs, partial := legacyMessages(t, out, 1)
	if len(offs) != 4 || !partial || c.size != c.region.Size {
		t.Fatalf("zstd second: offsets %v partial %v", offs, partial)
	}
}

// TestDownConvertedFetchOnTheWire splices a Fetch v2 response with a converted record set and
// writes it through the connection writer: kmsg decodes it, and the record set holds the
// converted messages.
func TestDownConvertedFetchOnTheWire(t *testing.T) {
	var batches [][]byte
	for range 100 {
		batches = append(batches, codecBatch(t, protocol.CodecSnappy, 20, 200))
	}
	r := storedRegion(t, batches...)
	for _, v := range []int16{0, 2, 3} {
		c, err := newDownConversion(r, protocol.FetchMagic(v), 0)
		if err != nil {
			t.Fatal(err)
		}
		var f fetchRegions
		resp := kmsg.NewPtrFetchResponse()
		topic := kmsg.NewFetchResponseTopic()
		topic.Topic = "t"
		sp := kmsg.NewFetchResponseTopicPartition()
		f.addConverted(&sp, c)
		topic.Partitions = append(topic.Partitions, sp)
		resp.Topics = append(resp.Topics, topic)
		resp.SetVersion(v)
		head, regions, err := spliceRegions(protocol.AppendResponse(nil, 7, resp), false, &f)
		if err != nil {
			t.Fatal(err)
		}
		server, client := tcpPair(t)
		w := &frameWriter{nc: server, bw: bufio.NewWriterSize(server, 64<<10)}
		frame := outFrame{head: head, regions: regions}
		done := make(chan error, 1)
		go func() { done <- w.write(&frame, true); frame.release() }()
		got := readFetchFrame(t, client, v)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		set := got.Topics[0].Partitions[0].RecordBatches
		offs, _ := legacyMessages(t, set, protocol.FetchMagic(v))
		if int64(len(set)) != r.Size || len(offs) < 50 || offs[0] != 19 {
			t.Fatalf("v%d: %d bytes, wrappers at %v; want %d bytes of wrappers from offset 19", v, len(set), offs[:min(len(offs), 3)], r.Size)
		}
	}
}
