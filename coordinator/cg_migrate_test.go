package coordinator

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Online upgrade and downgrade between the classic protocol and KIP-848
// (group.consumer.migration.policy).

// consumerSub is a JoinGroup protocol "range" with a real consumer protocol subscription.
func consumerSub(topics ...string) joinOpt {
	return func(j *JoinGroup) {
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Version, meta.Topics = 3, topics
		j.Protocols = []Protocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
		j.Image = cgImage
	}
}

// consumerAssign is a consumer protocol assignment of partitions of t1.
func consumerAssign(ps ...int32) string {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 3
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t1", Partitions: ps}}
	return string(a.AppendTo(nil))
}

// decodeAssign renders a SyncGroup answer's consumer protocol assignment.
func decodeAssign(t *testing.T, b []byte) string {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("assignment %x: %v", b, err)
	}
	var parts []string
	for _, tp := range a.Topics {
		sort.Slice(tp.Partitions, func(i, j int) bool { return tp.Partitions[i] < tp.Partitions[j] })
		parts = append(parts, fmt.Sprintf("%s:%v", tp.Topic, tp.Partitions))
	}
	return strings.Join(parts, " ")
}

func wantSyncAssign(req uint64, want string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r, ok := replyOf(t, h, req).(SyncResult)
		if !ok || r.Err != 0 {
			t.Fatalf("request %d: %+v", req, r)
		}
		if got := decodeAssign(t, r.Assignment); got != want {
			t.Fatalf("request %d: assignment %q, want %q", req, got, want)
		}
	}
}

// classicStable2 makes a classic group of a-1 and b-1 (consumer protocol, t1) Stable at
// generation 1 with t1:0,1 and t1:2,3.
func classicStable2() []op {
	return []op{
		join(1, "a", consumerSub("t1")), join(2, "b", consumerSub("t1")), advance(6000),
		wantJoin(1, "a-1", 1, "a-1", 2),
		syncReq(3, "b-1", 1, nil),
		syncReq(4, "a-1", 1, map[string]string{"a-1": consumerAssign(0, 1), "b-1": consumerAssign(2, 3)}),
		wantGroup(Stable, 1, "a-1", "b-1"),
	}
}

func TestOnlineUpgradeAndDowngrade(t *testing.T) {
	syncCG := func(req uint64, member string, gen int32) op {
		return func(t *testing.T, h *harness) {
			h.step(&SyncGroup{Req: req, Group: "g", MemberID: member, Generation: gen, Image: cgImage})
		}
	}
	runScripts(t, []scriptCase{
		{name: "a KIP-848 member joining a classic consumer group upgrades it", ops: script(classicStable2(), []op{
			cgJoin(10, "m1"),
			// Converted at generation 1, then bumped for the new member.
			wantHB(10, 2, ""), wantCG(CGReconciling, 2, 2),
			wantMember("a-1", 1, msStable, "t1:0,1", ""), wantMember("b-1", 1, msStable, "t1:2,3", ""),
			func(t *testing.T, h *harness) {
				if got := len(h.m.groups["g"].cg.target["m1"]); got == 0 {
					t.Fatalf("the new member has no target assignment")
				}
			},
			// The classic members are told to rejoin; a rejoin is answered at once, with the
			// member's epoch as generation and no leader.
			hb(11, "b-1", 1), wantErr(11, errRebalance),
			classicRejoin(12, "b-1", 2, 3),
			func(t *testing.T, h *harness) {
				r := replyOf(t, h, 12).(JoinResult)
				if r.Err != 0 || r.Generation != 1 || r.Protocol != "range" || r.ProtocolType != "consumer" || r.Leader != "" {
					t.Fatalf("classic rejoin: %+v", r)
				}
			},
			// b-1 gives up t1:3 for m1: first it revokes (SyncGroup gives t1:2, Heartbeat
			// asks for another rejoin), then it moves to epoch 2.
			wantMember("b-1", 1, msUnrevokedPartitions, "t1:2", "t1:3"),
			syncCG(13, "b-1", 1), wantSyncAssign(13, "t1:[2]"),
			hb(14, "b-1", 1), wantErr(14, errRebalance),
			cgHB(15, "m1", 2), wantHB(15, 2, "-"), // t1:3 is still b-1's
			classicRejoin(16, "b-1", 2),
			wantMember("b-1", 2, msStable, "t1:2", ""),
			syncCG(17, "b-1", 2), wantSyncAssign(17, "t1:[2]"),
			hb(18, "b-1", 2), wantErr(18, errNone),
			cgHB(19, "m1", 2), wantHB(19, 2, "t1:3"),
			// a-1 keeps what it has and moves on at its rejoin.
			classicRejoin(20, "a-1", 0, 1), wantMember("a-1", 2, msStable, "t1:0,1", ""),
			syncCG(21, "a-1", 2), wantSyncAssign(21, "t1:[0 1]"),
			wantCG(CGStable, 2, 2),
			// The last KIP-848 member leaves: the group goes back to the classic protocol
			// and its classic members rebalance.
			cgHB(30, "m1", -1), wantHB(30, -1, "-"),
			func(t *testing.T, h *harness) {
				g := h.m.groups["g"]
				if g.cg != nil || g.state != PreparingRebalance || g.generation != 2 || g.protocolType != "consumer" || len(g.members) != 2 {
					t.Fatalf("after the downgrade: cg %v state %s generation %d members %d", g.cg != nil, g.state, g.generation, len(g.members))
				}
			},
			rejoin(31, "a-1", consumerSub("t1")), rejoin(32, "b-1", consumerSub("t1")),
			wantJoin(31, "a-1", 3, "a-1", 2),
		})},
		{name: "the upgrade is refused when the policy is disabled", cfg: func(c *Config) { c.MigrationPolicy = MigrationDisabled }, ops: script(classicStable2(), []op{
			cgJoin(10, "m1"), wantHBErr(10, errGroupIDNotFound, "Group g is not a consumer group"),
		})},
		{name: "no downgrade when the policy only upgrades", cfg: func(c *Config) { c.MigrationPolicy = MigrationUpgrade }, ops: script(classicStable2(), []op{
			cgJoin(10, "m1"), cgHB(11, "m1", -1),
			func(t *testing.T, h *harness) {
				if h.m.groups["g"].cg == nil {
					t.Fatal("downgraded although group.consumer.migration.policy=upgrade")
				}
			},
		})},
		{name: "a classic member joins a KIP-848 group and leaves", ops: script([]op{cgJoin(1, "m1")}, []op{
			join(2, "c", consumerSub("t1"), v4()),
			func(t *testing.T, h *harness) {
				r := replyOf(t, h, 2).(JoinResult)
				if r.Err != kerr.MemberIDRequired.Code || r.MemberID == "" {
					t.Fatalf("first join: %+v", r)
				}
				h.step(&JoinGroup{Req: 3, Group: "g", MemberID: r.MemberID, ClientID: "c", SessionTimeoutMs: 10000, RebalanceTimeoutMs: 60000,
					ProtocolType: "consumer", Protocols: consumerSubProtocols("t1"), RequireKnownMemberID: true, Image: cgImage})
				jr := replyOf(t, h, 3).(JoinResult)
				if jr.Err != 0 || jr.Generation != 2 {
					t.Fatalf("second join: %+v", jr)
				}
				h.step(&LeaveGroup{Req: 4, Group: "g", Members: []LeaveMember{{MemberID: r.MemberID}}})
				if lr := replyOf(t, h, 4).(LeaveResult); lr.Err != 0 || lr.Members[0] != 0 {
					t.Fatalf("leave: %+v", lr)
				}
			},
			wantCG(CGAssigning, 3, 2),
		})},
		{name: "a classic join to an empty KIP-848 group makes it classic", ops: []op{
			cgJoin(1, "m1"), cgHB(2, "m1", -1), wantCG(CGEmpty, 2, 1),
			join(3, "a", consumerSub("t1")), advance(3000), wantJoin(3, "a-1", 1, "a-1", 1),
			func(t *testing.T, h *harness) {
				if h.m.groups["g"].cg != nil {
					t.Fatal("still a consumer group")
				}
			},
		}},
	})
}

// classicRejoin is a JoinGroup of a classic member reporting the t1 partitions it owns.
func classicRejoin(req uint64, member string, owned ...int32) op {
	return func(t *testing.T, h *harness) {
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Version, meta.Topics = 3, []string{"t1"}
		if len(owned) > 0 {
			meta.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "t1", Partitions: owned}}
		}
		h.step(&JoinGroup{Req: req, Group: "g", MemberID: member, ClientID: strings.Split(member, "-")[0], SessionTimeoutMs: 10000,
			RebalanceTimeoutMs: 60000, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: meta.AppendTo(nil)}}, Image: cgImage})
	}
}

func consumerSubProtocols(topics ...string) []Protocol {
	j := &JoinGroup{}
	consumerSub(topics...)(j)
	return j.Protocols
}

// An upgraded group, its classic members and all, comes back the same from the log.
func TestOnlineUpgradeFailover(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, o := range script(classicStable2(), []op{cgJoin(10, "m1")}) {
		o(t, h)
	}
	before := dumpCG(h.m)
	m := reload(t, logOf(t, h))
	if after := dumpCG(m); after != before {
		t.Fatalf("after reload:\n%s\nbefore:\n%s", after, before)
	}
	if mem := m.groups["g"].cg.members["a-1"]; mem.classic == nil || mem.classic.sessionTimeoutMs != 10000 {
		t.Fatalf("classic member metadata lost: %+v", mem.classic)
	}
}

// A downgraded group comes back from the log as the classic group it became.
func TestOnlineDowngradeFailover(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, o := range script(classicStable2(), []op{cgJoin(10, "m1"), cgHB(11, "m1", -1)}) {
		o(t, h)
	}
	m := reload(t, logOf(t, h))
	g := m.groups["g"]
	if g == nil || g.cg != nil || g.generation != 2 || g.protocolType != "consumer" || len(g.members) != 2 {
		t.Fatalf("after reload: %+v", g)
	}
	for _, id := range g.order {
		if len(g.members[id].assignment) == 0 {
			t.Fatalf("member %s lost its assignment", id)
		}
	}
}
