package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/protocol"
)

// topicConfig resolves a topic's configuration from broker overrides and topic overrides.
func topicConfig(t *testing.T, broker []string, topic map[string]string) *config.TopicConfig {
	t.Helper()
	cfg, _, err := config.Load("", append([]string{"log.dirs=" + t.TempDir()}, broker...))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.ResolveTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	return &tc
}

// clientBatch is a batch of n records as a producer sends it: values of 200 bytes, the given
// codec, record timestamps ts, ts+1, ..., producer 4000 epoch 2 from base sequence 10.
func clientBatch(t *testing.T, codec protocol.Codec, n int, ts int64) []byte {
	t.Helper()
	var raw []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: []byte{'k', byte(i)}, Value: bytes.Repeat([]byte{'a' + byte(i%26)}, 200)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
	}
	recs, err := protocol.Compress(codec, raw)
	if err != nil {
		t.Fatal(err)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec), LastOffsetDelta: int32(n - 1),
		FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1), ProducerID: 4000, ProducerEpoch: 2, FirstSequence: 10,
		NumRecords: int32(n), Records: recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], protocol.BatchCRC(out))
	return out
}

// sameRecords fails unless both batches hold the same records, byte for byte, once
// decompressed.
func sameRecords(t *testing.T, got, want []byte) {
	t.Helper()
	raw := func(b []byte) []byte {
		h, err := protocol.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		out, err := protocol.Decompress(h.Codec(), b[protocol.BatchHeaderSize:h.Size()], 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !bytes.Equal(raw(got), raw(want)) {
		t.Fatal("stored records differ from the records sent")
	}
}

func TestProduceBatchCompressionType(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		broker []string
		topic  map[string]string
		src    protocol.Codec
		want   protocol.Codec
	}{
		{name: "producer keeps snappy", src: protocol.CodecSnappy, want: protocol.CodecSnappy},
		{name: "gzip topic, snappy batch", topic: map[string]string{"compression.type": "gzip"}, src: protocol.CodecSnappy, want: protocol.CodecGzip},
		{name: "zstd topic, uncompressed batch", topic: map[string]string{"compression.type": "zstd", "compression.zstd.level": "9"}, src: protocol.CodecNone, want: protocol.CodecZstd},
		{name: "uncompressed topic, zstd batch", topic: map[string]string{"compression.type": "uncompressed"}, src: protocol.CodecZstd, want: protocol.CodecNone},
		{name: "lz4 topic, gzip batch", topic: map[string]string{"compression.type": "lz4", "compression.lz4.level": "1"}, src: protocol.CodecGzip, want: protocol.CodecLZ4},
		{name: "broker default lz4", broker: []string{"compression.type=lz4"}, src: protocol.CodecSnappy, want: protocol.CodecLZ4},
		{name: "topic producer over broker gzip", broker: []string{"compression.type=gzip"}, topic: map[string]string{"compression.type": "producer"}, src: protocol.CodecSnappy, want: protocol.CodecSnappy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := topicConfig(t, tt.broker, tt.topic)
			in := clientBatch(t, tt.src, 20, now.UnixMilli())
			out, n, err := produceBatch(9, in, tc, now)
			if err != nil {
				t.Fatal(err)
			}
			h, err := protocol.ValidateProduceBatch(out, protocol.ValidateOptions{})
			if err != nil {
				t.Fatalf("stored batch does not validate: %v", err)
			}
			if n != 20 || h.Codec() != tt.want || h.ProducerID != 4000 || h.ProducerEpoch != 2 || h.BaseSequence != 10 {
				t.Fatalf("%d records, stored header %+v; want codec %s and the producer's fields", n, h, tt.want)
			}
			if (tt.src == tt.want) != (&out[0] == &in[0]) {
				t.Fatalf("batch rebuilt: %v, want %v", &out[0] != &in[0], tt.src != tt.want)
			}
			sameRecords(t, out, in)
		})
	}
}

func TestProduceBatchZstdVersions(t *testing.T) {
	now := time.Now()
	for _, topicCodec := range []string{"producer", "gzip"} {
		tc := topicConfig(t, nil, map[string]string{"compression.type": topicCodec})
		for v := int16(3); v <= 11; v++ {
			_, _, err := produceBatch(v, clientBatch(t, protocol.CodecZstd, 3, now.UnixMilli()), tc, now)
			if v < 7 && !errors.Is(err, kerr.UnsupportedCompressionType) {
				t.Errorf("%s topic, v%d: %v, want UNSUPPORTED_COMPRESSION_TYPE", topicCodec, v, err)
			}
			if v >= 7 && err != nil {
				t.Errorf("%s topic, v%d: %v", topicCodec, v, err)
			}
		}
	}
	// A zstd topic takes other codecs from every version.
	tc := topicConfig(t, nil, map[string]string{"compression.type": "zstd"})
	if _, _, err := produceBatch(3, clientBatch(t, protocol.CodecGzip, 3, now.UnixMilli()), tc, now); err != nil {
		t.Errorf("gzip batch to a zstd topic, v3: %v", err)
	}
}

func TestProduceBatchTimestampBounds(t *testing.T) {
	now := time.Now()
	ms := now.UnixMilli()
	const hour = int64(time.Hour / time.Millisecond)
	tests := []struct {
		name  string
		topic map[string]string
		first int64 // first record's timestamp; 5 records, 1 ms apart
		ok    bool
	}{
		{name: "defaults: an hour ahead", first: ms + hour, ok: true},
		{name: "defaults: year 1970", first: 1, ok: true},
		{name: "after 60s: an hour ahead", topic: map[string]string{"message.timestamp.after.max.ms": "60000"}, first: ms + hour},
		{name: "after 60s: last record at the edge", topic: map[string]string{"message.timestamp.after.max.ms": "60000"}, first: ms + 60000 - 4, ok: true},
		{name: "after 60s: last record 1ms past", topic: map[string]string{"message.timestamp.after.max.ms": "60000"}, first: ms + 60000 - 3},
		{name: "after 60s: an hour old", topic: map[string]string{"message.timestamp.after.max.ms": "60000"}, first: ms - hour, ok: true},
		{name: "before 60s: at the edge", topic: map[string]string{"message.timestamp.before.max.ms": "60000"}, first: ms - 60000, ok: true},
		{name: "before 60s: 1ms past", topic: map[string]string{"message.timestamp.before.max.ms": "60000"}, first: ms - 60001},
		{name: "deprecated difference: an hour ahead", topic: map[string]string{"message.timestamp.difference.max.ms": "60000"}, first: ms + hour},
		{name: "deprecated difference: an hour old", topic: map[string]string{"message.timestamp.difference.max.ms": "60000"}, first: ms - hour},
		{name: "deprecated difference under a set after", topic: map[string]string{"message.timestamp.difference.max.ms": "60000", "message.timestamp.after.max.ms": "7200000"}, first: ms + hour, ok: true},
		{name: "LogAppendTime checks nothing", topic: map[string]string{"message.timestamp.type": "LogAppendTime", "message.timestamp.after.max.ms": "0"}, first: ms + hour, ok: true},
	}
	for _, tt := range tests {
		for _, codec := range []protocol.Codec{protocol.CodecNone, protocol.CodecSnappy} {
			t.Run(tt.name+"/"+codec.String(), func(t *testing.T) {
				tc := topicConfig(t, nil, tt.topic)
				_, _, err := produceBatch(9, clientBatch(t, codec, 5, tt.first), tc, now)
				if tt.ok {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var re *protocol.RecordsError
				if !errors.Is(err, kerr.InvalidTimestamp) || !errors.As(err, &re) || len(re.Records) == 0 {
					t.Fatalf("err %v, want INVALID_TIMESTAMP with record errors", err)
				}
			})
		}
	}
}

// produceConn is an in-process server with one-partition topics (name -> configs) and a
// connection whose answers are read by the test.
func produceConn(t *testing.T, topics map[string]map[string]string) (*Server, *conn) {
	t.Helper()
	var specs []topicSpec
	for name, configs := range topics {
		specs = append(specs, topicSpec{name: name, partitions: 1, replicationFactor: 1, configs: configs})
	}
	s, c := testServerConn(t, specs)
	t.Cleanup(c.cancel)
	return s, c
}

// produceOnce sends one Produce request of the given version (acks=1) with records for
// topic-0 and returns the partition's answer.
func produceOnce(t *testing.T, c *conn, version int16, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis = 1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = bytes.Clone(records)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, req, 7)
	if err := c.handleFrame(frame[4:]); err != nil {
		t.Fatalf("v%d: %v", version, err)
	}
	var f outFrame
	select {
	case f = <-c.out:
	case <-time.After(30 * time.Second):
		t.Fatalf("v%d: no answer", version)
	}
	defer f.release()
	body := f.head[4+4:] // size, correlation id
	if version >= 9 {
		body = body[1:] // empty tagged fields of the flexible header
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(version)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("v%d answer: %v", version, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("v%d answer: %+v", version, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// storedBatches reads the batches of topic-0's first segment.
func storedBatches(t *testing.T, s *Server, topic string) [][]byte {
	t.Helper()
	p, ok := s.rm.get(topic, 0)
	if !ok {
		t.Fatalf("no partition %s-0", topic)
	}
	data, err := os.ReadFile(filepath.Join(p.log.Dir(), "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(data) > 0 {
		h, err := protocol.ParseBatchHeader(data)
		if err != nil || h.Size() > len(data) {
			t.Fatalf("segment: %v, %d bytes left", err, len(data))
		}
		out = append(out, data[:h.Size()])
		data = data[h.Size():]
	}
	return out
}

// TestProduceRecompressedOnTheWire produces an idempotent snappy batch to an lz4 topic: the
// answer is success, and the segment holds an lz4 batch with a valid CRC, the offsets
// assigned, the producer's id, epoch and sequence, and the same records.
func TestProduceRecompressedOnTheWire(t *testing.T) {
	s, c := produceConn(t, map[string]map[string]string{
		"lz4-topic": {"compression.type": "lz4"},
		"lat-topic": {"compression.type": "gzip", "message.timestamp.type": "LogAppendTime"},
	})
	ts := time.Now().UnixMilli()
	first := clientBatch(t, protocol.CodecSnappy, 10, ts)
	if sp := produceOnce(t, c, 9, "lz4-topic", first); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("first batch: %v at %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
	second := clientBatch(t, protocol.CodecSnappy, 10, ts)
	binary.BigEndian.PutUint32(second[53:], 20) // the next sequence
	binary.BigEndian.PutUint32(second[17:], protocol.BatchCRC(second))
	if sp := produceOnce(t, c, 7, "lz4-topic", second); sp.ErrorCode != 0 || sp.BaseOffset != 10 {
		t.Fatalf("second batch: %v at %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
	// A retry of the second batch is recognised after recompression: the same offset.
	if sp := produceOnce(t, c, 9, "lz4-topic", second); sp.ErrorCode != 0 || sp.BaseOffset != 10 {
		t.Fatalf("retried batch: %v at %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
	stored := storedBatches(t, s, "lz4-topic")
	if len(stored) != 2 {
		t.Fatalf("%d batches stored, want 2", len(stored))
	}
	for i, b := range stored {
		h, _ := protocol.ParseBatchHeader(b)
		if h.Codec() != protocol.CodecLZ4 || h.CRC != protocol.BatchCRC(b) || h.BaseOffset != int64(10*i) ||
			h.ProducerID != 4000 || h.ProducerEpoch != 2 || h.BaseSequence != int32(10+10*i) || h.LogAppendTime() ||
			h.MaxTimestamp != ts+9 || h.BaseTimestamp != ts {
			t.Fatalf("stored batch %d: %+v", i, h)
		}
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil || uint32(kb.CRC) != h.CRC {
			t.Fatalf("stored batch %d: kmsg %v", i, err)
		}
		sameRecords(t, b, first)
	}

	// LogAppendTime on a recompressed batch: stamped on the batch as stored.
	sp := produceOnce(t, c, 9, "lat-topic", clientBatch(t, protocol.CodecNone, 3, 1))
	if sp.ErrorCode != 0 || sp.LogAppendTime < ts {
		t.Fatalf("LogAppendTime topic: %v, log append time %d", kerr.ErrorForCode(sp.ErrorCode), sp.LogAppendTime)
	}
	b := storedBatches(t, s, "lat-topic")[0]
	h, _ := protocol.ParseBatchHeader(b)
	if h.Codec() != protocol.CodecGzip || !h.LogAppendTime() || h.MaxTimestamp != sp.LogAppendTime || h.CRC != protocol.BatchCRC(b) {
		t.Fatalf("LogAppendTime topic, stored %+v", h)
	}
}

// TestProduceInvalidTimestampAnswers checks the answer to a batch with a timestamp an hour
// ahead on a topic with message.timestamp.after.max.ms=60000, per version: INVALID_TIMESTAMP
// everywhere, and from v8 Kafka's message, the record errors and the log start offset.
func TestProduceInvalidTimestampAnswers(t *testing.T) {
	_, c := produceConn(t, map[string]map[string]string{"future": {"message.timestamp.after.max.ms": "60000"}})
	hourAhead := time.Now().Add(time.Hour).UnixMilli()
	for v := int16(3); v <= 11; v++ {
		sp := produceOnce(t, c, v, "future", clientBatch(t, protocol.CodecGzip, 4, hourAhead))
		if sp.ErrorCode != kerr.InvalidTimestamp.Code || sp.BaseOffset != -1 {
			t.Fatalf("v%d: %v at %d, want INVALID_TIMESTAMP", v, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
		}
		if v < 8 {
			if sp.ErrorMessage != nil || len(sp.ErrorRecords) != 0 {
				t.Fatalf("v%d: message or record errors in a version without them", v)
			}
			continue
		}
		if sp.ErrorMessage == nil || *sp.ErrorMessage != "One or more records have been rejected due to invalid timestamp" {
			t.Fatalf("v%d: error message %v", v, sp.ErrorMessage)
		}
		if len(sp.ErrorRecords) != 4 || sp.LogStartOffset != 0 {
			t.Fatalf("v%d: %d record errors, log start offset %d", v, len(sp.ErrorRecords), sp.LogStartOffset)
		}
		for i, r := range sp.ErrorRecords {
			if r.RelativeOffset != int32(i) || r.ErrorMessage == nil || !bytes.Contains([]byte(*r.ErrorMessage), []byte("is out of range")) {
				t.Fatalf("v%d: record error %d: %d %v", v, i, r.RelativeOffset, r.ErrorMessage)
			}
		}
	}
	// Nothing was stored; a batch in range is.
	if sp := produceOnce(t, c, 9, "future", clientBatch(t, protocol.CodecGzip, 4, time.Now().UnixMilli())); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("batch in range: %v at %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
}
