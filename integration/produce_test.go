package integration

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// producedAt is where the broker said a record was written.
type producedAt struct {
	partition int32
	offset    int64
	err       error
}

func TestProduceConsume100k(t *testing.T) {
	t.Parallel()
	const (
		topic = "hundred-k"
		parts = 6
		n     = 100_000
	)
	b := startBroker(t)
	createTopic(t, newAdmin(t, b), topic, parts, nil)

	// kgo defaults: idempotent, acks=all, snappy.
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 90*time.Second)
	key := func(i int) string { return fmt.Sprintf("key-%d", i%997) }
	value := func(i int) string { return fmt.Sprintf("value-%d-%s", i, strings.Repeat("v", i%50)) }

	results := make([]producedAt, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		i := i
		prod.Produce(ctx, kgo.KeyStringRecord(key(i), value(i)), func(r *kgo.Record, err error) {
			results[i] = producedAt{r.Partition, r.Offset, err}
			wg.Done()
		})
	}
	wg.Wait()

	// Expected content of each partition: records in produce-call order.
	expected := make(map[int32][]int)
	keyPart := make(map[string]int32)
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("produce record %d: %v", i, res.err)
		}
		if p, ok := keyPart[key(i)]; ok && p != res.partition {
			t.Fatalf("key %s went to partitions %d and %d", key(i), p, res.partition)
		}
		keyPart[key(i)] = res.partition
		exp := expected[res.partition]
		if want := int64(len(exp)); res.offset != want {
			t.Fatalf("record %d acknowledged at %d@%d, want offset %d (acks must follow produce order, contiguous from 0)", i, res.partition, res.offset, want)
		}
		expected[res.partition] = append(exp, i)
	}
	if len(expected) != parts {
		t.Errorf("records landed in %d partitions, want %d", len(expected), parts)
	}

	ends := endOffsets(t, newAdmin(t, b), topic)
	for p := int32(0); p < parts; p++ {
		if ends[p] != int64(len(expected[p])) {
			t.Errorf("partition %d: end offset %d, want %d", p, ends[p], len(expected[p]))
		}
	}

	got := byPartition(consumeN(t, b, topic, parts, n, 90*time.Second, time.Second))
	for p := int32(0); p < parts; p++ {
		recs, exp := got[p], expected[p]
		if len(recs) != len(exp) {
			t.Errorf("partition %d: consumed %d records, want %d (loss or duplicates)", p, len(recs), len(exp))
		}
		if err := checkContiguous(recs, 0); err != nil {
			t.Error(err)
			continue
		}
		for j := 0; j < len(recs) && j < len(exp); j++ {
			i := exp[j]
			if string(recs[j].Key) != key(i) || string(recs[j].Value) != value(i) {
				t.Errorf("partition %d offset %d: got %q=%q, want %q=%q", p, j, recs[j].Key, recs[j].Value, key(i), value(i))
				break
			}
		}
	}
}

// codecCases are the four codecs with their record-batch attribute bits.
var codecCases = []struct {
	name  string
	codec kgo.CompressionCodec
	bits  uint8
}{
	{"gzip", kgo.GzipCompression(), 1},
	{"snappy", kgo.SnappyCompression(), 2},
	{"lz4", kgo.Lz4Compression(), 3},
	{"zstd", kgo.ZstdCompression(), 4},
}

func TestCompressionCodecsKgo(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const n = 2000
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			topic := "codec-kgo-" + tc.name
			createTopic(t, adm, topic, 2, nil)
			prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(tc.codec))
			ctx := testCtx(t, 30*time.Second)
			want := make(map[string]string, n)
			recs := make([]*kgo.Record, n)
			for i := range recs {
				k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("%s value %d %s", tc.name, i, strings.Repeat("abc", 40))
				want[k] = v
				recs[i] = kgo.KeyStringRecord(k, v)
			}
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce with %s: %v", tc.name, err)
			}
			checkConsumed(t, b, topic, 2, want, tc.bits)
		})
	}
}

// checkConsumed reads topic back and compares it with want (key -> value);
// when codec is non-zero every record must come back in a batch of that
// codec (the broker stores batches as produced).
func checkConsumed(t *testing.T, b *Broker, topic string, parts int32, want map[string]string, codec uint8) {
	t.Helper()
	got := consumeN(t, b, topic, parts, len(want), 30*time.Second, 300*time.Millisecond)
	if len(got) != len(want) {
		t.Errorf("%s: consumed %d records, want %d", topic, len(got), len(want))
	}
	seen := make(map[string]bool, len(got))
	for _, r := range got {
		k := string(r.Key)
		if seen[k] {
			t.Errorf("%s: key %s consumed twice", topic, k)
		}
		seen[k] = true
		if w, ok := want[k]; !ok || w != string(r.Value) {
			t.Errorf("%s: record %s at %d@%d has value %.40q, want %.40q", topic, k, r.Partition, r.Offset, r.Value, w)
		}
		if codec != 0 && r.Attrs.CompressionType() != codec {
			t.Errorf("%s: record %s came back in a batch with codec %d, want %d", topic, k, r.Attrs.CompressionType(), codec)
			return
		}
	}
	for _, ps := range byPartition(got) {
		if err := checkContiguous(ps, 0); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}
}

func TestLargeRecords(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic = "large"
	createTopic(t, adm, topic, 1, nil)
	createTopic(t, adm, "small-max", 1, map[string]*string{"max.message.bytes": kadm.StringPtr("10000")})

	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(4 << 20),
		kgo.BrokerMaxWriteBytes(8 << 20),
		kgo.RecordRetries(2),
	}
	random := func(n int) []byte {
		p := make([]byte, n)
		if _, err := rand.Read(p); err != nil {
			t.Fatalf("random: %v", err)
		}
		return p
	}
	big := random(900 << 10)

	ctx := testCtx(t, 60*time.Second)
	prod := newClient(t, b, opts...)
	res := prod.ProduceSync(ctx, &kgo.Record{Key: []byte("900k"), Value: big})
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce a 900 KiB record (under message.max.bytes 1048588): %v", err)
	}

	cases := []struct {
		name  string
		topic string
		size  int
	}{
		{"2 MiB over message.max.bytes", topic, 2 << 20},
		{"20 KB over the topic's max.message.bytes 10000", "small-max", 20000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, b, opts...)
			err := cl.ProduceSync(ctx, &kgo.Record{Topic: tc.topic, Value: random(tc.size)}).FirstErr()
			if !errors.Is(err, kerr.MessageTooLarge) {
				t.Errorf("produce %d bytes to %s: error %v, want MESSAGE_TOO_LARGE", tc.size, tc.topic, err)
			}
		})
	}

	t.Run("batch of exactly message.max.bytes accepted, one byte more refused", func(t *testing.T) {
		const limit = 1048588
		createTopic(t, adm, "edge", 1, nil)
		// batchOf builds a one-record batch whose encoding is size bytes;
		// when a varint length step makes the value size skip the target,
		// a key of a few bytes absorbs the difference.
		batchOf := func(size int) []byte {
			for keyLen := 0; keyLen < 4; keyLen++ {
				key, value := make([]byte, keyLen), make([]byte, size-100)
				for try := 0; try < 8; try++ {
					enc := buildBatch(time.Now().UnixMilli(), []batchRecord{{key: key, value: value}}, noProducer)
					d := size - len(enc)
					if d == 0 {
						return enc
					}
					value = make([]byte, len(value)+d)
				}
			}
			t.Fatalf("cannot build a batch of exactly %d bytes", size)
			return nil
		}
		rc := dialRaw(t, b)
		cases := []struct {
			size int
			want int16
		}{
			{limit, 0},
			{limit + 1, 10},
		}
		for _, tc := range cases {
			p := producePartition(t, rc.roundTrip(produceRequest("edge", 0, -1, batchOf(tc.size)), 9))
			if p.ErrorCode != tc.want {
				t.Errorf("Produce a %d-byte batch (message.max.bytes %d): error %d, want %d", tc.size, limit, p.ErrorCode, tc.want)
			}
		}
		if e := endOffsets(t, adm, "edge")[0]; e != 1 {
			t.Errorf("edge: end offset %d, want 1", e)
		}
	})

	if ends := endOffsets(t, adm, topic); ends[0] != 1 {
		t.Errorf("%s: end offset %d after one accepted and one refused record, want 1", topic, ends[0])
	}
	if ends := endOffsets(t, adm, "small-max"); ends[0] != 0 {
		t.Errorf("small-max: end offset %d after a refused record, want 0", ends[0])
	}

	recs := consumeN(t, b, topic, 1, 1, 30*time.Second, 0,
		kgo.FetchMaxBytes(1<<20), kgo.FetchMaxPartitionBytes(1<<20))
	if len(recs) != 1 || recs[0].Offset != 0 || string(recs[0].Key) != "900k" || !bytes.Equal(recs[0].Value, big) {
		t.Fatalf("read back the 900 KiB record: got %d records (first: offset %d, %d value bytes)", len(recs), recs[0].Offset, len(recs[0].Value))
	}
}

// TestProduceTopicCompressionType sends snappy batches (kgo) to a topic with
// compression.type=gzip: they are stored recompressed with gzip, kgo reads every record back
// from gzip batches, and kafka-dump-log 3.9.2 reads the segment as valid gzip batches.
func TestProduceTopicCompressionType(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic, n = "recompress-gzip", 500
	createTopic(t, newAdmin(t, b), topic, 1, map[string]*string{"compression.type": kadm.StringPtr("gzip")})
	// kgo defaults: idempotent producer, acks=all; snappy batches.
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	ctx := testCtx(t, 60*time.Second)
	want := make(map[string]string, n)
	for i := 0; i < n; i += 100 {
		var recs []*kgo.Record
		for j := i; j < i+100; j++ {
			k, v := fmt.Sprintf("k%d", j), fmt.Sprintf("value %d %s", j, strings.Repeat("snappy ", j%20))
			want[k] = v
			recs = append(recs, kgo.KeyStringRecord(k, v))
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	checkConsumed(t, b, topic, 1, want, 1)

	seg := filepath.Join(b.LogDir(), topic+"-0", "00000000000000000000.log")
	out := mustRun(t, cmdSpec{name: kafkaTool(t, "3.9.2", "kafka-dump-log"), args: []string{"--files", seg, "--print-data-log"}, timeout: 2 * time.Minute})
	batches := regexp.MustCompile(`(?m)^baseOffset: .* producerId: (\S+) .* isTransactional: (\S+) .*compresscodec: (\S+) .*isvalid: (\S+)`).FindAllStringSubmatch(out, -1)
	if len(batches) == 0 || len(dumpRecord.FindAllStringSubmatch(out, -1)) != n {
		t.Fatalf("kafka-dump-log: %d batches, %d records (want %d):\n%s", len(batches), len(dumpRecord.FindAllStringSubmatch(out, -1)), n, tail(out, 2000))
	}
	for _, m := range batches {
		if m[1] == "-1" || m[2] != "false" || m[3] != "gzip" || m[4] != "true" {
			t.Fatalf("kafka-dump-log batch: producerId %s, transactional %s, codec %s, valid %s; want the producer's id, gzip, valid:\n%s", m[1], m[2], m[3], m[4], tail(out, 2000))
		}
	}
}

// TestProduceTimestampBounds sends records to a topic with message.timestamp.after.max.ms=60000
// (kgo): one an hour in the future is refused with INVALID_TIMESTAMP, one of now is stored.
func TestProduceTimestampBounds(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const topic = "ts-bounds"
	createTopic(t, newAdmin(t, b), topic, 1, map[string]*string{"message.timestamp.after.max.ms": kadm.StringPtr("60000")})
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 60*time.Second)
	future := &kgo.Record{Key: []byte("future"), Value: []byte("an hour ahead"), Timestamp: time.Now().Add(time.Hour)}
	if err := prod.ProduceSync(ctx, future).FirstErr(); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("record an hour ahead: %v, want INVALID_TIMESTAMP", err)
	}
	// kgo fails the producer's pending batches after a non-retriable error on an idempotent
	// producer; a fresh client shows the topic still takes records in range.
	prod2 := newClient(t, b, kgo.DefaultProduceTopic(topic))
	if err := prod2.ProduceSync(ctx, kgo.KeyStringRecord("now", "in range")).FirstErr(); err != nil {
		t.Fatalf("record of now: %v", err)
	}
	checkConsumed(t, b, topic, 1, map[string]string{"now": "in range"}, 0)
}
