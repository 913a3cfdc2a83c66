package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDynamicBrokerConfig changes broker configuration at run time with Kafka's kafka-configs
// tool: message.max.bytes lowered for this broker refuses a large record at once (the topics'
// max.message.bytes default follows), the cluster default and the broker's own value are
// described with their dynamic sources, the change survives a restart, deleting it restores
// the static value, and keys Kafka cannot change at run time are refused.
func TestDynamicBrokerConfig(t *testing.T) {
	const topic = "dyn"
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 1, nil)
	tool := kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs")
	configs := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: tool, args: append([]string{"--bootstrap-server", b.Addr()}, args...)})
	}
	produce := func() error {
		t.Helper()
		cl := newClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1<<20))
		defer cl.Close()
		return cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: topic, Value: make([]byte, 5000)}).FirstErr()
	}
	if err := produce(); err != nil {
		t.Fatalf("5000-byte record before any change: %v", err)
	}

	configs("--alter", "--entity-type", "brokers", "--entity-default", "--add-config", "message.max.bytes=500000")
	configs("--alter", "--entity-type", "brokers", "--entity-name", "0", "--add-config", "message.max.bytes=2000")
	if err := produce(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("5000-byte record with message.max.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
	}
	out := configs("--describe", "--entity-type", "brokers", "--entity-name", "0")
	if !strings.Contains(out, "message.max.bytes=2000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000, DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=500000") {
		t.Errorf("describe broker 0:\n%s", out)
	}
	out = configs("--describe", "--entity-type", "brokers", "--entity-default")
	if !strings.Contains(out, "message.max.bytes=500000") || strings.Contains(out, "=2000") {
		t.Errorf("describe the cluster default:\n%s", out)
	}

	// Read-only keys are refused, and nothing is stored.
	res := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
	op := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	op.Name, op.Value = "log.dirs", kmsg.StringPtr("/elsewhere")
	rr.Configs = append(rr.Configs, op)
	res.Resources = append(res.Resources, rr)
	raw, err := res.RequestWith(testCtx(t, 10*time.Second), newClient(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if code := raw.Resources[0].ErrorCode; code != kerr.InvalidRequest.Code || raw.Resources[0].ErrorMessage == nil ||
		!strings.Contains(*raw.Resources[0].ErrorMessage, "Cannot update these configs dynamically") {
		t.Errorf("log.dirs at run time: %s %v", kafkaCode(code), raw.Resources[0].ErrorMessage)
	}

	// The dynamic config survives a restart.
	if code := b.Stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b.Restart(t)
	if err := produce(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("after a restart: %v, want MESSAGE_TOO_LARGE", err)
	}
	configs("--alter", "--entity-type", "brokers", "--entity-name", "0", "--delete-config", "message.max.bytes")
	configs("--alter", "--entity-type", "brokers", "--entity-default", "--delete-config", "message.max.bytes")
	if err := produce(); err != nil {
		t.Fatalf("after deleting the dynamic configs: %v", err)
	}
}
