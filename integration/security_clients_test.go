package integration

import (
	"crypto/sha512"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/xdg-go/scram"
)

// saramaSCRAM adapts xdg-go/scram's client conversation to Sarama's SCRAMClient.
type saramaSCRAM struct {
	conv *scram.ClientConversation
}

func (s *saramaSCRAM) Begin(user, pass, authz string) error {
	c, err := scram.HashGeneratorFcn(sha512.New).NewClient(user, pass, authz)
	if err != nil {
		return err
	}
	s.conv = c.NewConversation()
	return nil
}
func (s *saramaSCRAM) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *saramaSCRAM) Done() bool                            { return s.conv.Done() }

// TestSecurityClientsSASLSSL runs stock clients with SCRAM-SHA-512 over TLS against a broker
// whose key store is given inline in server.properties (PEM with escaped newlines): the SCRAM
// user is created with Kafka's kafka-configs.sh --add-config 'SCRAM-SHA-512=[password=...]',
// then Kafka's console producer and consumer (client.properties), librdkafka
// (confluent-kafka), kafkajs and Sarama produce and consume as that user.
func TestSecurityClientsSASLSSL(t *testing.T) {
	p := newTestPKI(t)
	props := p.writeInlinePEMProps(t,
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		saslPlainJAAS("SASL_SSL"),
		"group.initial.rebalance.delay.ms=0",
		"offsets.topic.replication.factor=1",
	)
	b := startBrokerWith(t, brokerOpts{listener: "SASL_SSL", propsFile: props})
	version := pinnedVersion(t, "KAFKA_3_VERSION")
	tool := func(name string, stdin string, args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: kafkaTool(t, version, name), args: args, stdin: stdin, timeout: 3 * time.Minute})
	}
	adminProps := p.javaClientProps(t, "admin.properties", "SASL_SSL", "PLAIN", "admin", adminPass)
	carolProps := p.javaClientProps(t, "carol.properties", "SASL_SSL", "SCRAM-SHA-512", "carol", "carol-secret",
		"group.id=console-group", "auto.offset.reset=earliest")

	// kafka-configs creates the SCRAM user (AlterUserScramCredentials); it works at once.
	tool("kafka-configs", "", "--bootstrap-server", b.Addr(), "--command-config", adminProps,
		"--alter", "--add-config", "SCRAM-SHA-512=[iterations=8192,password=carol-secret]", "--entity-type", "users", "--entity-name", "carol")
	ctx := testCtx(t, 5*time.Minute)
	admin := kadm.NewClient(secureClient(t, b.Addr(), p.tlsConfig(), plainMech("admin", adminPass)))
	desc, err := admin.DescribeUserSCRAMs(ctx, "carol")
	if err != nil || desc["carol"].Err != nil || len(desc["carol"].CredInfos) != 1 || desc["carol"].CredInfos[0].Iterations != 8192 {
		t.Fatalf("carol after kafka-configs: %+v %v", desc, err)
	}
	for _, topic := range []string{"console", "librdkafka", "kafkajs", "sarama"} {
		if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("console tools", func(t *testing.T) {
		var msgs []string
		for i := 0; i < 20; i++ {
			msgs = append(msgs, "line-"+strconv.Itoa(i))
		}
		tool("kafka-console-producer", strings.Join(msgs, "\n")+"\n", "--bootstrap-server", b.Addr(), "--topic", "console",
			"--producer.config", carolProps)
		out := tool("kafka-console-consumer", "", "--bootstrap-server", b.Addr(), "--topic", "console", "--from-beginning",
			"--max-messages", "20", "--timeout-ms", "60000", "--consumer.config", carolProps)
		if got := len(lines(out)); got != 20 {
			t.Errorf("console consumer read %d lines, want 20:\n%s", got, out)
		}
	})
	t.Run("librdkafka", func(t *testing.T) {
		out := mustRun(t, cmdSpec{name: venvPython(t), args: []string{pyScript(t, "confluent_secure.py"), b.Addr(), "librdkafka", "100",
			"SCRAM-SHA-512", "carol", "carol-secret", p.caPEM}})
		if !strings.Contains(out, "consumed 100") {
			t.Errorf("confluent-kafka: %s", out)
		}
	})
	t.Run("kafkajs", func(t *testing.T) {
		modules := nodeModules(t)
		out := mustRun(t, cmdSpec{name: "node", args: []string{testdataPath(t, "node", "kafkajs_secure.js"), b.Addr(), "kafkajs", "100",
			"SCRAM-SHA-512", "carol", "carol-secret", p.caPEM}, env: []string{"NODE_PATH=" + modules}})
		if !strings.Contains(out, "consumed 100") {
			t.Errorf("kafkajs: %s", out)
		}
	})
	t.Run("sarama", func(t *testing.T) {
		cfg := saramaConfig(nil)
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = p.tlsConfig()
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.User, cfg.Net.SASL.Password = "carol", "carol-secret"
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{} }
		cfg.Producer.Return.Successes = true
		prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
		if err != nil {
			t.Fatalf("sarama producer over SASL_SSL: %v", err)
		}
		defer prod.Close()
		for i := 0; i < 50; i++ {
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama", Value: sarama.StringEncoder("v")}); err != nil {
				t.Fatalf("sarama produce: %v", err)
			}
		}
		cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		got := 0
		for part := int32(0); part < 2; part++ {
			pc, err := cons.ConsumePartition("sarama", part, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			hw := pc.HighWaterMarkOffset()
			for off := int64(0); off < hw; off++ {
				select {
				case <-pc.Messages():
					got++
				case <-time.After(30 * time.Second):
					t.Fatalf("sarama consume stalled at %d", got)
				}
			}
			pc.Close()
		}
		if got != 50 {
			t.Errorf("sarama consumed %d, want 50", got)
		}
		bad := saramaConfig(nil)
		*bad = *cfg
		bad.Net.SASL.Password = "wrong"
		if cl, err := sarama.NewClient([]string{b.Addr()}, bad); err == nil {
			cl.Close()
			t.Error("sarama connected with a wrong password")
		}
	})
}
