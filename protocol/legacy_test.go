package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const legacyTS = 1_600_000_000_000

// Golden messages, their CRCs computed by Python's zlib.crc32.
func TestLegacyMessageGolden(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"magic 1 key k value v", appendLegacyMessage(nil, 0, 1, 0, legacyTS, []byte("k"), []byte("v")),
			"0000000000000000000000185eaf63dc010000000174876e8000000000016b0000000176"},
		{"magic 0 null key", appendLegacyMessage(nil, 7, 0, 0, -1, nil, []byte("hello")),
			"00000000000000070000001387a77ab20000ffffffff0000000568656c6c6f"},
	}
	for _, c := range cases {
		if h := hex.EncodeToString(c.got); h != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, h, c.want)
		}
		m, err := parseLegacyMessage(c.got)
		if err != nil || !m.crcOK() {
			t.Errorf("%s: parse %v, crc ok %v", c.name, err, m.crcOK())
		}
	}
}

func TestXXH32Short(t *testing.T) {
	// Reference values of XXH32 with seed 0.
	for in, want := range map[string]uint32{"": 0x02cc5d05, "a": 0x550d7456, "abc": 0x32d153ff} {
		if got := xxh32Short([]byte(in)); got != want {
			t.Errorf("xxh32(%q) = %08x, want %08x", in, got, want)
		}
	}
}

func TestKafkaLZ4Framing(t *testing.T) {
	src := bytes.Repeat([]byte("lz4 framing as Kafka writes it "), 5000) // > 64 KiB: several blocks
	for _, magic := range []int8{0, 1, 2} {
		for range 2 { // the second round reuses a pooled writer
			frame, err := appendKafkaCompressed([]byte("x"), Compression{Codec: CodecLZ4}, magic, src)
			if err != nil {
				t.Fatal(err)
			}
			frame = frame[1:]
			if !bytes.Equal(frame[:4], lz4FrameMagic) || frame[4] != 0x60 || frame[5] != 0x40 {
				t.Fatalf("magic %d: frame header % x, want magic, FLG 60 (independent blocks, no checksums), BD 40 (64 KiB)", magic, frame[:6])
			}
			right := byte(xxh32Short(frame[4:6]) >> 8)
			broken := byte(xxh32Short(frame[:6]) >> 8)
			wantHC := right
			if magic == 0 {
				wantHC = broken
			}
			if frame[6] != wantHC {
				t.Fatalf("magic %d: HC %02x, want %02x", magic, frame[6], wantHC)
			}
			// The library checks the header checksum: a right one decodes, the broken one only through unlz4Legacy.
			_, err = Decompress(CodecLZ4, frame, 0)
			if (err == nil) != (magic != 0) {
				t.Fatalf("magic %d: library decode error %v", magic, err)
			}
			out, err := unlz4Legacy(nil, frame, 0)
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("magic %d: legacy decode: %v", magic, err)
			}
			if end := frame[len(frame)-4:]; le32(end) != 0 {
				t.Fatalf("magic %d: frame does not end with an end mark (no content checksum): % x", magic, end)
			}
		}
	}
	// A frame with a content size in its descriptor, HC broken the magic-0 way.
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(lz4.SizeOption(uint64(len(src)))); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	if frame[4]&0x08 == 0 {
		t.Fatal("no content size in the test frame")
	}
	if frame[14] != byte(xxh32Short(frame[4:14])>>8) {
		t.Fatalf("HC of a 10-byte descriptor: library wrote %02x, xxh32Short gives %02x", frame[14], byte(xxh32Short(frame[4:14])>>8))
	}
	frame[14] = byte(xxh32Short(frame[:14]) >> 8)
	if out, err := unlz4Legacy(nil, frame, 0); err != nil || !bytes.Equal(out, src) {
		t.Fatalf("content-size frame with a broken HC: %v", err)
	}
}

func TestKafkaCompressRoundTrip(t *testing.T) {
	src := bytes.Repeat([]byte("some records that compress "), 4000)
	for _, c := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		for _, level := range []int{0, 1, 9} {
			out, err := appendKafkaCompressed(nil, Compression{Codec: c, Level: level}, 2, src)
			if err != nil {
				t.Fatalf("%s level %d: %v", c, level, err)
			}
			if c == CodecSnappy && !bytes.HasPrefix(out, xerialMagic) {
				t.Fatalf("snappy is not xerial-framed")
			}
			back, err := Decompress(c, out, 0)
			if err != nil || !bytes.Equal(back, src) {
				t.Fatalf("%s level %d: round trip: %v", c, level, err)
			}
		}
	}
}

// checkBatch validates a converted batch and returns its header and records.
func checkBatch(t *testing.T, batch []byte) (BatchHeader, []kmsg.Record) {
	t.Helper()
	h, err := ValidateProduceBatch(batch, ValidateOptions{MaxBatchBytes: 1 << 30})
	if err != nil {
		t.Fatalf("converted batch does not validate: %v", err)
	}
	if h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.Transactional() || h.LogAppendTime() {
		t.Fatalf("converted batch header %+v", h)
	}
	var recs []kmsg.Record
	err = ForEachRecord(batch, 0, func(r RecordView) bool {
		recs = append(recs, kmsg.Record{OffsetDelta: r.OffsetDelta, TimestampDelta64: r.TimestampDelta,
			Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, recs
}

var anyTime = LegacyOptions{TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64, NowMs: legacyTS, Compression: Compression{Codec: CodecProducer}}

func TestConvertMessageSet(t *testing.T) {
	msgs := testLegacyMsgs(7, legacyTS)
	tests := []struct {
		name      string
		set       []byte
		magic     int8
		target    Codec
		wantCodec Codec
	}{
		{"v0 uncompressed", legacySet(0, msgs), 0, CodecProducer, CodecNone},
		{"v1 uncompressed", legacySet(1, msgs), 1, CodecProducer, CodecNone},
		{"v0 gzip", legacyWrapper(t, 0, CodecGzip, 6, -1, msgs), 0, CodecProducer, CodecGzip},
		{"v0 snappy", legacyWrapper(t, 0, CodecSnappy, 6, -1, msgs), 0, CodecProducer, CodecSnappy},
		{"v0 lz4 (broken header checksum)", legacyWrapper(t, 0, CodecLZ4, 6, -1, msgs), 0, CodecProducer, CodecLZ4},
		{"v1 gzip", legacyWrapper(t, 1, CodecGzip, 6, legacyTS+6, msgs), 1, CodecProducer, CodecGzip},
		{"v1 snappy", legacyWrapper(t, 1, CodecSnappy, 6, legacyTS+6, msgs), 1, CodecProducer, CodecSnappy},
		{"v1 lz4", legacyWrapper(t, 1, CodecLZ4, 6, legacyTS+6, msgs), 1, CodecProducer, CodecLZ4},
		{"v1 gzip wrapper offset 0 (old librdkafka)", legacyWrapper(t, 1, CodecGzip, 0, legacyTS+6, msgs), 1, CodecProducer, CodecGzip},
		{"v1 gzip inner offsets not from 0 (rewritten)", legacyWrapper(t, 1, CodecGzip, 100, legacyTS+6, func() []legacyMsg {
			m := testLegacyMsgs(7, legacyTS)
			for i := range m {
				m[i].offset = int64(10 + 3*i)
			}
			return m
		}()), 1, CodecProducer, CodecGzip},
		{"v1 uncompressed to topic gzip", legacySet(1, msgs), 1, CodecGzip, CodecGzip},
		{"v1 snappy to topic uncompressed", legacyWrapper(t, 1, CodecSnappy, 6, legacyTS+6, msgs), 1, CodecNone, CodecNone},
		{"v0 lz4 to topic zstd", legacyWrapper(t, 0, CodecLZ4, 6, -1, msgs), 0, CodecZstd, CodecZstd},
		{"v1 raw snappy wrapper", func() []byte {
			value := appendSnappyRaw(legacySet(1, msgs))
			return appendLegacyMessage(nil, 6, 1, int8(CodecSnappy), legacyTS, nil, value)
		}(), 1, CodecProducer, CodecSnappy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := anyTime
			opts.Compression.Codec = tt.target
			batch, res, err := ConvertMessageSet(tt.set, opts)
			if err != nil {
				t.Fatal(err)
			}
			h, recs := checkBatch(t, batch)
			if h.Codec() != tt.wantCodec || res.Magic != tt.magic || res.Records != int32(len(msgs)) {
				t.Fatalf("codec %s magic %d records %d, want %s %d %d", h.Codec(), res.Magic, res.Records, tt.wantCodec, tt.magic, len(msgs))
			}
			wantBase, wantMax := int64(legacyTS), int64(legacyTS+6)
			if tt.magic == 0 {
				wantBase, wantMax = -1, -1
			}
			if h.BaseTimestamp != wantBase || h.MaxTimestamp != wantMax || res.MaxTimestamp != wantMax {
				t.Fatalf("timestamps base %d max %d, want %d %d", h.BaseTimestamp, h.MaxTimestamp, wantBase, wantMax)
			}
			for i, r := range recs {
				ts := h.BaseTimestamp + r.TimestampDelta64
				wantTS := msgs[i].timestamp
				if tt.magic == 0 {
					wantTS = -1
				}
				if r.OffsetDelta != int32(i) || ts != wantTS || !bytes.Equal(r.Key, msgs[i].key) || (r.Key == nil) != (msgs[i].key == nil) || !bytes.Equal(r.Value, msgs[i].value) {
					t.Fatalf("record %d: %+v ts %d, want %+v", i, r, ts, msgs[i])
				}
			}
		})
	}
}

// appendSnappyRaw compresses src as one raw snappy block (Sarama's way).
func appendSnappyRaw(src []byte) []byte {
	out, err := Compress(CodecSnappy, src)
	if err != nil {
		panic(err)
	}
	return out
}

func TestConvertMessageSetLogAppendTimeWrapper(t *testing.T) {
	// A magic 1 wrapper of the LogAppendTime type: its timestamp stands for
	// its messages'. A CreateTime topic checks it as a CreateTime; a
	// LogAppendTime topic refuses it.
	msgs := testLegacyMsgs(3, legacyTS)
	set := legacyWrapper(t, 1, CodecGzip, 2, legacyTS+100, msgs)
	set[17] |= legacyAttrLogAppendTime
	binary.BigEndian.PutUint32(set[12:], crcIEEE(set[16:]))
	batch, _, err := ConvertMessageSet(set, anyTime)
	if err != nil {
		t.Fatal(err)
	}
	h, recs := checkBatch(t, batch)
	for _, r := range recs {
		if ts := h.BaseTimestamp + r.TimestampDelta64; ts != legacyTS+100 {
			t.Fatalf("record timestamp %d, want the wrapper's %d", ts, legacyTS+100)
		}
	}
	lat := anyTime
	lat.LogAppendTime = true
	if _, _, err := ConvertMessageSet(set, lat); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("LogAppendTime wrapper on a LogAppendTime topic: %v, want INVALID_TIMESTAMP", err)
	}
	// On a LogAppendTime topic, CreateTime messages are taken as they are.
	if _, _, err := ConvertMessageSet(legacySet(1, msgs), lat); err != nil {
		t.Fatal(err)
	}
}

func crcIEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func TestConvertMessageSetPartialAndEmpty(t *testing.T) {
	for _, set := range [][]byte{nil, {}, make([]byte, 11), legacySet(1, testLegacyMsgs(1, legacyTS))[:20]} {
		batch, _, err := ConvertMessageSet(set, anyTime)
		if batch != nil || err != nil {
			t.Fatalf("set of %d bytes without a complete message: batch %d bytes, err %v; want nothing and no error", len(set), len(batch), err)
		}
	}
	full := legacySet(1, testLegacyMsgs(3, legacyTS))
	trailing := append(bytes.Clone(full), full[:30]...)
	batch, res, err := ConvertMessageSet(trailing, anyTime)
	if err != nil || res.Records != 3 {
		t.Fatalf("partial trailing message: %v, %d records; want it dropped and 3 records", err, res.Records)
	}
	checkBatch(t, batch)
}

func TestConvertMessageSetErrors(t *testing.T) {
	msgs := testLegacyMsgs(4, legacyTS)
	flip := func(b []byte, at int) []byte { b = bytes.Clone(b); b[at] ^= 0xff; return b }
	resign := func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], crcIEEE(b[16:])); return b }
	wrapperWith := func(magic int8, inner []byte) []byte {
		v, err := appendKafkaCompressed(nil, Compression{Codec: CodecGzip}, magic, inner)
		if err != nil {
			t.Fatal(err)
		}
		return appendLegacyMessage(nil, 3, magic, int8(CodecGzip), legacyTS, nil, v)
	}
	goodV1 := legacySet(1, msgs)
	v2 := func() []byte {
		b, _, err := ConvertMessageSet(goodV1, anyTime)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	tests := []struct {
		name string
		set  []byte
		opts func(*LegacyOptions)
		want *kerr.Error
	}{
		{"crc mismatch", flip(goodV1, 40), nil, kerr.CorruptMessage},
		{"crc mismatch in the second message", flip(goodV1, len(legacySet(1, msgs[:1]))+30), nil, kerr.CorruptMessage},
		{"size below 14", func() []byte { b := bytes.Clone(goodV1); binary.BigEndian.PutUint32(b[8:], 13); return b }(), nil, kerr.CorruptMessage},
		{"magic 3", resign(func() []byte { b := legacySet(1, msgs[:1]); b[16] = 3; return b }()), nil, kerr.CorruptMessage},
		{"unknown codec 6", resign(func() []byte { b := legacySet(1, msgs[:1]); b[17] = 6; return b }()), nil, kerr.CorruptMessage},
		{"message above max.message.bytes", goodV1, func(o *LegacyOptions) { o.MaxMessageBytes = 40 }, kerr.MessageTooLarge},
		{"converted batch above max.message.bytes", legacySet(0, testLegacyMsgs(40, 0)), func(o *LegacyOptions) { o.MaxMessageBytes = 200 }, kerr.MessageTooLarge},
		{"magic 0 then magic 1", append(legacySet(0, msgs[:2]), legacySet(1, msgs[2:])...), nil, kerr.InvalidRecord},
		{"magic 1 then a magic 2 batch", append(legacySet(1, msgs[:2]), v2...), nil, kerr.InvalidRecord},
		{"wrapper then a message", append(legacyWrapper(t, 1, CodecGzip, 3, legacyTS, msgs), legacySet(1, msgs[:1])...), nil, kerr.InvalidRecord},
		{"wrapper offset below its last inner offset", legacyWrapper(t, 1, CodecGzip, 2, legacyTS, msgs), nil, kerr.InvalidRecord},
		{"zstd wrapper", func() []byte {
			v, _ := appendKafkaCompressed(nil, Compression{Codec: CodecZstd}, 2, legacySet(1, msgs))
			return appendLegacyMessage(nil, 3, 1, int8(CodecZstd), legacyTS, nil, v)
		}(), nil, kerr.InvalidRecord},
		{"wrapper with a null value", appendLegacyMessage(nil, 0, 1, int8(CodecGzip), legacyTS, nil, nil), nil, kerr.InvalidRecord},
		{"wrapper with no inner message", wrapperWith(1, nil), nil, kerr.InvalidRecord},
		{"inner message compressed", wrapperWith(1, legacyWrapper(t, 1, CodecGzip, 0, legacyTS, msgs[:1])), nil, kerr.InvalidRecord},
		{"inner magic differs from the wrapper's", wrapperWith(1, legacySet(0, msgs)), nil, kerr.InvalidRecord},
		{"inner crc mismatch", wrapperWith(1, flip(legacySet(1, msgs), 30)), nil, kerr.CorruptMessage},
		{"inner size below 14", wrapperWith(1, func() []byte { b := legacySet(1, msgs); binary.BigEndian.PutUint32(b[8:], 5); return b }()), nil, kerr.CorruptMessage},
		{"wrapper not decompressable", resign(func() []byte {
			b := legacyWrapper(t, 1, CodecGzip, 3, legacyTS, msgs)
			b[len(b)-6] ^= 0xff // the gzip trailer's CRC
			return b
		}()), nil, kerr.CorruptMessage},
		{"decompressed above the cap", legacyWrapper(t, 1, CodecGzip, 3, legacyTS, msgs), func(o *LegacyOptions) { o.MaxUncompressedBytes = 50 }, kerr.CorruptMessage},
		{"no key on a compacted topic", goodV1, func(o *LegacyOptions) { o.RequireKeys = true }, kerr.InvalidRecord},
		{"timestamp too old", goodV1, func(o *LegacyOptions) { o.NowMs, o.TimestampBeforeMaxMs = legacyTS+1000, 10 }, kerr.InvalidTimestamp},
		{"timestamp too new", goodV1, func(o *LegacyOptions) { o.NowMs, o.TimestampAfterMaxMs = legacyTS-1000, 10 }, kerr.InvalidTimestamp},
		{"LogAppendTime type set by the producer", resign(func() []byte { b := legacySet(1, msgs[:1]); b[17] = legacyAttrLogAppendTime; return b }()), func(o *LegacyOptions) { o.LogAppendTime = true }, kerr.InvalidTimestamp},
		{"negative timestamp", legacySet(1, []legacyMsg{{timestamp: -5, value: []byte("x")}}), nil, kerr.InvalidTimestamp},
		{"key missing and timestamp bad: timestamp wins", func() []byte {
			w := []legacyMsg{{timestamp: legacyTS, value: []byte("no key")}, {timestamp: 1, key: []byte("k"), value: []byte("old")}}
			return legacyWrapper(t, 1, CodecGzip, 1, legacyTS, w)
		}(), func(o *LegacyOptions) { o.RequireKeys, o.TimestampBeforeMaxMs = true, 1000 }, kerr.InvalidTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := anyTime
			if tt.opts != nil {
				tt.opts(&opts)
			}
			batch, _, err := ConvertMessageSet(tt.set, opts)
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want.Message)
			}
			if batch != nil {
				t.Fatalf("a batch came back with the error")
			}
		})
	}
}

func TestMessageSetMagic(t *testing.T) {
	if m := MessageSetMagic(legacySet(1, testLegacyMsgs(1, 0))); m != 1 {
		t.Fatalf("magic %d", m)
	}
	if m := MessageSetMagic(make([]byte, 16)); m != -1 {
		t.Fatalf("short records: magic %d, want -1", m)
	}
}

// Message sets captured from real clients producing through a proxy (Produce v0-2 records
// of one partition, five messages key-i/value-i with CreateTime 1700000000000+i where the
// format has timestamps): librdkafka 2.16 with broker.version.fallback 0.8.2 and 0.9.0
// (magic 0), Sarama 1.61 with Version 0.10.0 (magic 1, wrappers at offset 0).
func TestRealClientMessageSets(t *testing.T) {
	sets := loadSeeds(t, "messagesets")
	seen := 0
	for name, set := range sets {
		client, codecName, ok := strings.Cut(strings.TrimPrefix(name, "valid-"), "-0.")
		if !ok || (client != "librdkafka" && client != "sarama") {
			continue
		}
		seen++
		codecName = codecName[strings.LastIndex(codecName, "-")+1:]
		t.Run(name, func(t *testing.T) {
			magic := int8(0)
			if client == "sarama" {
				magic = 1
			}
			batch, res, err := ConvertMessageSet(set, anyTime)
			if err != nil {
				t.Fatal(err)
			}
			h, recs := checkBatch(t, batch)
			if res.Magic != magic || h.Codec().String() != codecName {
				t.Fatalf("magic %d codec %s, want %d %s", res.Magic, h.Codec(), magic, codecName)
			}
			first := -1
			for i, r := range recs {
				var n int
				if _, err := fmt.Sscanf(string(r.Key), "key-%d", &n); err != nil || string(r.Value) != fmt.Sprintf("value-%d", n) {
					t.Fatalf("record %d: %q=%q", i, r.Key, r.Value)
				}
				if first < 0 {
					first = n
				}
				wantTS := int64(-1)
				if magic == 1 {
					wantTS = 1_700_000_000_000 + int64(n)
				}
				if n != first+i || h.BaseTimestamp+r.TimestampDelta64 != wantTS {
					t.Fatalf("record %d: key-%d timestamp %d, want key-%d %d", i, n, h.BaseTimestamp+r.TimestampDelta64, first+i, wantTS)
				}
			}
			if client == "librdkafka" && codecName == "lz4" {
				// librdkafka computes the magic-0 LZ4 header checksum over the magic bytes
				// too, as old Kafka clients did.
				m, err := parseLegacyMessage(set)
				if err != nil {
					t.Fatal(err)
				}
				if m.value[6] != byte(xxh32Short(m.value[:6])>>8) || m.value[6] == byte(xxh32Short(m.value[4:6])>>8) {
					t.Fatalf("the captured frame's header checksum %02x is not the magic-0 one", m.value[6])
				}
			}
		})
	}
	if seen != 12 {
		t.Fatalf("%d captured message sets in %s/messagesets, want 12", seen, corpusRoot)
	}
}

// TestLegacyGolden pins the bytes of both conversions of a captured Sarama message set:
// the magic-2 batch stored for it, and that batch served to a Fetch v2 as magic 1
// (regenerate with -update after a deliberate change).
func TestLegacyGolden(t *testing.T) {
	set := loadSeeds(t, "messagesets")["valid-sarama-0.10.0-none"]
	batch, _, err := ConvertMessageSet(set, anyTime)
	if err != nil {
		t.Fatal(err)
	}
	SetBaseOffset(batch, 100)
	back, err := AppendDownConverted(nil, batch, 1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"sarama-0.10.0-none.v2.bin": batch, "sarama-0.10.0-none.v1.bin": back} {
		path := filepath.Join(corpusRoot, "legacy-golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./protocol -run TestLegacyGolden -args -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden bytes:\n got %x\nwant %x", name, got, want)
		}
	}
	// The magic 1 messages are Sarama's, but at the offsets the log gave them (Sarama sends 0).
	for i, m := range readLegacy(t, back) {
		orig, _ := parseLegacyMessage(set[i*46:])
		if m.offset != 100+int64(i) || m.timestamp != orig.timestamp || !bytes.Equal(m.key, orig.key) || !bytes.Equal(m.value, orig.value) {
			t.Fatalf("message %d: %+v, produced %+v", i, m, orig)
		}
	}
}
