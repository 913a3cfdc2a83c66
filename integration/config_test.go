package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigBadValueExits2(t *testing.T) {
	t.Parallel()
	cases := []struct{ key, value string }{
		{"num.partitions", "abc"},
		{"num.partitions", "0"},
		{"message.max.bytes", "-1"},
		{"auto.create.topics.enable", "maybe"},
		{"socket.request.max.bytes", "ten"},
		{"broker.id", "zero"},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, brokerOpts{overrides: []string{tc.key + "=" + tc.value}})
			if err := b.launch(); err != nil {
				t.Fatal(err)
			}
			code, err := b.waitExit(readyTimeout)
			if err != nil {
				t.Fatalf("--override %s=%s: %v (want exit status 2)", tc.key, tc.value, err)
			}
			if code != 2 {
				t.Errorf("--override %s=%s: exit status %d, want 2", tc.key, tc.value, code)
			}
			if !strings.Contains(b.Output(), tc.key) {
				t.Errorf("--override %s=%s: output does not name the key %q", tc.key, tc.value, tc.key)
			}
		})
	}
}

func TestConfigUnknownKeyStarts(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "no.such.broker.setting=17")
	eventually(t, 5*time.Second, func() error {
		if !strings.Contains(b.Output(), "no.such.broker.setting") {
			return fmt.Errorf("no warning naming the unknown key")
		}
		return nil
	})
	createTopic(t, newAdmin(t, b), "still-works", 1, nil)
}

func TestConfigPropertiesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	props := filepath.Join(dir, "server.properties")
	body := strings.Join([]string{
		"# a server.properties as Kafka ships it, overridden on the command line",
		"broker.id=0",
		"listeners=PLAINTEXT://127.0.0.1:1",
		"log.dirs=/nonexistent/kbroker/overridden",
		"",
		"num.partitions=3",
		"auto.create.topics.enable=true",
	}, "\n") + "\n"
	if err := os.WriteFile(props, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBroker(t, brokerOpts{propsFile: props})
	if err := b.launch(); err != nil {
		t.Fatal(err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatalf("broker with %s and overrides: %v", props, err)
	}
	cl := newClient(t, b, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("from-file"))
	if err := cl.ProduceSync(testCtx(t, 20*time.Second), kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatalf("produce with auto-create: %v", err)
	}
	if e := endOffsets(t, newAdmin(t, b), "from-file"); len(e) != 3 {
		t.Errorf("auto-created topic has %d partitions, want num.partitions=3 from the properties file", len(e))
	}
}

func TestSigtermCheckpointsAndRestart(t *testing.T) {
	t.Parallel()
	const topic = "durable"
	b := startBroker(t)
	createTopic(t, newAdmin(t, b), topic, 2, nil)
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t, 30*time.Second)
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	prod.Close()

	if code := b.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit status %d, want 0", code)
	}
	for _, f := range []string{
		"meta.properties",
		"recovery-point-offset-checkpoint",
		"replication-offset-checkpoint",
		"log-start-offset-checkpoint",
		topic + "-0/00000000000000000000.log",
		topic + "-1/00000000000000000000.log",
	} {
		if _, err := os.Stat(filepath.Join(b.LogDir(), f)); err != nil {
			t.Errorf("after SIGTERM: %v", err)
		}
	}
	meta, err := os.ReadFile(filepath.Join(b.LogDir(), "meta.properties"))
	if err == nil && !strings.Contains(string(meta), "broker.id=0") {
		t.Errorf("meta.properties has no broker.id=0 line:\n%s", meta)
	}
	if cp, err := os.ReadFile(filepath.Join(b.LogDir(), "recovery-point-offset-checkpoint")); err == nil {
		if !strings.Contains(string(cp), topic+" 0 10") || !strings.Contains(string(cp), topic+" 1 10") {
			t.Errorf("recovery-point-offset-checkpoint after a clean stop does not hold %s 0 10 and %s 1 10:\n%s", topic, topic, cp)
		}
	}

	b.Restart(t)
	got := consumeN(t, b, topic, 2, 20, 20*time.Second, 300*time.Millisecond)
	if len(got) != 20 {
		t.Errorf("after restart: %d records, want 20", len(got))
	}
	for p, rs := range byPartition(got) {
		if err := checkContiguous(rs, 0); err != nil {
			t.Error(err)
		}
		for j, r := range rs {
			if want := fmt.Sprintf("v%d", 2*j+int(p)); string(r.Value) != want {
				t.Errorf("after restart %s-%d@%d = %q, want %q", topic, p, r.Offset, r.Value, want)
			}
		}
	}
	prod2 := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	res := prod2.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("next")})
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	if res[0].Record.Offset != 10 {
		t.Errorf("produce after restart: offset %d, want 10", res[0].Record.Offset)
	}
	prod2.Close()
	if code := b.Stop(); code != 0 {
		t.Errorf("second SIGTERM: exit status %d, want 0", code)
	}
}

func TestForeignMetaPropertiesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	meta := "#Written by another broker\nversion=0\nbroker.id=7\ncluster.id=someOtherClusterId00000\n"
	if err := os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBroker(t, brokerOpts{dir: dir})
	if err := b.launch(); err != nil {
		t.Fatal(err)
	}
	code, err := b.waitExit(readyTimeout)
	if err != nil {
		t.Fatalf("broker.id=0 on a log dir of broker 7: %v (want a refusal)", err)
	}
	if code == 0 {
		t.Errorf("broker.id=0 on a log dir of broker 7: exit status 0, want non-zero")
	}
	if !strings.Contains(b.Output(), "broker.id") {
		t.Errorf("refusal message does not mention broker.id")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "meta.properties")); string(got) != meta {
		t.Errorf("meta.properties of broker 7 was rewritten:\n%s", got)
	}
}

func TestConfigAutoCreateDisabled(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "auto.create.topics.enable=false", "num.partitions=2")
	rc := dialRaw(t, b)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("not-auto")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	for i := 0; i < 3; i++ {
		resp := rc.roundTrip(req, 12).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 3 {
			t.Fatalf("Metadata allowAutoTopicCreation with auto.create.topics.enable=false: %+v, want UNKNOWN_TOPIC_OR_PARTITION", resp.Topics)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := createTopic(t, newAdmin(t, b), "explicit", -1, nil); r.NumPartitions != 2 {
		t.Errorf("CreateTopics with -1 partitions: %d, want num.partitions=2", r.NumPartitions)
	}
}

func TestLogsAreJSONOnStderr(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "no.such.key.for.logs=1")
	createTopic(t, newAdmin(t, b), "logged", 1, nil)
	if code := b.Stop(); code != 0 {
		t.Errorf("SIGTERM: exit status %d", code)
	}
	lines := 0
	for _, line := range strings.Split(b.Stderr(), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines++
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("stderr line is not JSON (%v): %s", err, line)
			continue
		}
		level, _ := entry["level"].(string)
		if _, ok := entry["message"].(string); !ok || level == "" {
			t.Errorf("log line without level or message: %s", line)
		}
		if strings.Contains(line, "no.such.key.for.logs") && level != "warn" {
			t.Errorf("unknown key logged at level %q, want warn: %s", level, line)
		}
	}
	if lines == 0 {
		t.Errorf("nothing logged on stderr")
	}
}
