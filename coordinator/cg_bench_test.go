package coordinator

import (
	"fmt"
	"testing"
)

// benchGroup is a Stable KIP-848 group of n members on a topic of parts partitions.
func benchGroup(b *testing.B, n int, parts int32) (*harness, *TopicsImage) {
	im := NewTopicsImage(1, []TopicInfo{{ID: tid(1), Name: "t1", Partitions: parts}})
	h := newHarness(nil, testConfig())
	req := uint64(0)
	for i := 0; i < n; i++ {
		req++
		h.step(&ConsumerGroupHeartbeat{Req: req, Version: 1, Group: "g", MemberID: fmt.Sprintf("m%04d", i), RebalanceTimeoutMs: 30000,
			SubscribedTopicNames: []string{"t1"}, Topics: []TopicIDPartitions{}, Image: im})
	}
	// Heartbeat (reporting what each member owns) until the group is Stable.
	for round := 0; round < 10 && h.m.groups["g"].cg.state() != CGStable; round++ {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("m%04d", i)
			mem := h.m.groups["g"].cg.members[id]
			req++
			h.step(&ConsumerGroupHeartbeat{Req: req, Version: 1, Group: "g", MemberID: id, MemberEpoch: mem.epoch, RebalanceTimeoutMs: -1,
				Topics: toTopicIDPartitions(mem.assigned), Image: im})
		}
	}
	if st := h.m.groups["g"].cg.state(); st != CGStable {
		b.Fatalf("group %s after joining %d members", st, n)
	}
	h.records = nil
	return h, im
}

// A steady heartbeat of one member of a 100-member group (no change, no record).
func BenchmarkConsumerGroupHeartbeat(b *testing.B) {
	h, im := benchGroup(b, 100, 300)
	mem := h.m.groups["g"].cg.members["m0042"]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.replies = map[uint64]any{}
		h.step(&ConsumerGroupHeartbeat{Req: 1, Version: 1, Group: "g", MemberID: mem.id, MemberEpoch: mem.epoch, RebalanceTimeoutMs: -1, Image: im})
	}
}

// A member joining a 100-member group of 300 partitions: new epoch, uniform target
// assignment for 101 members, records; then it leaves again.
func BenchmarkConsumerGroupJoin(b *testing.B) {
	h, im := benchGroup(b, 100, 300)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.replies = map[uint64]any{}
		h.records = nil
		h.step(&ConsumerGroupHeartbeat{Req: 1, Version: 1, Group: "g", MemberID: "new", MemberEpoch: 0, RebalanceTimeoutMs: 30000,
			SubscribedTopicNames: []string{"t1"}, Topics: []TopicIDPartitions{}, Image: im})
		h.step(&ConsumerGroupHeartbeat{Req: 2, Version: 1, Group: "g", MemberID: "new", MemberEpoch: -1, Image: im})
	}
}
