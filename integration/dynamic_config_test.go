package integration

import (
	"errors"
	"fmt"
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

	// The cleaner's keys restart its threads with the new settings (Kafka's
	// LogCleaner.reconfigure), within the bounds Kafka sets on the thread count.
	alterBroker := func(name, value string) (int16, string) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
		op := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		op.Name, op.Value = name, kmsg.StringPtr(value)
		r.Configs = append(r.Configs, op)
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(testCtx(t, 10*time.Second), newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		msg := ""
		if m := resp.Resources[0].ErrorMessage; m != nil {
			msg = *m
		}
		return resp.Resources[0].ErrorCode, msg
	}
	if code, msg := alterBroker("log.cleaner.threads", "2"); code != 0 {
		t.Fatalf("log.cleaner.threads=2: %s %s", kafkaCode(code), msg)
	}
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(b.Stderr(), `"threads":2,`) || !strings.Contains(b.Stderr(), "log cleaner restarted with new settings") {
			return errors.New("no cleaner restart with two threads logged")
		}
		return nil
	})
	if code, msg := alterBroker("log.cleaner.threads", "5"); code != kerr.InvalidRequest.Code || !strings.Contains(msg, "cannot be increased to more than double the current value 2") {
		t.Errorf("log.cleaner.threads from 2 to 5: %s %q", kafkaCode(code), msg)
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

// TestClusterDynamicBrokerConfig changes broker configuration at run time in a three-broker
// cluster with kafka-configs: the cluster default (stored once, announced under
// /config/changes) takes effect on every broker, a per-broker value on that broker only,
// both are described with their dynamic sources, both survive a restart of every broker,
// and deleting them restores the static value everywhere.
func TestClusterDynamicBrokerConfig(t *testing.T) {
	const topic = "cluster-dyn"
	c := startCluster(t)
	c.createTopic(t, topic, 3, nil)
	tool := kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs")
	configs := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: tool, args: append([]string{"--bootstrap-server", strings.Join(c.seeds(), ",")}, args...)})
	}
	cl := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(3))
	// produce writes a 5000-byte record to partition p and returns the result with the
	// broker that led p before and after the write (a leader change in between makes the
	// result unattributable, and the caller retries).
	produce := func(p int32) (err error, leader int32) {
		for {
			before := c.leader(t, topic, p)
			err = cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: topic, Partition: p, Value: make([]byte, 5000)}).FirstErr()
			if after := c.leader(t, topic, p); after == before {
				return err, before
			}
		}
	}
	// expect polls until every partition answers as want says for its leader: the
	// change is applied by the other brokers when they see its notification.
	expect := func(what string, tooLarge func(leader int32) bool) {
		t.Helper()
		clusterWait(t, 30*time.Second, what, func() error {
			for p := int32(0); p < 3; p++ {
				err, leader := produce(p)
				switch want := tooLarge(leader); {
				case want && !errors.Is(err, kerr.MessageTooLarge):
					return fmt.Errorf("partition %d led by broker %d: %v, want MESSAGE_TOO_LARGE", p, leader, err)
				case !want && err != nil:
					return fmt.Errorf("partition %d led by broker %d: %v, want success", p, leader, err)
				}
			}
			return nil
		})
	}
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		leaders[c.leader(t, topic, p)] = true
	}
	if len(leaders) != 3 {
		t.Fatalf("partition leaders %v, want one partition led by each broker", leaders)
	}
	expect("5000-byte records before any change", func(int32) bool { return false })

	configs("--alter", "--entity-type", "brokers", "--entity-default", "--add-config", "message.max.bytes=2000")
	expect("the cluster default message.max.bytes=2000 on every broker", func(int32) bool { return true })
	configs("--alter", "--entity-type", "brokers", "--entity-name", "2", "--add-config", "message.max.bytes=100000")
	expect("broker 2's own message.max.bytes=100000", func(l int32) bool { return l != 2 })

	out := configs("--describe", "--entity-type", "brokers", "--entity-name", "2")
	if !strings.Contains(out, "message.max.bytes=100000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=100000, DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000") {
		t.Errorf("describe broker 2:\n%s", out)
	}
	// Without --all the tool lists a broker's own dynamic values only; broker 3 has none.
	out = configs("--describe", "--entity-type", "brokers", "--entity-name", "3")
	if strings.Contains(out, "message.max.bytes") {
		t.Errorf("describe broker 3 lists a value it does not have:\n%s", out)
	}
	out = configs("--describe", "--all", "--entity-type", "brokers", "--entity-name", "3")
	if !strings.Contains(out, "message.max.bytes=2000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000") {
		t.Errorf("describe --all broker 3:\n%s", out)
	}

	// Every broker restarted, one at a time: the values come back from ZooKeeper.
	for _, id := range c.ids {
		if code := c.broker(id).Stop(); code != 0 {
			t.Fatalf("broker %d exit %d", id, code)
		}
		c.restart(t, id)
		for p := int32(0); p < 3; p++ {
			c.waitISR(t, topic, p, 60*time.Second, fmt.Sprintf("full ISR after restarting broker %d", id), func(pv partitionView) error {
				if len(pv.isr) != 3 || pv.leader < 0 {
					return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
				}
				return nil
			})
		}
	}
	expect("the dynamic values after restarting every broker", func(l int32) bool { return l != 2 })

	configs("--alter", "--entity-type", "brokers", "--entity-name", "2", "--delete-config", "message.max.bytes")
	expect("the cluster default alone after deleting broker 2's value", func(int32) bool { return true })
	configs("--alter", "--entity-type", "brokers", "--entity-default", "--delete-config", "message.max.bytes")
	expect("the static value after deleting the cluster default", func(int32) bool { return false })
}
