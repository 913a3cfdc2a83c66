package integration

// Stock clients speaking the protocol of Kafka 0.9 and 0.10 (Produce v0-2 and Fetch v0-3,
// message formats v0 and v1): librdkafka with api.version.request=false and
// broker.version.fallback, Sarama with Version 0.10 and 0.11. What they write is stored as
// magic-2 batches (kafka-dump-log reads them so) and what they read is down-converted.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// legacySeenRecord is a record (or a delivery report) as legacy_client.py prints it.
type legacySeenRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	TSType    int    `json:"tstype"` // confluent_kafka: 0 not available, 1 CreateTime, 2 LogAppendTime
	TS        int64  `json:"ts"`
}

func parseLegacySeen(t *testing.T, out string) []legacySeenRecord {
	t.Helper()
	var recs []legacySeenRecord
	for _, l := range lines(out) {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var r legacySeenRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("client printed %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// keyIndex is i of "key-%04d".
func keyIndex(t *testing.T, key string) int64 {
	t.Helper()
	i, err := strconv.ParseInt(strings.TrimPrefix(key, "key-"), 10, 64)
	if err != nil {
		t.Fatalf("unexpected key %q", key)
	}
	return i
}

// checkLegacySeen checks n records key-i/value-i (each once, offsets contiguous per
// partition) and their timestamps: tsType, and ts(i) when tsType is CreateTime.
func checkLegacySeen(t *testing.T, who string, recs []legacySeenRecord, n int, tsType int, ts func(i int64) int64) {
	t.Helper()
	seen := map[int64]bool{}
	next := map[int32]int64{}
	for _, r := range recs {
		i := keyIndex(t, r.Key)
		switch {
		case r.Value != "" && r.Value != fmt.Sprintf("value-%04d", i):
			t.Fatalf("%s: %s=%q", who, r.Key, r.Value)
		case seen[i]:
			t.Fatalf("%s: %s twice", who, r.Key)
		case r.Offset != next[r.Partition]:
			t.Fatalf("%s: partition %d offset %d, want %d", who, r.Partition, r.Offset, next[r.Partition])
		case r.TSType != tsType || (tsType == 1 && r.TS != ts(i)):
			t.Fatalf("%s: %s timestamp type %d ts %d, want type %d ts %d", who, r.Key, r.TSType, r.TS, tsType, ts(i))
		}
		seen[i] = true
		next[r.Partition]++
	}
	if len(seen) != n {
		t.Fatalf("%s: %d records, want %d", who, len(seen), n)
	}
}

// legacyUsed reads the "USED {...}" line of legacy_client.py: the request versions sent.
func legacyUsed(t *testing.T, out string) map[string][]int {
	t.Helper()
	for _, l := range lines(out) {
		if rest, ok := strings.CutPrefix(l, "USED "); ok {
			var used map[string][]int
			if err := json.Unmarshal([]byte(rest), &used); err != nil {
				t.Fatalf("client printed %q: %v", l, err)
			}
			return used
		}
	}
	t.Fatalf("client did not report the versions it used:\n%s", tail(out, 2000))
	return nil
}

// librdkafkaFallback is what librdkafka speaks with api.version.request=false and a
// broker.version.fallback.
type librdkafkaFallback struct {
	fallback       string
	produce, fetch func(v int) bool // the request versions it must use
	magic          int8             // the message format it writes
	groups         bool             // the fallback has consumer groups
}

var librdkafkaFallbacks = []librdkafkaFallback{
	{"0.8.2", func(v int) bool { return v == 0 }, func(v int) bool { return v == 0 }, 0, false},
	{"0.9.0", func(v int) bool { return v == 1 }, func(v int) bool { return v == 1 }, 0, true},
	// librdkafka turns api.version.request back on for 0.10.0 and later fallbacks, and
	// negotiates: record batches.
	{"0.10.0", func(v int) bool { return v >= 3 }, func(v int) bool { return v >= 4 }, 2, true},
}

func checkUsed(t *testing.T, fb librdkafkaFallback, used map[string][]int, api string) {
	t.Helper()
	ok := fb.produce
	if api == "Fetch" {
		ok = fb.fetch
	}
	if len(used[api]) == 0 {
		t.Fatalf("broker.version.fallback=%s: no %s request seen (used %v)", fb.fallback, api, used)
	}
	for _, v := range used[api] {
		if !ok(v) {
			t.Fatalf("broker.version.fallback=%s: librdkafka sent %s v%d (used %v)", fb.fallback, api, v, used)
		}
	}
}

func TestCompatLegacyLibrdkafka(t *testing.T) {
	t.Parallel()
	py := venvPython(t)
	version := pinnedVersion(t, "CONFLUENT_KAFKA_VERSION")
	version += " (librdkafka " + strings.TrimSpace(mustRun(t, cmdSpec{name: py, args: []string{"-c", "import confluent_kafka; print(confluent_kafka.libversion()[0])"}})) + ")"
	const client, n = "confluent-kafka-python", 200
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	script := pyScript(t, "legacy_client.py")
	ts0 := time.Now().Add(-time.Hour).UnixMilli()
	createTime := func(i int64) int64 { return ts0 + i }
	codecIDs := map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3}
	for _, fb := range librdkafkaFallbacks {
		label := fmt.Sprintf("%s, api.version.request=false, broker.version.fallback=%s", version, fb.fallback)
		for _, codec := range []string{"none", "gzip", "snappy", "lz4"} {
			topic := "legacy-rdk-" + strings.ReplaceAll(fb.fallback, ".", "") + "-" + codec
			t.Run(fb.fallback+"/"+codec+"/produce", func(t *testing.T) {
				recordFlow(t, client, label, fmt.Sprintf("produce (message format v%d), compression.codec=%s", fb.magic, codec))
				createTopic(t, adm, topic, 2, nil)
				out := mustRun(t, cmdSpec{name: py, args: []string{script, "produce", b.Addr(), topic, strconv.Itoa(n), codec, fb.fallback, strconv.FormatInt(ts0, 10)}})
				checkUsed(t, fb, legacyUsed(t, out), "Produce")
				if reports := parseLegacySeen(t, out); len(reports) != n {
					t.Fatalf("%d delivery reports, want %d", len(reports), n)
				}
				// Stored as magic-2 batches with the producer's codec and timestamps:
				// none (-1) from message format v0, the CreateTime ts0+i otherwise.
				_, raw := readBack(t, b, topic, 2, n)
				for _, r := range raw {
					i := keyIndex(t, string(r.Key))
					want := ts0 + i
					if fb.magic == 0 {
						want = -1
					}
					if string(r.Value) != fmt.Sprintf("value-%04d", i) || r.Partition != int32(i%2) || r.Offset != i/2 {
						t.Fatalf("stored %s=%s at %d/%d", r.Key, r.Value, r.Partition, r.Offset)
					}
					if r.Attrs.TimestampType() != 0 || r.Timestamp.UnixMilli() != want || r.Attrs.CompressionType() != codecIDs[codec] {
						t.Fatalf("stored %s: timestamp type %d ts %d codec %d; want CreateTime %d codec %d", r.Key, r.Attrs.TimestampType(), r.Timestamp.UnixMilli(), r.Attrs.CompressionType(), want, codecIDs[codec])
					}
				}
			})
			t.Run(fb.fallback+"/"+codec+"/consume", func(t *testing.T) {
				how := "assigned partitions"
				if fb.groups {
					how = "in a group"
				}
				recordFlow(t, client, label, fmt.Sprintf("consume %s, %s batches (message format v%d)", how, codec, fb.magic))
				group := "g-" + topic
				out := mustRun(t, cmdSpec{name: py, args: []string{script, "consume", b.Addr(), topic, strconv.Itoa(n), group, fb.fallback}})
				checkUsed(t, fb, legacyUsed(t, out), "Fetch")
				tsType := 1 // CreateTime
				if fb.magic == 0 {
					tsType = 0 // no timestamps in message format v0
				}
				checkLegacySeen(t, "records read by librdkafka", parseLegacySeen(t, out), n, tsType, createTime)
				if fb.groups {
					checkCommittedEnd(t, b, group, topic)
				}
			})
		}
	}
	t.Run("LogAppendTime topic", func(t *testing.T) {
		recordFlow(t, client, version+", broker.version.fallback=0.9.0", "produce to a LogAppendTime topic")
		const topic = "legacy-rdk-lat"
		createTopic(t, adm, topic, 2, map[string]*string{"message.timestamp.type": func() *string { s := "LogAppendTime"; return &s }()})
		before := time.Now().UnixMilli()
		mustRun(t, cmdSpec{name: py, args: []string{script, "produce", b.Addr(), topic, strconv.Itoa(n), "gzip", "0.9.0", strconv.FormatInt(ts0, 10)}})
		after := time.Now().UnixMilli()
		_, raw := readBack(t, b, topic, 2, n)
		for _, r := range raw {
			if ts := r.Timestamp.UnixMilli(); r.Attrs.TimestampType() != 1 || ts < before || ts > after {
				t.Fatalf("stored %s: timestamp type %d ts %d, want LogAppendTime in [%d, %d]", r.Key, r.Attrs.TimestampType(), ts, before, after)
			}
		}
	})
	t.Run("kafka-dump-log reads the segments as v2 batches", func(t *testing.T) {
		recordFlow(t, client, version, "kafka-dump-log 3.9.2 on segments written by Produce v0 and v1")
		for _, topic := range []string{"legacy-rdk-082-gzip", "legacy-rdk-090-lz4", "legacy-rdk-090-snappy", "legacy-rdk-090-none"} {
			codec := topic[strings.LastIndex(topic, "-")+1:]
			seg := filepath.Join(b.LogDir(), topic+"-0", "00000000000000000000.log")
			out := mustRun(t, cmdSpec{name: kafkaTool(t, "3.9.2", "kafka-dump-log"), args: []string{"--files", seg, "--print-data-log"}, timeout: 2 * time.Minute})
			batches := regexp.MustCompile(`(?m)^baseOffset: .* CreateTime: (\S+) .* magic: (\d+) compresscodec: (\S+) .*isvalid: (\S+)`).FindAllStringSubmatch(out, -1)
			records := dumpRecord.FindAllStringSubmatch(out, -1)
			if len(batches) == 0 || len(records) != n/2 {
				t.Fatalf("%s: %d batches, %d records (want %d):\n%s", topic, len(batches), len(records), n/2, tail(out, 2000))
			}
			for _, m := range batches {
				if m[1] != "-1" || m[2] != "2" || m[3] != codec || m[4] != "true" {
					t.Fatalf("%s: batch with CreateTime %s, magic %s, codec %s, valid %s; want -1, magic 2, %s, valid", topic, m[1], m[2], m[3], m[4], codec)
				}
			}
		}
	})
	t.Run("transactions, read by an old consumer", func(t *testing.T) {
		recordFlow(t, client, version+", broker.version.fallback=0.9.0", "consume transactional data (markers left out; no isolation level before Fetch v4)")
		const topic = "legacy-rdk-txn"
		createTopic(t, adm, topic, 2, nil)
		produceKeyedLines(t, b, topic, 10, time.UnixMilli(ts0))
		txn := txnProducer(t, b, "legacy-rdk-txn", topic)
		produceTxn(t, txn, "committed", 4, true)
		produceTxn(t, txn, "aborted", 4, false)
		// A plain record after the transactions, in each partition: a log that ends with a
		// marker has nothing to down-convert at the marker's offset, and Fetch v1 then gets
		// Kafka's overflow entry, which librdkafka reports as MSG_SIZE_TOO_LARGE until a
		// record follows (as against Kafka 3.9). With a record after it, the old consumer
		// steps over the marker as it would over a gap; without one, whether it asked at the
		// marker before it had the 18 records it waits for was a race.
		tail := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := tail.ProduceSync(testCtx(t, time.Minute), &kgo.Record{Partition: 0, Value: []byte("tail-0")}, &kgo.Record{Partition: 1, Value: []byte("tail-1")}).FirstErr(); err != nil {
			t.Fatalf("produce the tail records: %v", err)
		}
		out := mustRun(t, cmdSpec{name: py, args: []string{script, "consume", b.Addr(), topic, "20", "g-txn", "0.9.0"}})
		var committed, aborted int
		for _, r := range parseLegacySeen(t, out) {
			switch {
			case strings.HasPrefix(r.Value, "committed-"):
				committed++
			case strings.HasPrefix(r.Value, "aborted-"):
				aborted++
			}
		}
		if committed != 4 || aborted != 4 {
			t.Fatalf("%d committed and %d aborted records; want both transactions whole, as Kafka serves Fetch v1 (read_uncommitted)", committed, aborted)
		}
	})
}

// requestsByVersion counts the requests of an API the broker handled, by version (its
// kafka_network_requestmetrics_requests_total metric).
func requestsByVersion(t *testing.T, metricsAddr, api string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	f := scrape(t, metricsAddr)["kafka_network_requestmetrics_requests_total"]
	if f == nil {
		t.Fatal("no kafka_network_requestmetrics_requests_total metric")
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["request"] == api {
			out[labels["version"]] = m.Counter.GetValue()
		}
	}
	return out
}

// checkVersionsUsed runs fn and checks that the broker saw requests of api at version want
// meanwhile, and of no other version but those in others (requests of other clients of the
// test, such as the last fetches of a kgo reader still closing).
func checkVersionsUsed(t *testing.T, metricsAddr, api, want string, others []string, fn func()) {
	t.Helper()
	before := requestsByVersion(t, metricsAddr, api)
	fn()
	after := requestsByVersion(t, metricsAddr, api)
	if after[want] <= before[want] {
		t.Fatalf("no %s v%s request seen (%v before, %v after)", api, want, before, after)
	}
	for v, n := range after {
		if v != want && n != before[v] && !slices.Contains(others, v) {
			t.Fatalf("%s v%s requests seen too (%v before, %v after)", api, v, before, after)
		}
	}
}

func TestCompatLegacySarama(t *testing.T) {
	t.Parallel()
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b := startBroker(t, "metrics.listen="+metricsAddr)
	adm := newAdmin(t, b)
	const client, n = "Sarama", 100
	mod := moduleVersion(t, "github.com/IBM/sarama")
	ts0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	v010, v011 := sarama.V0_10_0_0, sarama.V0_11_0_0
	versions := []*sarama.KafkaVersion{&v010, &v011}
	// The request versions Sarama sends for each Version: Produce v2 and Fetch v2 carry
	// message format v1, Produce v3 and Fetch v5 record batches.
	produceVersion := map[*sarama.KafkaVersion]string{&v010: "2", &v011: "3"}
	fetchVersion := map[*sarama.KafkaVersion]string{&v010: "2", &v011: "5"}
	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4}
	for _, pv := range versions {
		for _, codec := range codecs {
			topic := fmt.Sprintf("legacy-sarama-%s-%s", strings.ReplaceAll(pv.String(), ".", ""), codec)
			t.Run(fmt.Sprintf("%s/%s/produce", pv, codec), func(t *testing.T) {
				recordFlow(t, client, fmt.Sprintf("%s (Version %s)", mod, pv), fmt.Sprintf("produce (SyncProducer), compression %s, timestamps set", codec))
				createTopic(t, adm, topic, 1, nil)
				cfg := saramaConfig(pv)
				cfg.Producer.Compression = codec
				msgs := make([]*sarama.ProducerMessage, n)
				for i := range msgs {
					msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%04d", i)),
						Value: sarama.StringEncoder(fmt.Sprintf("value-%04d", i)), Timestamp: ts0.Add(time.Duration(i) * time.Millisecond)}
				}
				checkVersionsUsed(t, metricsAddr, "Produce", produceVersion[pv], nil, func() { saramaSend(t, b, cfg, msgs) })
				_, raw := readBack(t, b, topic, 1, n)
				for i, r := range raw {
					if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("key-%04d", i) || string(r.Value) != fmt.Sprintf("value-%04d", i) {
						t.Fatalf("stored record %d: %s=%s at offset %d", i, r.Key, r.Value, r.Offset)
					}
					if want := ts0.UnixMilli() + int64(i); r.Timestamp.UnixMilli() != want || r.Attrs.TimestampType() != 0 {
						t.Fatalf("stored record %d: timestamp %d type %d, want CreateTime %d", i, r.Timestamp.UnixMilli(), r.Attrs.TimestampType(), want)
					}
					if r.Attrs.CompressionType() != uint8(codec) {
						t.Fatalf("stored record %d with codec %d, want %d", i, r.Attrs.CompressionType(), codec)
					}
				}
			})
			for _, cv := range versions {
				t.Run(fmt.Sprintf("%s/%s/consume-%s", pv, codec, cv), func(t *testing.T) {
					recordFlow(t, client, fmt.Sprintf("%s (Version %s)", mod, cv), fmt.Sprintf("consume (partition consumer) what Version %s wrote with compression %s", pv, codec))
					var got []*sarama.ConsumerMessage
					checkVersionsUsed(t, metricsAddr, "Fetch", fetchVersion[cv], []string{"12"}, func() { got = saramaRead(t, b, saramaConfig(cv), topic, 0, n) })
					for i, m := range got {
						if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("key-%04d", i) || string(m.Value) != fmt.Sprintf("value-%04d", i) {
							t.Fatalf("message %d: %s=%s at offset %d", i, m.Key, m.Value, m.Offset)
						}
						if want := ts0.Add(time.Duration(i) * time.Millisecond); !m.Timestamp.Equal(want) {
							t.Fatalf("message %d: timestamp %v, want %v", i, m.Timestamp, want)
						}
					}
				})
			}
		}
	}
	t.Run("V0_10_0_0/LogAppendTime topic", func(t *testing.T) {
		recordFlow(t, client, fmt.Sprintf("%s (Version 0.10.0.0)", mod), "produce and consume on a LogAppendTime topic (Produce v2 answers carry the LogAppendTime)")
		const topic = "legacy-sarama-lat"
		createTopic(t, adm, topic, 1, map[string]*string{"message.timestamp.type": func() *string { s := "LogAppendTime"; return &s }()})
		msgs := make([]*sarama.ProducerMessage, n)
		for i := range msgs {
			msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%04d", i)),
				Value: sarama.StringEncoder(fmt.Sprintf("value-%04d", i)), Timestamp: ts0}
		}
		before := time.Now().Truncate(time.Millisecond)
		saramaSend(t, b, saramaConfig(&v010), msgs)
		after := time.Now()
		stamped := map[string]time.Time{}
		for _, m := range msgs {
			if m.Timestamp.Before(before) || m.Timestamp.After(after) {
				t.Fatalf("%v: timestamp after the send %v, want the broker's LogAppendTime in [%v, %v]", m.Key, m.Timestamp, before, after)
			}
			k, _ := m.Key.Encode()
			stamped[string(k)] = m.Timestamp
		}
		for _, m := range saramaRead(t, b, saramaConfig(&v010), topic, 0, n) {
			if !m.Timestamp.Equal(stamped[string(m.Key)]) {
				t.Fatalf("%s read with timestamp %v, stamped %v", m.Key, m.Timestamp, stamped[string(m.Key)])
			}
		}
	})
}
