package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaConfig is Sarama's default configuration with bounded network
// timeouts (Sarama has no contexts) and an optional protocol version.
func saramaConfig(version *sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "kbroker-it-sarama"
	if version != nil {
		cfg.Version = *version
	}
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 15 * time.Second
	cfg.Net.WriteTimeout = 15 * time.Second
	cfg.Metadata.Retry.Max = 20
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Producer.Return.Successes = true
	return cfg
}

// saramaSend sends msgs with a SyncProducer in one batch and returns them with
// the partitions and offsets the broker assigned.
func saramaSend(t *testing.T, b *Broker, cfg *sarama.Config, msgs []*sarama.ProducerMessage) {
	t.Helper()
	prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama SyncProducer: %v", err)
	}
	defer prod.Close()
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatalf("sarama SendMessages: %v", err)
	}
}

// saramaRead reads n messages from partition p of topic from the oldest
// offset with a Sarama consumer.
func saramaRead(t *testing.T, b *Broker, cfg *sarama.Config, topic string, p int32, n int) []*sarama.ConsumerMessage {
	t.Helper()
	cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("sarama ConsumePartition %s-%d: %v", topic, p, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case e := <-pc.Errors():
			t.Fatalf("sarama consume %s-%d: %v", topic, p, e)
		case <-timeout:
			t.Fatalf("sarama consume %s-%d: %d of %d messages after 30s", topic, p, len(out), n)
		}
	}
	return out
}

func TestSaramaProduceConsume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	v36 := sarama.V3_6_0_0
	cases := []struct {
		name      string
		version   *sarama.KafkaVersion
		preCreate int32 // partitions to create first; 0 relies on auto-create
	}{
		{"default config auto-created topic", nil, 0},
		{"default config", nil, 3},
		{"V3_6_0_0", &v36, 3},
		{"V3_6_0_0 auto-created topic", &v36, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("sarama-%d", i)
			parts := int32(1) // num.partitions for auto-created topics
			if tc.preCreate > 0 {
				createTopic(t, adm, topic, tc.preCreate, nil)
				parts = tc.preCreate
			}
			cfg := saramaConfig(tc.version)
			const n = 200
			msgs := make([]*sarama.ProducerMessage, n)
			for j := range msgs {
				msgs[j] = &sarama.ProducerMessage{
					Topic: topic,
					Key:   sarama.StringEncoder(fmt.Sprintf("k%d", j%17)),
					Value: sarama.StringEncoder(fmt.Sprintf("value %d", j)),
				}
			}
			saramaSend(t, b, cfg, msgs)
			perPart := make(map[int32][]*sarama.ProducerMessage)
			for _, m := range msgs {
				perPart[m.Partition] = append(perPart[m.Partition], m)
			}
			for p := int32(0); p < parts; p++ {
				want := perPart[p]
				if len(want) == 0 {
					continue
				}
				got := saramaRead(t, b, cfg, topic, p, len(want))
				for j, m := range got {
					if m.Offset != int64(j) || m.Offset != want[j].Offset {
						t.Errorf("%s-%d: message #%d at offset %d, produced at %d", topic, p, j, m.Offset, want[j].Offset)
						break
					}
					wk, _ := want[j].Key.Encode()
					wv, _ := want[j].Value.Encode()
					if string(m.Key) != string(wk) || string(m.Value) != string(wv) {
						t.Errorf("%s-%d@%d: got %q=%q, want %q=%q", topic, p, m.Offset, m.Key, m.Value, wk, wv)
						break
					}
				}
			}
			if e := endOffsets(t, adm, topic); len(e) != int(parts) {
				t.Errorf("%s: %d partitions, want %d", topic, len(e), parts)
			}
		})
	}
}

func TestCompressionCodecsSarama(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	codecs := []struct {
		name  string
		codec sarama.CompressionCodec
		bits  uint8
	}{
		{"gzip", sarama.CompressionGZIP, 1},
		{"snappy", sarama.CompressionSnappy, 2},
		{"lz4", sarama.CompressionLZ4, 3},
		{"zstd", sarama.CompressionZSTD, 4},
	}
	for _, tc := range codecs {
		t.Run(tc.name, func(t *testing.T) {
			topic := "codec-sarama-" + tc.name
			createTopic(t, adm, topic, 2, nil)
			cfg := saramaConfig(nil)
			cfg.Producer.Compression = tc.codec
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			const n = 1000
			want := make(map[string]string, n)
			msgs := make([]*sarama.ProducerMessage, n)
			for i := range msgs {
				k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("sarama %s %d %s", tc.name, i, strings.Repeat("xyz", 30))
				want[k] = v
				msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(v)}
			}
			saramaSend(t, b, cfg, msgs)
			checkConsumed(t, b, topic, 2, want, tc.bits)

			// And Sarama reads its own compressed batches back.
			perPart := map[int32]int{}
			for _, m := range msgs {
				perPart[m.Partition]++
			}
			for p, cnt := range perPart {
				for _, m := range saramaRead(t, b, cfg, topic, p, cnt) {
					if want[string(m.Key)] != string(m.Value) {
						t.Errorf("sarama read %s-%d@%d: %q=%q", topic, p, m.Offset, m.Key, m.Value)
						break
					}
				}
			}
		})
	}
}
