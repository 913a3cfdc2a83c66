package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// sameJSON compares two JSON documents field by field, in any key order.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not a JSON object: %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("golden is not a JSON object: %s: %v", want, err)
	}
	for k, wv := range w {
		gv, ok := g[k]
		if !ok {
			t.Errorf("field %q missing in %s", k, got)
			continue
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("field %q = %#v, want %#v", k, gv, wv)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("unexpected field %q in %s", k, got)
		}
	}
}

const testNow = 1700000000000

func TestJSONShapes(t *testing.T) {
	id := [16]byte{0x6b, 0x3c, 0x29, 0x80, 0x4d, 0x1e, 0x4f, 0x0c, 0x9a, 0x44, 0x0f, 0x2e, 0x7a, 0x3b, 0x62, 0x01}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"cluster id", encodeClusterID("aBcDeFgHiJkLmNoPqRsTuV"), `{"version":"1","id":"aBcDeFgHiJkLmNoPqRsTuV"}`},
		{"broker v5", encodeBroker(BrokerInfo{ID: 1, Rack: "r1", Endpoints: []Endpoint{
			{Listener: "INTERNAL", SecurityProtocol: "SASL_SSL", Host: "::1", Port: 9093},
			{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "h1", Port: 9092},
		}}, testNow), `{"features":{},"listener_security_protocol_map":{"INTERNAL":"SASL_SSL","PLAINTEXT":"PLAINTEXT"},
			"endpoints":["INTERNAL://[::1]:9093","PLAINTEXT://h1:9092"],"jmx_port":-1,"port":9092,"host":"h1",
			"version":5,"timestamp":"1700000000000","rack":"r1"}`},
		{"broker without plaintext", encodeBroker(BrokerInfo{ID: 2, Endpoints: []Endpoint{
			{Listener: "SSL", SecurityProtocol: "SSL", Host: "h2", Port: 9094},
		}}, testNow), `{"features":{},"listener_security_protocol_map":{"SSL":"SSL"},"endpoints":["SSL://h2:9094"],
			"jmx_port":-1,"port":-1,"host":null,"version":5,"timestamp":"1700000000000"}`},
		{"topic", encodeTopic(TopicAssignment{Name: "t", ID: id, Partitions: map[int32][]int32{0: {0, 1}, 1: {1, 0}, 10: {2}}}),
			`{"version":3,"partitions":{"0":[0,1],"1":[1,0],"10":[2]},"topic_id":"` + EncodeUUID(id) + `","adding_replicas":{},"removing_replicas":{}}`},
		{"topic reassigning", encodeTopic(TopicAssignment{Name: "t", ID: id, Partitions: map[int32][]int32{0: {0, 1}},
			AddingReplicas: map[int32][]int32{0: {1}}, RemovingReplicas: map[int32][]int32{0: {2}}}),
			`{"version":3,"partitions":{"0":[0,1]},"topic_id":"` + EncodeUUID(id) + `","adding_replicas":{"0":[1]},"removing_replicas":{"0":[2]}}`},
		{"partition state", encodePartitionState(PartitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2}, ControllerEpoch: 3}),
			`{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":4,"isr":[1,2]}`},
		{"partition state no leader", encodePartitionState(PartitionState{Leader: -1, LeaderEpoch: 5, ControllerEpoch: 3}),
			`{"controller_epoch":3,"leader":-1,"version":1,"leader_epoch":5,"isr":[]}`},
		{"partition state recovering", encodePartitionState(PartitionState{Leader: 2, LeaderEpoch: 6, ISR: []int32{2}, ControllerEpoch: 3, LeaderRecoveryState: 1}),
			`{"controller_epoch":3,"leader":2,"version":1,"leader_epoch":6,"isr":[2],"leader_recovery_state":1}`},
		{"topic config", encodeConfig(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}),
			`{"version":1,"config":{"retention.ms":"1000","cleanup.policy":"compact"}}`},
		{"empty config", encodeConfig(nil), `{"version":1,"config":{}}`},
		{"config change", encodeConfigChange("topics", "t1"), `{"version":2,"entity_path":"topics/t1"}`},
		{"producer id block", encodeProducerIDBlock(3, 1000, 1999), `{"version":1,"broker":3,"block_start":"1000","block_end":"1999"}`},
		{"controller", encodeController(7, testNow), `{"version":2,"brokerid":7,"timestamp":"1700000000000","kraftControllerEpoch":-1}`},
		{"reassign partitions", encodeReassignments([]PartitionReassignment{{Topic: "t", Partition: 1, Replicas: []int32{2, 3}}}),
			`{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[2,3]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { sameJSON(t, tc.got, tc.want) })
	}
	if got := string(encodeControllerEpoch(12)); got != "12" {
		t.Errorf("controller epoch %q, want 12", got)
	}
}

// Payloads as Kafka writes them (other key orders, other versions) read back.
func TestDecodeKafkaPayloads(t *testing.T) {
	t.Run("broker v5 from Kafka", func(t *testing.T) {
		b, err := decodeBroker(1, []byte(`{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","INTERNAL":"SASL_SSL"},
			"endpoints":["PLAINTEXT://kafka1:9092","INTERNAL://[fe80::1]:9093"],"rack":"a","jmx_port":9999,
			"features":{"metadata.version":{"min_version":1,"max_version":21}},"host":"kafka1","timestamp":"1700000000000","port":9092,"version":5}`))
		if err != nil {
			t.Fatal(err)
		}
		want := BrokerInfo{ID: 1, Rack: "a", Endpoints: []Endpoint{
			{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "kafka1", Port: 9092},
			{Listener: "INTERNAL", SecurityProtocol: "SASL_SSL", Host: "fe80::1", Port: 9093},
		}}
		if !reflect.DeepEqual(b, want) {
			t.Fatalf("got %+v, want %+v", b, want)
		}
	})
	t.Run("broker v1", func(t *testing.T) {
		b, err := decodeBroker(4, []byte(`{"jmx_port":-1,"timestamp":"1","host":"old","version":1,"port":9092}`))
		if err != nil {
			t.Fatal(err)
		}
		want := []Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "old", Port: 9092}}
		if !reflect.DeepEqual(b.Endpoints, want) {
			t.Fatalf("endpoints %+v", b.Endpoints)
		}
	})
	t.Run("broker bad endpoint", func(t *testing.T) {
		for _, doc := range []string{`{"endpoints":["nohost"]}`, `{"endpoints":["PLAINTEXT://h:port"]}`, `{"endpoints":"x"}`, `not json`} {
			if _, err := decodeBroker(1, []byte(doc)); err == nil {
				t.Errorf("decoded %s", doc)
			}
		}
	})
	t.Run("topic without id", func(t *testing.T) {
		ta, err := decodeTopic("t", []byte(`{"version":1,"partitions":{"1":[2,1],"0":[1,2]}}`))
		if err != nil {
			t.Fatal(err)
		}
		if ta.ID != ([16]byte{}) || !reflect.DeepEqual(ta.Partitions, map[int32][]int32{0: {1, 2}, 1: {2, 1}}) {
			t.Fatalf("got %+v", ta)
		}
		if _, err := decodeTopic("t", []byte(`{"partitions":{"x":[1]}}`)); err == nil {
			t.Fatal("accepted a bad partition key")
		}
	})
	t.Run("partition state", func(t *testing.T) {
		st, err := decodePartitionState("p", []byte(`{"isr":[3,1],"leader_recovery_state":1,"leader_epoch":9,"version":1,"leader":3,"controller_epoch":2}`))
		if err != nil {
			t.Fatal(err)
		}
		want := PartitionState{Leader: 3, LeaderEpoch: 9, ISR: []int32{3, 1}, ControllerEpoch: 2, LeaderRecoveryState: 1}
		if !reflect.DeepEqual(st, want) {
			t.Fatalf("got %+v, want %+v", st, want)
		}
	})
	t.Run("producer block with numbers", func(t *testing.T) {
		s, e, err := decodeProducerIDBlock([]byte(`{"version":1,"broker":0,"block_start":5000,"block_end":"5999"}`))
		if err != nil || s != 5000 || e != 5999 {
			t.Fatalf("got %d %d %v", s, e, err)
		}
	})
	t.Run("config change v1", func(t *testing.T) {
		typ, name, err := decodeConfigChange("c", []byte(`{"version":1,"entity_type":"topics","entity_name":"t"}`))
		if err != nil || typ != "topics" || name != "t" {
			t.Fatalf("got %q %q %v", typ, name, err)
		}
		typ, name, err = decodeConfigChange("c", []byte(`{"version":2,"entity_path":"users/alice/clients/app"}`))
		if err != nil || typ != "users" || name != "alice/clients/app" {
			t.Fatalf("got %q %q %v", typ, name, err)
		}
	})
	t.Run("reassign partitions from Kafka's tool", func(t *testing.T) {
		rs, err := decodeReassignments([]byte(`{"partitions":[{"topic":"a","partition":0,"replicas":[3,1],"log_dirs":["any","any"]},{"partition":2,"replicas":[4],"topic":"b"}],"version":1}`))
		want := []PartitionReassignment{{Topic: "a", Partition: 0, Replicas: []int32{3, 1}}, {Topic: "b", Partition: 2, Replicas: []int32{4}}}
		if err != nil || !reflect.DeepEqual(rs, want) {
			t.Fatalf("got %+v %v", rs, err)
		}
		for _, bad := range []string{`{"version":2,"partitions":[]}`, `{"version":1,"partitions":[{"partition":1,"replicas":[1]}]}`, `[]`} {
			if _, err := decodeReassignments([]byte(bad)); err == nil {
				t.Errorf("decoded %s", bad)
			}
		}
	})
	t.Run("controller", func(t *testing.T) {
		id, err := decodeController([]byte(`{"version":1,"brokerid":4,"timestamp":"1"}`))
		if err != nil || id != 4 {
			t.Fatalf("got %d %v", id, err)
		}
		if _, err := decodeController([]byte(`{"version":1}`)); err == nil {
			t.Fatal("accepted a controller without brokerid")
		}
	})
}

func TestUUID(t *testing.T) {
	for i := 0; i < 100; i++ {
		id, err := RandomUUID()
		if err != nil {
			t.Fatal(err)
		}
		s := EncodeUUID(id)
		if len(s) != 22 || strings.ContainsAny(s, "=+/") || strings.HasPrefix(s, "-") {
			t.Fatalf("bad encoding %q", s)
		}
		back, err := DecodeUUID(s)
		if err != nil || back != id {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	}
	// Kafka's rendering of a known id (MSB then LSB, big-endian).
	if got := EncodeUUID([16]byte{15: 1}); got != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("Uuid(0,1) rendered %q", got)
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := DecodeUUID(bad); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

func openMeta(t *testing.T, dir string) (*Embedded, *Metadata) {
	t.Helper()
	e, err := OpenEmbedded(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	m := NewMetadata(e)
	m.now = func() time.Time { return time.UnixMilli(testNow) }
	return e, m
}

func sessionMeta(t *testing.T, e *Embedded) (*Session, *Metadata) {
	t.Helper()
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m := NewMetadata(s)
	m.now = func() time.Time { return time.UnixMilli(testNow) }
	return s, m
}

func TestEnsurePaths(t *testing.T) {
	e, m := openMeta(t, t.TempDir())
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := m.EnsurePaths(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	for _, p := range []string{"/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/topics", "/config/changes",
		"/config/brokers", "/config/clients", "/config/users", "/config/ips", "/admin/delete_topics", "/cluster",
		"/consumers", "/isr_change_notification", "/log_dir_event_notification", "/latest_producer_id_block"} {
		ok, st, err := e.Exists(ctx, p)
		if err != nil || !ok || st.EphemeralOwner != 0 || st.DataLength != 0 {
			t.Errorf("%s: exists=%v %+v %v", p, ok, st, err)
		}
	}
}

func TestClusterIDStable(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, m := openMeta(t, dir)
	id, err := m.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeUUID(id); err != nil || len(id) != 22 {
		t.Fatalf("cluster id %q: %v", id, err)
	}
	again, err := m.ClusterID(ctx)
	if err != nil || again != id {
		t.Fatalf("second read %q %v, want %q", again, err, id)
	}
	data, _, err := e.Get(ctx, ClusterIDPath)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, data, `{"version":"1","id":"`+id+`"}`)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_, m = openMeta(t, dir)
	if again, err = m.ClusterID(ctx); err != nil || again != id {
		t.Fatalf("after reopen %q %v, want %q", again, err, id)
	}
}

func TestRegisterBroker(t *testing.T) {
	ctx := context.Background()
	e, m := openMeta(t, t.TempDir())
	if err := m.EnsurePaths(ctx); err != nil {
		t.Fatal(err)
	}
	b0 := BrokerInfo{ID: 0, Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "localhost", 9092}}}
	epoch, err := m.RegisterBroker(ctx, b0)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := e.Get(ctx, BrokerPath(0))
	if err != nil || st.Czxid != epoch || st.EphemeralOwner != e.SessionID() {
		t.Fatalf("registration stat %+v, epoch %d, %v", st, epoch, err)
	}
	// Same session again: same epoch, data updated.
	b0.Rack = "r"
	if again, err := m.RegisterBroker(ctx, b0); err != nil || again != epoch {
		t.Fatalf("re-register in the same session: %d %v (epoch %d)", again, err, epoch)
	}
	s1, m1 := sessionMeta(t, e)
	if _, err := m1.RegisterBroker(ctx, BrokerInfo{ID: 0}); !errors.Is(err, ErrNodeExists) {
		t.Fatalf("another session took broker id 0: %v", err)
	}
	b1 := BrokerInfo{ID: 1, Rack: "r2", Endpoints: []Endpoint{{"SSL", "SSL", "h1", 9093}}}
	epoch1, err := m1.RegisterBroker(ctx, b1)
	if err != nil || epoch1 <= epoch {
		t.Fatalf("broker 1 epoch %d (broker 0: %d): %v", epoch1, epoch, err)
	}
	brokers, err := m.Brokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b0.Epoch, b1.Epoch = epoch, epoch1
	if want := []BrokerInfo{b0, b1}; !reflect.DeepEqual(brokers, want) {
		t.Fatalf("brokers %+v, want %+v", brokers, want)
	}
	// The broker's session ends: its registration goes; a new session gets a newer epoch.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if brokers, _ = m.Brokers(ctx); len(brokers) != 1 || brokers[0].ID != 0 {
		t.Fatalf("after session end: %+v", brokers)
	}
	_, m2 := sessionMeta(t, e)
	epoch2, err := m2.RegisterBroker(ctx, b1)
	if err != nil || epoch2 <= epoch1 {
		t.Fatalf("bounced broker epoch %d, before %d: %v", epoch2, epoch1, err)
	}
}

func TestTopicLifecycle(t *testing.T) {
	ctx := context.Background()
	e, m := openMeta(t, t.TempDir())
	if err := m.EnsurePaths(ctx); err != nil {
		t.Fatal(err)
	}
	id, _ := RandomUUID()
	ta := TopicAssignment{Name: "orders", ID: id, Partitions: map[int32][]int32{0: {0, 1}, 1: {1, 0}}}
	if err := m.CreateTopic(ctx, ta, map[string]string{"retention.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateTopic(ctx, ta, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("second create: %v", err)
	}
	got, version, err := m.Topic(ctx, "orders")
	if err != nil || version != 0 || got.ID != id || !reflect.DeepEqual(got.Partitions, ta.Partitions) {
		t.Fatalf("topic %+v v%d %v", got, version, err)
	}
	if cfg, err := m.TopicConfig(ctx, "orders"); err != nil || !reflect.DeepEqual(cfg, map[string]string{"retention.ms": "60000"}) {
		t.Fatalf("config %v %v", cfg, err)
	}
	data, _, _ := e.Get(ctx, ConfigEntityPath(ConfigTopics, "orders"))
	sameJSON(t, data, `{"version":1,"config":{"retention.ms":"60000"}}`)
	if _, _, err := m.Topic(ctx, "nope"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("missing topic: %v", err)
	}
	// A zero id gets a random one.
	if err := m.CreateTopic(ctx, TopicAssignment{Name: "auto", Partitions: map[int32][]int32{0: {0}}}, nil); err != nil {
		t.Fatal(err)
	}
	if auto, _, _ := m.Topic(ctx, "auto"); auto.ID == ([16]byte{}) || auto.ID == id {
		t.Fatalf("auto id %v", auto.ID)
	}
	if names, err := m.Topics(ctx); err != nil || !reflect.DeepEqual(names, []string{"auto", "orders"}) {
		t.Fatalf("topics %v %v", names, err)
	}
	// CreatePartitions: conditional rewrite.
	got.Partitions[2] = []int32{0, 1}
	if err := m.SetTopicAssignment(ctx, got, version); err != nil {
		t.Fatal(err)
	}
	if err := m.SetTopicAssignment(ctx, got, version); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("stale assignment update: %v", err)
	}
	if again, v, _ := m.Topic(ctx, "orders"); len(again.Partitions) != 3 || v != 1 || again.ID != id {
		t.Fatalf("after update %+v v%d", again, v)
	}
	// Partition states.
	st := PartitionState{Leader: 0, LeaderEpoch: 0, ISR: []int32{0, 1}, ControllerEpoch: 1}
	if err := m.CreatePartitionStates(ctx, "orders", map[int32]PartitionState{0: st, 1: st}); err != nil {
		t.Fatal(err)
	}
	if err := m.CreatePartitionState(ctx, "orders", 2, st); err != nil {
		t.Fatal(err)
	}
	if err := m.CreatePartitionState(ctx, "orders", 0, st); !errors.Is(err, ErrNodeExists) {
		t.Fatalf("second state create: %v", err)
	}
	if err := m.CreatePartitionState(ctx, "nope", 0, st); !errors.Is(err, ErrNoNode) {
		t.Fatalf("state of a missing topic: %v", err)
	}
	data, _, _ = e.Get(ctx, PartitionStatePath("orders", 1))
	sameJSON(t, data, `{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0,1]}`)
	st2 := PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1}, ControllerEpoch: 1}
	nv, err := m.SetPartitionState(ctx, "orders", 1, st2, 0)
	if err != nil || nv != 1 {
		t.Fatalf("set state: v%d %v", nv, err)
	}
	if _, err := m.SetPartitionState(ctx, "orders", 1, st2, 0); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("stale state update: %v", err)
	}
	if back, v, err := m.PartitionState(ctx, "orders", 1); err != nil || v != 1 || !reflect.DeepEqual(back, st2) {
		t.Fatalf("state %+v v%d %v", back, v, err)
	}
	states, versions, err := m.PartitionStates(ctx, "orders")
	if err != nil || len(states) != 3 || versions[1] != 1 || versions[0] != 0 {
		t.Fatalf("states %v %v %v", states, versions, err)
	}
	// Deletion.
	if err := m.MarkTopicForDeletion(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkTopicForDeletion(ctx, "orders"); err != nil {
		t.Fatalf("marking twice: %v", err)
	}
	if err := m.MarkTopicForDeletion(ctx, "nope"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("marking a missing topic: %v", err)
	}
	if marked, err := m.TopicsMarkedForDeletion(ctx); err != nil || !reflect.DeepEqual(marked, []string{"orders"}) {
		t.Fatalf("marked %v %v", marked, err)
	}
	if err := m.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateTopic(ctx, ta, nil); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	if err := m.MarkTopicForDeletion(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateTopic(ctx, TopicAssignment{Name: "orders", Partitions: map[int32][]int32{0: {0}}}, nil); err == nil {
		t.Fatal("created a topic marked for deletion")
	}
	if err := m.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{TopicPath("orders"), ConfigEntityPath(ConfigTopics, "orders"), DeleteTopicPath("orders")} {
		if ok, _, _ := e.Exists(ctx, p); ok {
			t.Errorf("%s survived DeleteTopic", p)
		}
	}
	if err := m.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatalf("deleting a deleted topic: %v", err)
	}
	if names, _ := m.Topics(ctx); !reflect.DeepEqual(names, []string{"auto"}) {
		t.Fatalf("topics after delete %v", names)
	}
}

func TestCreateTopicRejectsBadAssignments(t *testing.T) {
	_, m := openMeta(t, t.TempDir())
	tests := []TopicAssignment{
		{Name: "", Partitions: map[int32][]int32{0: {0}}},
		{Name: "a/b", Partitions: map[int32][]int32{0: {0}}},
		{Name: "..", Partitions: map[int32][]int32{0: {0}}},
		{Name: "t"},
		{Name: "t", Partitions: map[int32][]int32{1: {0}}},
		{Name: "t", Partitions: map[int32][]int32{0: {}}},
		{Name: "t", Partitions: map[int32][]int32{0: {1, 1}}},
	}
	for i, ta := range tests {
		if err := m.CreateTopic(context.Background(), ta, nil); !errors.Is(err, ErrBadArguments) {
			t.Errorf("case %d (%+v): %v", i, ta, err)
		}
	}
}

func TestTopicConfigChangeNotification(t *testing.T) {
	ctx := context.Background()
	e, m := openMeta(t, t.TempDir())
	if err := m.EnsurePaths(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.SetTopicConfig(ctx, "nope", map[string]string{"a": "b"}); !errors.Is(err, ErrNoNode) {
		t.Fatalf("config of a missing topic: %v", err)
	}
	if err := m.CreateTopic(ctx, TopicAssignment{Name: "t1", Partitions: map[int32][]int32{0: {0}}}, nil); err != nil {
		t.Fatal(err)
	}
	if names, _, _ := e.Children(ctx, ConfigChangesPath); len(names) != 0 {
		t.Fatalf("topic creation wrote change notifications %v", names)
	}
	_, _, watch, err := e.ChildrenW(ctx, ConfigChangesPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, cfg := range []map[string]string{{"retention.ms": "1"}, {"retention.ms": "2", "cleanup.policy": "compact"}} {
		if err := m.SetTopicConfig(ctx, "t1", cfg); err != nil {
			t.Fatal(err)
		}
		if got, err := m.TopicConfig(ctx, "t1"); err != nil || !reflect.DeepEqual(got, cfg) {
			t.Fatalf("round %d: config %v %v", i, got, err)
		}
	}
	select {
	case ev := <-watch:
		if ev.Type != EventNodeChildrenChanged {
			t.Fatalf("watch got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification event")
	}
	names, _, err := e.Children(ctx, ConfigChangesPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"config_change_0000000000", "config_change_0000000001"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("notifications %v, want %v", names, want)
	}
	data, _, _ := e.Get(ctx, ConfigChangesPath+"/"+names[1])
	sameJSON(t, data, `{"version":2,"entity_path":"topics/t1"}`)
	changes, err := m.ConfigChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Seq != 0 || changes[1].Seq != 1 || changes[1].EntityType != "topics" ||
		changes[1].EntityName != "t1" || changes[1].Name != names[1] {
		t.Fatalf("changes %+v", changes)
	}
	// Broker configs go the same way.
	if err := m.SetConfig(ctx, ConfigBrokers, "<default>", map[string]string{"log.retention.ms": "5"}); err != nil {
		t.Fatal(err)
	}
	if changes, _ = m.ConfigChanges(ctx); len(changes) != 3 || changes[2].EntityType != "brokers" || changes[2].EntityName != "<default>" {
		t.Fatalf("changes %+v", changes)
	}
	if cfg, err := m.Config(ctx, ConfigBrokers, "7"); err != nil || len(cfg) != 0 {
		t.Fatalf("config without overrides: %v %v", cfg, err)
	}
}

func TestProducerIDBlocks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, m := openMeta(t, dir)
	if err := m.EnsurePaths(ctx); err != nil { // null-data znode, as Kafka leaves it
		t.Fatal(err)
	}
	steps := []struct {
		broker     int32
		size       int64
		start, end int64
	}{
		{0, 1000, 0, 999},
		{1, 1000, 1000, 1999},
		{0, 1, 2000, 2000},
		{2, 500, 2001, 2500},
	}
	for i, s := range steps {
		start, end, err := m.NextProducerIDBlock(ctx, s.broker, s.size)
		if err != nil || start != s.start || end != s.end {
			t.Fatalf("step %d: [%d, %d] %v, want [%d, %d]", i, start, end, err, s.start, s.end)
		}
	}
	data, _, _ := e.Get(ctx, ProducerIDBlockPath)
	sameJSON(t, data, `{"version":1,"broker":2,"block_start":"2001","block_end":"2500"}`)
	if _, _, err := m.NextProducerIDBlock(ctx, 0, 0); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("size 0: %v", err)
	}
	// Concurrent claims from several sessions never overlap.
	type block struct{ start, end int64 }
	var (
		mu     sync.Mutex
		blocks []block
		wg     sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		_, mw := sessionMeta(t, e)
		wg.Add(1)
		go func(w int32) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				s, en, err := mw.NextProducerIDBlock(ctx, w, 10)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blocks = append(blocks, block{s, en})
				mu.Unlock()
			}
		}(int32(w))
	}
	wg.Wait()
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].start < blocks[j].start })
	next := int64(2501)
	for _, b := range blocks {
		if b.start != next || b.end != b.start+9 {
			t.Fatalf("blocks not contiguous: %+v at %d", b, next)
		}
		next = b.end + 1
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_, m = openMeta(t, dir)
	if start, end, err := m.NextProducerIDBlock(ctx, 0, 1000); err != nil || start != next || end != next+999 {
		t.Fatalf("after reopen [%d, %d] %v, want start %d", start, end, err, next)
	}
}

func TestControllerElection(t *testing.T) {
	ctx := context.Background()
	e, _ := openMeta(t, t.TempDir())
	sa, a := sessionMeta(t, e)
	_, b := sessionMeta(t, e)
	if id, ok, err := a.Controller(ctx); err != nil || ok || id != -1 {
		t.Fatalf("controller before election: %d %v %v", id, ok, err)
	}
	won, epoch, zkv, err := a.TryElectController(ctx, 1)
	if err != nil || !won || epoch != 1 {
		t.Fatalf("first election: won=%v epoch=%d zkv=%d %v", won, epoch, zkv, err)
	}
	data, st, _ := e.Get(ctx, ControllerPath)
	sameJSON(t, data, `{"version":2,"brokerid":1,"timestamp":"1700000000000","kraftControllerEpoch":-1}`)
	if st.EphemeralOwner != sa.SessionID() {
		t.Fatalf("/controller owner %d, want %d", st.EphemeralOwner, sa.SessionID())
	}
	edata, est, _ := e.Get(ctx, ControllerEpochPath)
	if string(edata) != "1" || est.Version != zkv {
		t.Fatalf("/controller_epoch %q v%d, zkVersion %d", edata, est.Version, zkv)
	}
	// Again by the same controller: still won, same epoch.
	if won2, epoch2, zkv2, err := a.TryElectController(ctx, 1); err != nil || !won2 || epoch2 != epoch || zkv2 != zkv {
		t.Fatalf("re-election by the controller: %v %d %d %v", won2, epoch2, zkv2, err)
	}
	// Another broker loses while the controller lives.
	if won2, epoch2, zkv2, err := b.TryElectController(ctx, 2); err != nil || won2 || epoch2 != epoch || zkv2 != zkv {
		t.Fatalf("second candidate: %v %d %d %v", won2, epoch2, zkv2, err)
	}
	if id, ok, err := b.Controller(ctx); err != nil || !ok || id != 1 {
		t.Fatalf("controller %d %v %v", id, ok, err)
	}
	// Fenced writes with the controller's zkVersion pass.
	if err := a.CreateTopic(ctx, TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {1}}}, nil); err != nil {
		t.Fatal(err)
	}
	fa := a.Fenced(zkv)
	if err := fa.CreatePartitionState(ctx, "t", 0, PartitionState{Leader: 1, ISR: []int32{1}, ControllerEpoch: epoch}); err != nil {
		t.Fatal(err)
	}
	if v, err := fa.SetPartitionState(ctx, "t", 0, PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1}, ControllerEpoch: epoch}, 0); err != nil || v != 1 {
		t.Fatalf("fenced set: v%d %v", v, err)
	}
	if _, err := fa.SetPartitionState(ctx, "t", 0, PartitionState{}, 0); !errors.Is(err, ErrBadVersion) || errors.Is(err, ErrControllerMoved) {
		t.Fatalf("fenced stale set: %v", err)
	}
	// The controller's session ends; the other broker takes over with a new epoch.
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	won, epoch3, zkv3, err := b.TryElectController(ctx, 2)
	if err != nil || !won || epoch3 != epoch+1 || zkv3 != zkv+1 {
		t.Fatalf("failover: won=%v epoch=%d zkv=%d %v", won, epoch3, zkv3, err)
	}
	// The old controller's fenced writes now fail and change nothing.
	_, stale := sessionMeta(t, e)
	fs := stale.Fenced(zkv)
	if _, err := fs.SetPartitionState(ctx, "t", 0, PartitionState{Leader: 9}, 1); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("stale controller write: %v", err)
	}
	if err := fs.CreatePartitionState(ctx, "t", 1, PartitionState{}); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("stale controller create: %v", err)
	}
	if err := fs.DeleteTopic(ctx, "t"); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("stale controller delete: %v", err)
	}
	if st, v, err := b.PartitionState(ctx, "t", 0); err != nil || st.Leader != 1 || v != 1 {
		t.Fatalf("state after fenced writes: %+v v%d %v", st, v, err)
	}
	// Resigning hands over.
	if err := b.ResignController(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Controller(ctx); ok {
		t.Fatal("controller still registered after resigning")
	}
	if err := b.Fenced(zkv3).DeleteTopic(ctx, "t"); err != nil {
		t.Fatalf("fenced delete by the current epoch: %v", err)
	}
	if ok, _, _ := e.Exists(ctx, TopicPath("t")); ok {
		t.Fatal("topic survived")
	}
}

func TestManyPartitionStatesFast(t *testing.T) {
	ctx := context.Background()
	_, m := openMeta(t, t.TempDir())
	parts := map[int32][]int32{}
	states := map[int32]PartitionState{}
	for p := int32(0); p < 10000; p++ {
		parts[p] = []int32{0}
		states[p] = PartitionState{Leader: 0, ISR: []int32{0}, ControllerEpoch: 1}
	}
	if err := m.CreateTopic(ctx, TopicAssignment{Name: "big", Partitions: parts}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.CreatePartitionStates(ctx, "big", states); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	got, _, err := m.PartitionStates(ctx, "big")
	if err != nil || len(got) != 10000 {
		t.Fatalf("%d states, %v", len(got), err)
	}
	t.Logf("10000 partition states in %v", took)
	if took > 5*time.Second {
		t.Fatalf("10000 partition states took %v", took)
	}
	if err := m.DeleteTopic(ctx, "big"); err != nil {
		t.Fatal(err)
	}
}

func TestMetadataPropagatesStoreErrors(t *testing.T) {
	e, m := openMeta(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]error{}
	_, calls["ClusterID"] = m.ClusterID(ctx)
	_, calls["Brokers"] = m.Brokers(ctx)
	_, calls["RegisterBroker"] = m.RegisterBroker(ctx, BrokerInfo{ID: 1})
	_, _, calls["NextProducerIDBlock"] = m.NextProducerIDBlock(ctx, 0, 10)
	_, _, _, calls["TryElectController"] = m.TryElectController(ctx, 0)
	calls["EnsurePaths"] = m.EnsurePaths(ctx)
	calls["CreateTopic"] = m.CreateTopic(ctx, TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {0}}}, nil)
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Topics(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestSanitizeEntityName(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "a b*c~": "a%20b%2Ac%7E", "user@x.com": "user%40x.com", "ü": "%C3%BC"} {
		if got := SanitizeEntityName(in); got != want {
			t.Errorf("SanitizeEntityName(%q) = %q, want %q", in, got, want)
		}
		if back := DesanitizeEntityName(want); back != in {
			t.Errorf("DesanitizeEntityName(%q) = %q, want %q", want, back, in)
		}
	}
}
