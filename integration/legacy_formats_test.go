package integration

// Old message formats on the wire, by hand: Produce v0-2 with message sets of magic 0 and 1
// (Kafka's answers, what is stored, bad input) and Fetch v0-3 down-conversion. Message sets
// are encoded here with kmsg.MessageV0/V1 and the standard library, not with the broker's
// protocol package. Stock clients speaking these versions are in compat_legacy_test.go.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// legacyMessage encodes one message of magic 0 or 1 with its size and CRC-32.
func legacyMessage(offset int64, magic, attrs int8, ts int64, key, value []byte) []byte {
	size := int32(4 + 1 + 1 + 4 + len(key) + 4 + len(value))
	if key == nil {
		size -= int32(len(key))
	}
	var out []byte
	if magic == 0 {
		out = (&kmsg.MessageV0{Offset: offset, MessageSize: size, Magic: 0, Attributes: attrs, Key: key, Value: value}).AppendTo(nil)
	} else {
		out = (&kmsg.MessageV1{Offset: offset, MessageSize: size + 8, Magic: 1, Attributes: attrs, Timestamp: ts, Key: key, Value: value}).AppendTo(nil)
	}
	binary.BigEndian.PutUint32(out[12:], crc32.ChecksumIEEE(out[16:]))
	return out
}

// legacyKeyed is a message set of n messages key-i/value-i with offsets 0..n-1 (the inner
// offsets of a wrapper) and timestamps ts0+i.
func legacyKeyed(magic int8, n int, ts0 int64) []byte {
	var set []byte
	for i := 0; i < n; i++ {
		set = append(set, legacyMessage(int64(i), magic, 0, ts0+int64(i), []byte(fmt.Sprintf("key-%d", i)), []byte(fmt.Sprintf("value-%d", i)))...)
	}
	return set
}

// gzipWrapper wraps an inner message set in one gzip-compressed message at offset.
func gzipWrapper(t *testing.T, magic int8, offset, ts int64, inner []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(inner); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return legacyMessage(offset, magic, 1, ts, nil, buf.Bytes())
}

// legacyRec is one message read from a fetched message set.
type legacyRec struct {
	offset     int64
	magic      int8
	attrs      int8 // of the message (inner messages: their own)
	ts         int64
	key, value string
}

// parseMessageSet reads a fetched message set deeply (gzip wrappers only), with absolute
// offsets; a partial message at the end is dropped, as consumers drop it.
func parseMessageSet(t *testing.T, set []byte) []legacyRec {
	t.Helper()
	var out []legacyRec
	for len(set) >= 12 {
		n := 12 + int(int32(binary.BigEndian.Uint32(set[8:])))
		if n > len(set) || n < 26 {
			break
		}
		entry := set[:n]
		set = set[n:]
		if got := crc32.ChecksumIEEE(entry[16:]); got != binary.BigEndian.Uint32(entry[12:]) {
			t.Fatalf("message set: bad CRC on the message at offset %d", int64(binary.BigEndian.Uint64(entry)))
		}
		r := legacyRec{offset: int64(binary.BigEndian.Uint64(entry)), magic: int8(entry[16]), attrs: int8(entry[17]), ts: -1}
		var value []byte
		if r.magic == 0 {
			var m kmsg.MessageV0
			if err := m.ReadFrom(entry); err != nil {
				t.Fatal(err)
			}
			r.key, value = string(m.Key), m.Value
		} else {
			var m kmsg.MessageV1
			if err := m.ReadFrom(entry); err != nil {
				t.Fatal(err)
			}
			r.key, value, r.ts = string(m.Key), m.Value, m.Timestamp
		}
		switch r.attrs & 7 {
		case 0:
			r.value = string(value)
			out = append(out, r)
		case 1:
			zr, err := gzip.NewReader(bytes.NewReader(value))
			if err != nil {
				t.Fatal(err)
			}
			inner, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			msgs := parseMessageSet(t, inner)
			base := int64(0)
			if r.magic == 1 {
				base = r.offset - msgs[len(msgs)-1].offset
			}
			for _, m := range msgs {
				m.offset += base
				out = append(out, m)
			}
		default:
			t.Fatalf("wrapper codec %d in a fetched message set", r.attrs&7)
		}
	}
	return out
}

// fetchV fetches partition 0 of topic at offset with Fetch version v.
func fetchV(t *testing.T, rc *rawConn, topic string, offset int64, maxBytes int32, v int16) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := fetchRequest(topic, 0, offset, 0, 0)
	req.Topics[0].Partitions[0].PartitionMaxBytes = maxBytes
	p, err := fetchPartition(rc.roundTrip(req, v).(*kmsg.FetchResponse))
	if err != nil {
		t.Fatalf("Fetch v%d: %v", v, err)
	}
	return p
}

func TestLegacyFormatsRaw(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	str := func(s string) *string { return &s }
	ts0 := time.Now().Add(-time.Hour).UnixMilli()

	t.Run("produce v0-2 answers and what is stored", func(t *testing.T) {
		createTopic(t, adm, "lf-create", 1, nil)
		createTopic(t, adm, "lf-append", 1, map[string]*string{"message.timestamp.type": str("LogAppendTime")})
		rc := dialRaw(t, b)
		sets := []struct {
			v     int16
			magic int8
			set   []byte
		}{
			{0, 0, legacyKeyed(0, 3, ts0)},
			{1, 0, gzipWrapper(t, 0, 2, -1, legacyKeyed(0, 3, ts0))},
			{2, 1, legacyKeyed(1, 3, ts0)},
			{2, 1, gzipWrapper(t, 1, 2, ts0+2, legacyKeyed(1, 3, ts0))},
			{2, 1, gzipWrapper(t, 1, 0, ts0+2, legacyKeyed(1, 3, ts0))}, // wrapper offset 0: old librdkafka
		}
		for _, topic := range []string{"lf-create", "lf-append"} {
			for i, s := range sets {
				before := time.Now().UnixMilli()
				p := producePartition(t, rc.roundTrip(produceRequest(topic, 0, -1, s.set), s.v))
				after := time.Now().UnixMilli()
				if p.ErrorCode != 0 || p.BaseOffset != int64(3*i) {
					t.Fatalf("%s: Produce v%d set %d: error %d base offset %d, want 0 and %d", topic, s.v, i, p.ErrorCode, p.BaseOffset, 3*i)
				}
				switch {
				case s.v < 2 || topic == "lf-create":
					if p.LogAppendTime != -1 {
						t.Fatalf("%s: Produce v%d: LogAppendTime %d, want -1", topic, s.v, p.LogAppendTime)
					}
				case p.LogAppendTime < before || p.LogAppendTime > after:
					t.Fatalf("%s: Produce v2: LogAppendTime %d outside [%d, %d]", topic, p.LogAppendTime, before, after)
				}
			}
			recs := consumeN(t, b, topic, 1, 3*len(sets), 30*time.Second, 0)
			for i, r := range recs {
				s := sets[i/3]
				j := i % 3
				wantTS := ts0 + int64(j)
				if s.magic == 0 {
					wantTS = -1
				}
				if topic == "lf-append" {
					if r.Attrs.TimestampType() != 1 || r.Timestamp.UnixMilli() < ts0+time.Hour.Milliseconds()-60_000 {
						t.Fatalf("%s offset %d: timestamp type %d at %v, want LogAppendTime of the broker", topic, r.Offset, r.Attrs.TimestampType(), r.Timestamp)
					}
				} else if r.Attrs.TimestampType() != 0 || r.Timestamp.UnixMilli() != wantTS {
					t.Fatalf("%s offset %d: timestamp type %d %d, want CreateTime %d", topic, r.Offset, r.Attrs.TimestampType(), r.Timestamp.UnixMilli(), wantTS)
				}
				if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("key-%d", j) || string(r.Value) != fmt.Sprintf("value-%d", j) {
					t.Fatalf("%s: record %d at offset %d: %q=%q", topic, i, r.Offset, r.Key, r.Value)
				}
			}
		}
	})

	t.Run("produce v0-2 with the topic's compression.type", func(t *testing.T) {
		rc := dialRaw(t, b)
		for _, c := range []struct {
			topic, typ string
			set        []byte
			want       uint8
		}{
			{"lf-gzip", "gzip", legacyKeyed(1, 4, ts0), 1},
			{"lf-producer", "producer", gzipWrapper(t, 1, 3, ts0+3, legacyKeyed(1, 4, ts0)), 1},
			{"lf-uncompressed", "uncompressed", gzipWrapper(t, 1, 3, ts0+3, legacyKeyed(1, 4, ts0)), 0},
			{"lf-zstd", "zstd", legacyKeyed(0, 4, ts0), 4},
		} {
			createTopic(t, adm, c.topic, 1, map[string]*string{"compression.type": str(c.typ)})
			if p := producePartition(t, rc.roundTrip(produceRequest(c.topic, 0, 1, c.set), 2)); p.ErrorCode != 0 {
				t.Fatalf("%s: error %d", c.topic, p.ErrorCode)
			}
			for _, r := range consumeN(t, b, c.topic, 1, 4, 30*time.Second, 0) {
				if got := r.Attrs.CompressionType(); got != c.want {
					t.Fatalf("compression.type=%s: stored with codec %d, want %d", c.typ, got, c.want)
				}
			}
		}
	})

	t.Run("bad input: Kafka's error codes, nothing stored", func(t *testing.T) {
		createTopic(t, adm, "lf-bad", 1, map[string]*string{"max.message.bytes": str("2000")})
		createTopic(t, adm, "lf-bad-lat", 1, map[string]*string{"message.timestamp.type": str("LogAppendTime")})
		createTopic(t, adm, "lf-bad-compact", 1, map[string]*string{"cleanup.policy": str("compact")})
		rc := dialRaw(t, b)
		good := legacyKeyed(1, 3, ts0)
		badCRC := bytes.Clone(good)
		badCRC[30] ^= 0xff
		innerBadCRC := legacyKeyed(1, 3, ts0)
		innerBadCRC[30] ^= 0xff
		lat := legacyMessage(0, 1, 8, ts0, []byte("k"), []byte("v")) // timestamp type LogAppendTime
		cases := []struct {
			name  string
			topic string
			v     int16
			set   []byte
			want  int16
		}{
			{"v1 message set with a wrong CRC", "lf-bad", 2, badCRC, 2},
			{"gzip wrapper whose offset is below its last inner offset", "lf-bad", 2, gzipWrapper(t, 1, 1, ts0, legacyKeyed(1, 3, ts0)), 87},
			{"gzip wrapper holding a message with a wrong CRC", "lf-bad", 2, gzipWrapper(t, 1, 2, ts0, innerBadCRC), 2},
			{"gzip wrapper beside another message", "lf-bad", 2, append(gzipWrapper(t, 1, 2, ts0, good), good...), 87},
			{"wrapper of magic 1 holding magic 0 messages", "lf-bad", 2, gzipWrapper(t, 1, 2, ts0, legacyKeyed(0, 3, ts0)), 87},
			{"magic 0 then magic 1", "lf-bad", 1, append(legacyKeyed(0, 1, ts0), good...), 87},
			{"a message above max.message.bytes", "lf-bad", 2, legacyMessage(0, 1, 0, ts0, nil, make([]byte, 2100)), 10},
			{"a magic 1 set in Produce v3", "lf-bad", 3, good, 87},
			{"LogAppendTime set by the producer", "lf-bad-lat", 2, lat, 32},
			{"no key on a compacted topic", "lf-bad-compact", 2, legacyMessage(0, 1, 0, ts0, nil, []byte("v")), 87},
		}
		for _, c := range cases {
			p := producePartition(t, rc.roundTrip(produceRequest(c.topic, 0, -1, c.set), c.v))
			if p.ErrorCode != c.want {
				t.Errorf("%s: error %d, want %d", c.name, p.ErrorCode, c.want)
			}
		}
		for _, topic := range []string{"lf-bad", "lf-bad-lat", "lf-bad-compact"} {
			if e := endOffsets(t, adm, topic)[0]; e != 0 {
				t.Errorf("%s: end offset %d after refused produces, want 0 (nothing stored)", topic, e)
			}
		}
		// A set without one complete message: success, nothing stored (Kafka's answer).
		p := producePartition(t, rc.roundTrip(produceRequest("lf-bad", 0, -1, good[:20]), 2))
		if p.ErrorCode != 0 || p.BaseOffset != -1 || endOffsets(t, adm, "lf-bad")[0] != 0 {
			t.Errorf("partial message: error %d base offset %d; want 0, -1 and nothing stored", p.ErrorCode, p.BaseOffset)
		}
		// The connection still serves.
		if p := producePartition(t, rc.roundTrip(produceRequest("lf-bad", 0, -1, good), 2)); p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Errorf("good set after the bad ones: error %d base offset %d", p.ErrorCode, p.BaseOffset)
		}
	})

	t.Run("fetch v0-3 down-converts", func(t *testing.T) {
		const topic = "lf-fetch"
		createTopic(t, adm, topic, 1, nil)
		rc := dialRaw(t, b)
		// Offsets 0-3 in one gzip batch, 4-5 in one uncompressed batch, CreateTime ts0+offset.
		for _, set := range [][]byte{gzipWrapper(t, 1, 3, ts0+3, legacyKeyed(1, 4, ts0)), legacyKeyed(1, 2, ts0+4)} {
			if p := producePartition(t, rc.roundTrip(produceRequest(topic, 0, -1, set), 2)); p.ErrorCode != 0 {
				t.Fatalf("produce: error %d", p.ErrorCode)
			}
		}
		// A committed transaction and an aborted one: their markers have no legacy form.
		txn := txnProducer(t, b, "lf-txn", topic, kgo.ProducerBatchCompression(kgo.NoCompression()))
		produceTxn(t, txn, "committed", 2, true)
		produceTxn(t, txn, "aborted", 2, false)
		const end = 12 // 6 records, 2 + a marker, 2 + a marker (written after EndTxn returns)
		eventually(t, 10*time.Second, func() error {
			if e := endOffsets(t, adm, topic)[0]; e != end {
				return fmt.Errorf("end offset %d, want %d", e, end)
			}
			return nil
		})
		for v := int16(0); v <= 3; v++ {
			for from, want := range map[int64]string{0: "[0 1 2 3 4 5 6 7 9 10]", 2: "[0 1 2 3 4 5 6 7 9 10]", 5: "[5 6 7 9 10]"} {
				p := fetchV(t, rc, topic, from, 1<<20, v)
				if p.ErrorCode != 0 || p.HighWatermark != end {
					t.Fatalf("Fetch v%d: error %d hw %d", v, p.ErrorCode, p.HighWatermark)
				}
				recs := parseMessageSet(t, p.RecordBatches)
				var offs []int64
				for _, r := range recs {
					offs = append(offs, r.offset)
					wantMagic, wantTS := int8(0), int64(-1)
					if v >= 2 {
						wantMagic, wantTS = 1, r.ts
						if r.offset < 6 {
							wantTS = ts0 + r.offset
						}
					}
					if r.magic != wantMagic || r.ts != wantTS || r.attrs != 0 {
						t.Fatalf("Fetch v%d offset %d: magic %d attrs %d ts %d, want magic %d ts %d", v, r.offset, r.magic, r.attrs, r.ts, wantMagic, wantTS)
					}
					if r.offset < 4 && (r.key != fmt.Sprintf("key-%d", r.offset) || r.value != fmt.Sprintf("value-%d", r.offset)) {
						t.Fatalf("Fetch v%d offset %d: %s=%s", v, r.offset, r.key, r.value)
					}
				}
				// A compressed batch comes whole, an uncompressed one from the fetch offset;
				// the markers at 8 and 11 are left out; the aborted records are there, as
				// they are for old consumers of Kafka (no isolation level before Fetch v4).
				if got := fmt.Sprint(offs); got != want {
					t.Fatalf("Fetch v%d from %d: offsets %s, want %s", v, from, got, want)
				}
				if !strings.Contains(fmt.Sprint(recs), "aborted-0") {
					t.Fatalf("Fetch v%d: aborted records missing: %v", v, recs)
				}
			}
		}
	})

	t.Run("fetch v0-2 hard limit, v3 first batch whole", func(t *testing.T) {
		const topic = "lf-limit"
		createTopic(t, adm, topic, 1, nil)
		rc := dialRaw(t, b)
		if p := producePartition(t, rc.roundTrip(produceRequest(topic, 0, -1, legacyKeyed(1, 20, ts0)), 2)); p.ErrorCode != 0 {
			t.Fatalf("produce: %d", p.ErrorCode)
		}
		for v := int16(0); v <= 3; v++ {
			p := fetchV(t, rc, topic, 0, 100, v) // the stored batch is larger than 100 bytes
			n := len(parseMessageSet(t, p.RecordBatches))
			if p.ErrorCode != 0 || (v <= 2 && len(p.RecordBatches) != 0) || (v == 3 && n != 20) {
				t.Fatalf("Fetch v%d with a 100-byte limit: error %d, %d bytes, %d messages; want nothing for v0-2, the whole batch for v3", v, p.ErrorCode, len(p.RecordBatches), n)
			}
		}
	})

	t.Run("down-conversion disabled, zstd topics", func(t *testing.T) {
		createTopic(t, adm, "lf-noconv", 1, map[string]*string{"message.downconversion.enable": str("false")})
		createTopic(t, adm, "lf-zstd-topic", 1, map[string]*string{"compression.type": str("zstd")})
		rc := dialRaw(t, b)
		for _, topic := range []string{"lf-noconv", "lf-zstd-topic"} {
			batch := buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte("x")}}, noProducer)
			if p := producePartition(t, rc.roundTrip(produceRequest(topic, 0, -1, batch), 9)); p.ErrorCode != 0 {
				t.Fatalf("%s: produce error %d", topic, p.ErrorCode)
			}
		}
		for v := int16(0); v <= 12; v++ {
			noconv := fetchV(t, rc, "lf-noconv", 0, 1<<20, v)
			zstd := fetchV(t, rc, "lf-zstd-topic", 0, 1<<20, v)
			wantNoconv, wantZstd := int16(0), int16(0)
			if v < 4 {
				wantNoconv = 35 // UNSUPPORTED_VERSION
			}
			if v < 10 {
				wantZstd = 76 // UNSUPPORTED_COMPRESSION_TYPE
			}
			if noconv.ErrorCode != wantNoconv || zstd.ErrorCode != wantZstd {
				t.Errorf("Fetch v%d: message.downconversion.enable=false error %d (want %d), zstd topic error %d (want %d)", v, noconv.ErrorCode, wantNoconv, zstd.ErrorCode, wantZstd)
			}
		}
	})
}
