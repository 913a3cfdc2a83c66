package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/protocol"
)

func TestAPITableIsConsistent(t *testing.T) {
	s := &Server{}
	table, ranges := buildAPITable(s)
	if len(table) != len(ranges) {
		t.Fatalf("table has %d rows, advertised list %d", len(table), len(ranges))
	}
	for i, r := range ranges {
		if i > 0 && ranges[i-1].Key >= r.Key {
			t.Fatalf("advertised list not sorted by key at %d", i)
		}
		row, ok := table[r.Key]
		if !ok || row.min != r.Min || row.max != r.Max {
			t.Fatalf("key %d: advertised %d-%d, table %+v", r.Key, r.Min, r.Max, row)
		}
		if row.handle == nil {
			t.Fatalf("key %d has no handler", r.Key)
		}
		req := kmsg.RequestForKey(r.Key)
		if req == nil {
			t.Fatalf("key %d unknown to kmsg", r.Key)
		}
		if r.Min < 0 || r.Min > r.Max || r.Max > req.MaxVersion() {
			t.Fatalf("key %d (%s): range %d-%d outside 0-%d", r.Key, kmsg.NameForKey(r.Key), r.Min, r.Max, req.MaxVersion())
		}
	}
}

// KIP-848's APIs are advertised exactly when group.coordinator.rebalance.protocols has
// "consumer" (franz-go and the Java client pick the protocol from ApiVersions).
func TestAPITableConsumerProtocol(t *testing.T) {
	has := func(s *Server) bool {
		table, _ := buildAPITable(s)
		_, hb := table[68]
		_, d := table[69]
		if hb != d {
			t.Fatalf("ConsumerGroupHeartbeat advertised %v, ConsumerGroupDescribe %v", hb, d)
		}
		return hb
	}
	cfg := config.Default()
	if !has(&Server{cfg: cfg}) {
		t.Fatal("the default config does not advertise ConsumerGroupHeartbeat")
	}
	cfg.GroupCoordinatorRebalanceProtocols = []string{"classic"}
	if has(&Server{cfg: cfg}) {
		t.Fatal("ConsumerGroupHeartbeat advertised with group.coordinator.rebalance.protocols=classic")
	}
}

// TestAdvertisedVersionsForClients pins the choices clients depend on (client-compat.md).
func TestAdvertisedVersionsForClients(t *testing.T) {
	_, ranges := buildAPITable(&Server{})
	got := map[int16]protocol.APIRange{}
	for _, r := range ranges {
		got[r.Key] = r
	}
	cases := []struct {
		name string
		key  int16
		ok   func(r protocol.APIRange) bool
	}{
		{"Produce min 0 (old librdkafka compression)", 0, func(r protocol.APIRange) bool { return r.Min == 0 }},
		{"Produce max <= 11 (v12 implies transaction.version 2, v13 topic ids)", 0, func(r protocol.APIRange) bool { return r.Max <= 11 && r.Max >= 9 }},
		{"Fetch min <= 4 (librdkafka MsgVer2)", 1, func(r protocol.APIRange) bool { return r.Min <= 4 }},
		{"Fetch max <= 12 (no topic ids in Fetch)", 1, func(r protocol.APIRange) bool { return r.Max <= 12 }},
		{"Metadata from 0 (kafka-python 2.0.2)", 3, func(r protocol.APIRange) bool { return r.Min == 0 && r.Max >= 10 }},
		{"ApiVersions 0-4 at least 3", 18, func(r protocol.APIRange) bool { return r.Min == 0 && r.Max >= 3 }},
		{"ListOffsets with max timestamp (v7)", 2, func(r protocol.APIRange) bool { return r.Max >= 7 }},
		{"ConsumerGroupHeartbeat v1 (franz-go and Kafka 4 clients need it for KIP-848)", 68, func(r protocol.APIRange) bool { return r.Max >= 1 }},
		{"ListGroups v5 (types filter)", 16, func(r protocol.APIRange) bool { return r.Max >= 5 }},
	}
	for _, c := range cases {
		r, ok := got[c.key]
		if !ok || !c.ok(r) {
			t.Errorf("%s: got %+v (present %v)", c.name, r, ok)
		}
	}
	for _, absent := range []int16{71, 72, 75} {
		if _, ok := got[absent]; ok {
			t.Errorf("key %d (%s) advertised but not implemented", absent, kmsg.NameForKey(absent))
		}
	}
}
