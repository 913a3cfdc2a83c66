package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// listAllTopics returns the topics the broker lists in an all-topics
// Metadata request. It uses a fresh client each time: kgo answers kadm's
// all-topics listing from a cache for a few seconds, and CreatePartitions
// evicts the topic from that cache, so a long-lived client can list a topic
// as missing right after adding partitions to it.
func listAllTopics(t testing.TB, b *Broker) kadm.TopicDetails {
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	cl := newClient(t, b)
	defer cl.Close()
	tds, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatalf("Metadata (all topics): %v", err)
	}
	return tds
}

func TestCreateTopics(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)

	configs := map[string]*string{
		"retention.ms":   kadm.StringPtr("3600000"),
		"cleanup.policy": kadm.StringPtr("delete"),
	}
	created := createTopic(t, adm, "orders", 3, configs)
	if created.ID == (kadm.TopicID{}) {
		t.Errorf("CreateTopics orders: topic id is all zero")
	}
	if created.NumPartitions != 3 || created.ReplicationFactor != 1 {
		t.Errorf("CreateTopics orders: answered %d partitions, rf %d; want 3, 1", created.NumPartitions, created.ReplicationFactor)
	}

	tds := listAllTopics(t, b)
	td, ok := tds["orders"]
	if !ok {
		t.Fatalf("Metadata: topic orders not listed; got %v", tds.Names())
	}
	if td.Err != nil {
		t.Fatalf("Metadata orders: %v", td.Err)
	}
	if td.ID != created.ID {
		t.Errorf("Metadata orders: id %v, CreateTopics said %v", td.ID, created.ID)
	}
	if len(td.Partitions) != 3 {
		t.Fatalf("Metadata orders: %d partitions, want 3", len(td.Partitions))
	}
	for p := int32(0); p < 3; p++ {
		pd, ok := td.Partitions[p]
		switch {
		case !ok:
			t.Errorf("Metadata orders: partition %d missing", p)
		case pd.Err != nil:
			t.Errorf("Metadata orders-%d: %v", p, pd.Err)
		case pd.Leader != 0 || len(pd.Replicas) != 1 || pd.Replicas[0] != 0 || len(pd.ISR) != 1 || pd.ISR[0] != 0:
			t.Errorf("Metadata orders-%d: leader %d replicas %v isr %v; want leader 0, [0], [0]", p, pd.Leader, pd.Replicas, pd.ISR)
		}
	}

	ctx := testCtx(t, 15*time.Second)
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatalf("DescribeConfigs orders: %v", err)
	}
	rc, err := rcs.On("orders", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("DescribeConfigs orders: %v %v", err, rc.Err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	for k, v := range configs {
		if got[k] != *v {
			t.Errorf("DescribeConfigs orders: %s = %q, want %q", k, got[k], *v)
		}
	}

	errCases := []struct {
		name       string
		topic      string
		partitions int32
		rf         int16
		configs    map[string]*string
		want       error
	}{
		{"already exists", "orders", 1, 1, nil, kerr.TopicAlreadyExists},
		{"zero partitions", "zero-parts", 0, 1, nil, kerr.InvalidPartitions},
		{"replication factor above broker count", "rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"slash in name", "a/b", 1, 1, nil, kerr.InvalidTopicException},
		{"dot dot", "..", 1, 1, nil, kerr.InvalidTopicException},
		{"dot", ".", 1, 1, nil, kerr.InvalidTopicException},
		{"empty name", "", 1, 1, nil, kerr.InvalidTopicException},
		{"250 characters", strings.Repeat("x", 250), 1, 1, nil, kerr.InvalidTopicException},
		{"space in name", "a b", 1, 1, nil, kerr.InvalidTopicException},
		{"bad config value", "bad-config", 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("bogus")}, kerr.InvalidConfig},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 15*time.Second)
			resps, err := adm.CreateTopics(ctx, tc.partitions, tc.rf, tc.configs, tc.topic)
			if err != nil {
				t.Fatalf("CreateTopics %q: request failed: %v", tc.topic, err)
			}
			r, ok := resps[tc.topic]
			if !ok {
				t.Fatalf("CreateTopics %q: topic missing from the response %v", tc.topic, resps)
			}
			if !errors.Is(r.Err, tc.want) {
				t.Errorf("CreateTopics %q partitions=%d rf=%d: error %v, want %v", tc.topic, tc.partitions, tc.rf, r.Err, tc.want)
			}
		})
	}

	t.Run("broker defaults with -1", func(t *testing.T) {
		r := createTopic(t, adm, "defaults", -1, nil)
		if r.NumPartitions != 1 || r.ReplicationFactor != 1 {
			t.Errorf("CreateTopics defaults (-1, -1): %d partitions rf %d, want num.partitions 1, rf 1", r.NumPartitions, r.ReplicationFactor)
		}
	})

	t.Run("validate only creates nothing", func(t *testing.T) {
		ctx := testCtx(t, 15*time.Second)
		resps, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, "validated")
		if err != nil {
			t.Fatalf("CreateTopics validate_only: %v", err)
		}
		if e := resps["validated"].Err; e != nil {
			t.Fatalf("CreateTopics validate_only validated: %v", e)
		}
		resps, err = adm.ValidateCreateTopics(ctx, 1, 1, nil, "orders")
		if err != nil {
			t.Fatalf("CreateTopics validate_only orders: %v", err)
		}
		if e := resps["orders"].Err; !errors.Is(e, kerr.TopicAlreadyExists) {
			t.Errorf("CreateTopics validate_only on existing topic: %v, want TOPIC_ALREADY_EXISTS", e)
		}
		if tds := listAllTopics(t, b); tds.Has("validated") {
			t.Errorf("validate_only created topic validated")
		}
		if _, err := os.Stat(filepath.Join(b.LogDir(), "validated-0")); err == nil {
			t.Errorf("validate_only created directory validated-0")
		}
	})

	t.Run("failed creations left nothing behind", func(t *testing.T) {
		tds := listAllTopics(t, b)
		for _, name := range []string{"zero-parts", "rf3", "bad-config", "a/b", ".."} {
			if tds.Has(name) {
				t.Errorf("failed CreateTopics left topic %q listed", name)
			}
		}
	})

	t.Run("partition directories", func(t *testing.T) {
		for p := 0; p < 3; p++ {
			seg := filepath.Join(b.LogDir(), fmt.Sprintf("orders-%d", p), "00000000000000000000.log")
			if _, err := os.Stat(seg); err != nil {
				t.Errorf("partition orders-%d: %v", p, err)
			}
		}
	})
}

func TestDeleteAndRecreateTopic(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic = "phoenix"
	first := createTopic(t, adm, topic, 2, nil)

	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 30*time.Second)
	for i := 0; i < 50; i++ {
		if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("old-%d", i))).FirstErr(); err != nil {
			t.Fatalf("produce old-%d: %v", i, err)
		}
	}
	prod.Close()
	ends := endOffsets(t, adm, topic)
	if ends[0]+ends[1] != 50 {
		t.Fatalf("end offsets before delete: %v, want a total of 50", ends)
	}

	if _, err := adm.DeleteTopic(ctx, topic); err != nil {
		t.Fatalf("DeleteTopics %s: %v", topic, err)
	}
	eventually(t, 10*time.Second, func() error {
		if listAllTopics(t, b).Has(topic) {
			return errors.New("topic still listed in Metadata after DeleteTopics")
		}
		for p := 0; p < 2; p++ {
			dir := filepath.Join(b.LogDir(), fmt.Sprintf("%s-%d", topic, p))
			if _, err := os.Stat(dir); err == nil {
				return fmt.Errorf("directory %s still present after DeleteTopics", dir)
			}
		}
		return nil
	})
	if _, err := adm.DeleteTopic(ctx, topic); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("DeleteTopics of a deleted topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	second := createTopic(t, adm, topic, 2, nil)
	if second.ID == first.ID || second.ID == (kadm.TopicID{}) {
		t.Errorf("recreated topic id %v, old id %v: want a new non-zero id", second.ID, first.ID)
	}
	for p, o := range endOffsets(t, adm, topic) {
		if o != 0 {
			t.Errorf("recreated %s-%d: end offset %d, want 0", topic, p, o)
		}
	}

	prod2 := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Value: []byte("new-0"), Partition: 1}
	res := prod2.ProduceSync(ctx, r)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce to recreated topic: %v", err)
	}
	if got := res[0].Record.Offset; got != 0 {
		t.Errorf("first record after recreate: offset %d, want 0", got)
	}
	recs := consumeN(t, b, topic, 2, 1, 20*time.Second, 500*time.Millisecond)
	if len(recs) != 1 || string(recs[0].Value) != "new-0" || recs[0].Offset != 0 {
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("p%d@%d=%s", r.Partition, r.Offset, r.Value))
		}
		t.Errorf("consume recreated topic from start: got %v, want only new-0 at offset 0", got)
	}
}

func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	const topic = "grow"
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 2, nil)
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t, 30*time.Second)
	for p := int32(0); p < 2; p++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("before")}).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, p, err)
		}
	}

	resps, err := adm.UpdatePartitions(ctx, 4, topic)
	if err != nil || resps.Error() != nil {
		t.Fatalf("CreatePartitions %s to 4: %v %v", topic, err, resps.Error())
	}
	eventually(t, 10*time.Second, func() error {
		td := listAllTopics(t, b)[topic]
		if len(td.Partitions) != 4 {
			return fmt.Errorf("Metadata %s: %d partitions after CreatePartitions to 4", topic, len(td.Partitions))
		}
		for _, pd := range td.Partitions {
			if pd.Err != nil || pd.Leader != 0 {
				return fmt.Errorf("Metadata %s-%d: leader %d error %v", topic, pd.Partition, pd.Leader, pd.Err)
			}
		}
		return nil
	})
	ends := endOffsets(t, adm, topic)
	want := map[int32]int64{0: 1, 1: 1, 2: 0, 3: 0}
	for p, w := range want {
		if ends[p] != w {
			t.Errorf("%s-%d: end offset %d, want %d", topic, p, ends[p], w)
		}
	}
	prod2 := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	res := prod2.ProduceSync(ctx, &kgo.Record{Partition: 3, Value: []byte("new partition")})
	if err := res.FirstErr(); err != nil || res[0].Record.Offset != 0 {
		t.Errorf("produce to new partition %s-3: %v, offset %d (want 0)", topic, err, res[0].Record.Offset)
	}

	errCases := []struct {
		name  string
		topic string
		set   int
		want  error
	}{
		{"fewer partitions", topic, 3, kerr.InvalidPartitions},
		{"same count", topic, 4, kerr.InvalidPartitions},
		{"unknown topic", "no-such-topic", 2, kerr.UnknownTopicOrPartition},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := adm.UpdatePartitions(testCtx(t, 15*time.Second), tc.set, tc.topic)
			if err != nil {
				t.Fatalf("CreatePartitions request: %v", err)
			}
			if got := rs[tc.topic].Err; !errors.Is(got, tc.want) {
				t.Errorf("CreatePartitions %s to %d: %v, want %v", tc.topic, tc.set, got, tc.want)
			}
		})
	}

	t.Run("validate only", func(t *testing.T) {
		rs, err := adm.ValidateCreatePartitions(testCtx(t, 15*time.Second), 2, topic)
		if err != nil || rs[topic].Err != nil {
			t.Fatalf("CreatePartitions validate_only +2: %v %v", err, rs[topic].Err)
		}
		if n := len(listAllTopics(t, b)[topic].Partitions); n != 4 {
			t.Errorf("validate_only CreatePartitions changed %s to %d partitions", topic, n)
		}
	})
}
