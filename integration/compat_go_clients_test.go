package integration

// Go clients other than franz-go against the broker binary: Sarama with its
// default Version and with V3_6_0_0, and segmentio/kafka-go (Writer with its
// acks=0 default, Reader with a GroupID).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
)

// moduleVersion is the version of a Go module required by go.mod (test
// binaries carry no dependency list in their build info).
func moduleVersion(t *testing.T, path string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("go.mod: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", path)
	return ""
}

// compatSaramaHandler collects the records of a Sarama consumer group
// session and marks each one so it is committed.
type compatSaramaHandler struct {
	mu   sync.Mutex
	recs []seenRecord
	want int
	done chan struct{}
	once sync.Once
}

func (h *compatSaramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *compatSaramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *compatSaramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.recs = append(h.recs, seenRecord{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)})
		full := len(h.recs) >= h.want
		h.mu.Unlock()
		s.MarkMessage(m, "")
		if full {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func TestCompatSarama(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const client, n = "Sarama", 200
	mod := moduleVersion(t, "github.com/IBM/sarama")
	v36 := sarama.V3_6_0_0
	for _, c := range []struct {
		name    string
		version *sarama.KafkaVersion
	}{
		{"default", nil},
		{"V3_6_0_0", &v36},
	} {
		cfgVersion := sarama.NewConfig().Version.String()
		if c.version != nil {
			cfgVersion = c.version.String()
		}
		label := fmt.Sprintf("%s (Version %s)", mod, cfgVersion)
		t.Run(c.name+"/produce", func(t *testing.T) {
			recordFlow(t, client, label, "produce (SyncProducer, hash partitioner)")
			topic := "sarama-produce-" + c.name
			createTopic(t, newAdmin(t, b), topic, 3, nil)
			var msgs []*sarama.ProducerMessage
			for i := 0; i < n; i++ {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%04d", i)), Value: sarama.StringEncoder(fmt.Sprintf("value-%04d", i))})
			}
			saramaSend(t, b, saramaConfig(c.version), msgs)
			got, _ := readBack(t, b, topic, 3, n)
			checkKeyed(t, "records written by Sarama", got, n)
		})
		t.Run(c.name+"/consume-group", func(t *testing.T) {
			recordFlow(t, client, label, "consume in a group (ConsumerGroup)")
			topic := "sarama-consume-" + c.name
			group := "sarama-group-" + c.name
			produceKeyedRecords(t, b, topic, 3, n)
			cfg := saramaConfig(c.version)
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
			cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, group, cfg)
			if err != nil {
				t.Fatalf("sarama NewConsumerGroup: %v", err)
			}
			h := &compatSaramaHandler{want: n, done: make(chan struct{})}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				for ctx.Err() == nil {
					if err := cg.Consume(ctx, []string{topic}, h); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			select {
			case <-h.done:
			case <-ctx.Done():
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("sarama Consume: %v", err)
			}
			if err := cg.Close(); err != nil {
				t.Errorf("sarama consumer group close: %v", err)
			}
			h.mu.Lock()
			recs := h.recs
			h.mu.Unlock()
			checkKeyed(t, "records read by a Sarama consumer group", recs, n)
			checkCommittedEnd(t, b, group, topic)
		})
	}
}

func TestCompatKafkaGo(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const client, n = "segmentio/kafka-go", 200
	version := moduleVersion(t, "github.com/segmentio/kafka-go")
	t.Run("writer", func(t *testing.T) {
		recordFlow(t, client, version, "produce (Writer defaults: acks=0, round-robin)")
		topic := "kgo-writer"
		createTopic(t, newAdmin(t, b), topic, 3, nil)
		w := &kafkago.Writer{Addr: kafkago.TCP(b.Addr()), Topic: topic}
		defer w.Close()
		if w.RequiredAcks != kafkago.RequireNone {
			t.Fatalf("Writer's default RequiredAcks is %v, expected RequireNone (acks=0)", w.RequiredAcks)
		}
		msgs := make([]kafkago.Message, n)
		for i := range msgs {
			msgs[i] = kafkago.Message{Key: []byte(fmt.Sprintf("key-%04d", i)), Value: []byte(fmt.Sprintf("value-%04d", i))}
		}
		ctx := testCtx(t, time.Minute)
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("kafka-go WriteMessages: %v", err)
		}
		got, _ := readBack(t, b, topic, 3, n)
		checkKeyed(t, "records written by kafka-go", got, n)
	})
	t.Run("reader-group", func(t *testing.T) {
		recordFlow(t, client, version, "consume with a Reader and a GroupID")
		topic, group := "kgo-reader", "kafka-go-group"
		produceKeyedRecords(t, b, topic, 3, n)
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: []string{b.Addr()}, GroupID: group, Topic: topic,
			MaxWait: 500 * time.Millisecond, StartOffset: kafkago.FirstOffset,
		})
		ctx := testCtx(t, 90*time.Second)
		var recs []seenRecord
		for len(recs) < n {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("kafka-go ReadMessage after %d records: %v", len(recs), err)
			}
			recs = append(recs, seenRecord{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)})
		}
		if err := r.Close(); err != nil {
			t.Errorf("kafka-go Reader close: %v", err)
		}
		checkKeyed(t, "records read by a kafka-go group Reader", recs, n)
		checkCommittedEnd(t, b, group, topic)
	})
}
