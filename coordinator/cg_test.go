package coordinator

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Event scripts for KIP-848 consumer groups. Topics are t1 (id 1), t2 (id 2), ... and
// assignments are written "t1:0,1 t2:3".

var cgImage = NewTopicsImage(1, []TopicInfo{
	{ID: tid(1), Name: "t1", Partitions: 4},
	{ID: tid(2), Name: "t2", Partitions: 2},
	{ID: tid(3), Name: "other", Partitions: 1},
})

type hbOpt func(*ConsumerGroupHeartbeat)

func subscribe(names ...string) hbOpt {
	return func(e *ConsumerGroupHeartbeat) { e.SubscribedTopicNames = names }
}
func regex(r string) hbOpt       { return func(e *ConsumerGroupHeartbeat) { e.SubscribedTopicRegex = &r } }
func instance(id string) hbOpt   { return func(e *ConsumerGroupHeartbeat) { e.InstanceID = &id } }
func assignor(name string) hbOpt { return func(e *ConsumerGroupHeartbeat) { e.ServerAssignor = &name } }
func rebalanceMs(ms int32) hbOpt {
	return func(e *ConsumerGroupHeartbeat) { e.RebalanceTimeoutMs = ms }
}
func version(v int16) hbOpt       { return func(e *ConsumerGroupHeartbeat) { e.Version = v } }
func image(im *TopicsImage) hbOpt { return func(e *ConsumerGroupHeartbeat) { e.Image = im } }
func inGroup(g string) hbOpt      { return func(e *ConsumerGroupHeartbeat) { e.Group = g } }
func noTopics() hbOpt             { return func(e *ConsumerGroupHeartbeat) { e.Topics = nil } }
func owning(spec string) hbOpt {
	return func(e *ConsumerGroupHeartbeat) { e.Topics = parseOwned(spec) }
}
func rawHB(f func(*ConsumerGroupHeartbeat)) hbOpt { return f }

// parseOwned reads "t1:0,1 t2:3" into owned partitions.
func parseOwned(spec string) []TopicIDPartitions {
	out := []TopicIDPartitions{}
	for _, part := range strings.Fields(spec) {
		name, ps, _ := strings.Cut(part, ":")
		t, _ := cgImage.topic(name)
		tp := TopicIDPartitions{ID: t.ID}
		for _, p := range strings.Split(ps, ",") {
			var n int32
			fmt.Sscan(p, &n)
			tp.Partitions = append(tp.Partitions, n)
		}
		out = append(out, tp)
	}
	return out
}

// cgJoin sends an epoch-0 heartbeat (v1) subscribing to t1 unless told otherwise.
func cgJoin(req uint64, member string, opts ...hbOpt) op {
	return cgHB(req, member, 0, append([]hbOpt{subscribe("t1"), owning(""), rebalanceMs(30000)}, opts...)...)
}

// cgHB sends a heartbeat with the given epoch (nothing else set unless told).
func cgHB(req uint64, member string, epoch int32, opts ...hbOpt) op {
	return func(t *testing.T, h *harness) {
		e := &ConsumerGroupHeartbeat{Req: req, Version: 1, Group: "g", MemberID: member, MemberEpoch: epoch,
			RebalanceTimeoutMs: -1, ClientID: "client-" + member, ClientHost: "/10.0.0.9", Image: cgImage}
		for _, o := range opts {
			o(e)
		}
		h.step(e)
	}
}

// wantHB checks a heartbeat answer: epoch and assignment ("-": no assignment sent).
func wantHB(req uint64, epoch int32, assigned string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r, ok := replyOf(t, h, req).(ConsumerGroupHeartbeatResult)
		if !ok {
			t.Fatalf("request %d: not a heartbeat result", req)
		}
		if r.Err != 0 {
			t.Fatalf("request %d: error %s (%s), want epoch %d", req, errName(r.Err), r.ErrMsg, epoch)
		}
		got := "-"
		if r.HasAssignment {
			got = renderIDs(r.Assignment)
		}
		if r.MemberEpoch != epoch || got != assigned {
			t.Fatalf("request %d: epoch %d assignment %q; want %d %q", req, r.MemberEpoch, got, epoch, assigned)
		}
	}
}

func wantHBErr(req uint64, code int16, msg string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r := replyOf(t, h, req).(ConsumerGroupHeartbeatResult)
		if r.Err != code || msg != "" && r.ErrMsg != msg {
			t.Fatalf("request %d: %s %q, want %s %q", req, errName(r.Err), r.ErrMsg, errName(code), msg)
		}
	}
}

func renderIDs(tps []TopicIDPartitions) string {
	var parts []string
	for _, tp := range tps {
		name, _ := cgImage.nameOf(tp.ID)
		ps := make([]string, len(tp.Partitions))
		for i, p := range tp.Partitions {
			ps[i] = fmt.Sprint(p)
		}
		parts = append(parts, name+":"+strings.Join(ps, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func renderAssignment(a assignment) string { return renderIDs(toTopicIDPartitions(a)) }

// wantCG checks the group: state, group epoch, assignment epoch.
func wantCG(state CGState, epoch, assignmentEpoch int32) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		g := h.m.groups["g"]
		if g == nil || g.cg == nil {
			t.Fatalf("no consumer group g; want %s", state)
		}
		cg := g.cg
		if cg.state() != state || cg.groupEpoch != epoch || cg.assignmentEpoch != assignmentEpoch {
			t.Fatalf("group %s epoch %d assignment epoch %d; want %s %d %d", cg.state(), cg.groupEpoch, cg.assignmentEpoch, state, epoch, assignmentEpoch)
		}
	}
}

// wantMember checks a member: epoch, state, assigned and pending revocation.
func wantMember(id string, epoch int32, state int8, assigned, revoking string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		mem := h.m.groups["g"].cg.members[id]
		if mem == nil {
			t.Fatalf("member %s is not in the group", id)
		}
		got := fmt.Sprintf("%d %s [%s] [%s]", mem.epoch, memberStateName(mem.state), renderAssignment(mem.assigned), renderAssignment(mem.pendingRevocation))
		want := fmt.Sprintf("%d %s [%s] [%s]", epoch, memberStateName(state), assigned, revoking)
		if got != want {
			t.Fatalf("member %s: %s; want %s", id, got, want)
		}
	}
}

func wantNoMember(id string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if mem := h.m.groups["g"].cg.members[id]; mem != nil {
			t.Fatalf("member %s still in the group (epoch %d)", id, mem.epoch)
		}
	}
}

func wantTarget(id, want string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if got := renderAssignment(h.m.groups["g"].cg.target[id]); got != want {
			t.Fatalf("target of %s: %q, want %q", id, got, want)
		}
	}
}

// twoMembers: m1 joins and takes t1 whole, m2 joins; m1 revokes half, m2 then gets it.
func twoMembers() []op {
	return []op{
		cgJoin(1, "m1"),
		wantHB(1, 1, "t1:0,1,2,3"), wantCG(CGStable, 1, 1), wantMember("m1", 1, msStable, "t1:0,1,2,3", ""),
		cgJoin(2, "m2"),
		wantHB(2, 2, ""), // m2 moves to epoch 2 but its partitions are still m1's
		wantCG(CGReconciling, 2, 2), wantMember("m2", 2, msUnreleasedPartitions, "", ""),
		wantTarget("m1", "t1:0,1"), wantTarget("m2", "t1:2,3"),
		cgHB(3, "m1", 1),
		wantHB(3, 1, "t1:0,1"), wantMember("m1", 1, msUnrevokedPartitions, "t1:0,1", "t1:2,3"),
		cgHB(4, "m2", 2), wantHB(4, 2, "-"), // still held: nothing yet (revocation comes first)
		cgHB(5, "m1", 1, owning("t1:0,1")),
		wantHB(5, 2, "-"), wantMember("m1", 2, msStable, "t1:0,1", ""),
		cgHB(6, "m2", 2),
		wantHB(6, 2, "t1:2,3"), wantMember("m2", 2, msStable, "t1:2,3", ""),
		wantCG(CGStable, 2, 2),
	}
}

func TestConsumerGroupReconciliation(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "a second member gets partitions only after the first revoked them", ops: twoMembers()},
		{name: "a heartbeat still reporting the revoked partitions keeps the member waiting", ops: script(twoMembers()[:13], []op{
			cgHB(10, "m1", 1, owning("t1:0,1,2")),
			wantHB(10, 1, "-"), wantMember("m1", 1, msUnrevokedPartitions, "t1:0,1", "t1:2,3"),
			cgHB(11, "m2", 2), wantHB(11, 2, "-"),
		})},
		{name: "a full heartbeat gets the assignment again", ops: script(twoMembers(), []op{
			cgHB(7, "m2", 2, subscribe("t1"), rebalanceMs(30000), owning("t1:2,3")),
			wantHB(7, 2, "t1:2,3"),
		})},
		{name: "a member that leaves gives its partitions back", ops: script(twoMembers(), []op{
			cgHB(7, "m2", -1), wantHB(7, -1, "-"), wantNoMember("m2"), wantCG(CGAssigning, 3, 2),
			cgHB(8, "m1", 2), wantHB(8, 3, "t1:0,1,2,3"), wantCG(CGStable, 3, 3),
		})},
		{name: "subscribing to another topic bumps the group epoch", ops: script(twoMembers(), []op{
			cgHB(7, "m2", 2, subscribe("t1", "t2")),
			// Heterogeneous now: m2 alone takes t2, so it gives t1:2 to m1 (3 partitions each).
			wantCG(CGReconciling, 3, 3), wantTarget("m1", "t1:0,1,2"), wantTarget("m2", "t1:3 t2:0,1"),
			wantHB(7, 2, "t1:3"), wantMember("m2", 2, msUnrevokedPartitions, "t1:3", "t1:2"),
			cgHB(8, "m2", 2, owning("t1:3")), wantHB(8, 3, "t1:3 t2:0,1"),
			cgHB(9, "m1", 2), wantHB(9, 3, "t1:0,1,2"), wantCG(CGStable, 3, 3),
		})},
		{name: "range assignor on request", ops: []op{
			cgJoin(1, "m1", assignor("range")), cgJoin(2, "m2", assignor("range")),
			wantTarget("m1", "t1:0,1"), wantTarget("m2", "t1:2,3"),
		}},
		{name: "the group is empty after everyone left and a rejoin starts again", ops: script(twoMembers(), []op{
			cgHB(7, "m1", -1), cgHB(8, "m2", -1), wantCG(CGEmpty, 4, 2),
			cgJoin(9, "m3"), wantHB(9, 5, "t1:0,1,2,3"), wantCG(CGStable, 5, 5),
		})},
	})
}

func TestConsumerGroupEpochs(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "an epoch ahead of the member's is fenced", ops: script(twoMembers(), []op{
			cgHB(7, "m1", 5), wantHBErr(7, errFencedMemberEpoch, "The consumer group member has a greater member epoch (5) than the one known by the group coordinator (2). The member must abandon all its partitions and rejoin."),
		})},
		{name: "an old epoch is fenced", ops: script(twoMembers(), []op{
			cgJoin(7, "m3"), // epoch 3: m1 must revoke
			cgJoin(8, "m1"), wantHBErr(8, errFencedMemberEpoch, ""),
			cgHB(9, "m1", 1), wantHBErr(9, errFencedMemberEpoch, ""), // the previous epoch, but no partitions reported
		})},
		{name: "the previous epoch with a subset of the partitions is accepted", ops: script(twoMembers(), []op{
			// m1's answer with epoch 2 was lost; it comes back with epoch 1 owning t1:0,1.
			cgHB(7, "m1", 1, owning("t1:0,1")), wantHB(7, 2, "-"),
			cgHB(8, "m1", 1, owning("t1:0,1,2")), wantHBErr(8, errFencedMemberEpoch, ""),
		})},
		{name: "a rejoin with epoch 0 right after joining is the lost-answer case", ops: []op{
			cgJoin(1, "m1"), cgJoin(2, "m1"), wantHB(2, 1, "t1:0,1,2,3"), wantCG(CGStable, 1, 1),
		}},
		{name: "unknown member and unknown group", ops: script(twoMembers(), []op{
			cgHB(7, "nobody", 2), wantHBErr(7, errUnknownMemberID, ""),
			cgHB(8, "m1", 2, inGroup("other-group")), wantHBErr(8, errGroupIDNotFound, "Consumer group other-group not found."),
			cgHB(9, "nobody", -1), wantHBErr(9, errUnknownMemberID, ""),
		})},
		{name: "a classic group of another protocol type is not a consumer group", ops: []op{
			join(1, "a", ptype("connect")), cgJoin(2, "m1"), wantHBErr(2, errGroupIDNotFound, "Group g is not a consumer group"),
		}},
		{name: "a classic group with a malformed subscription cannot be upgraded", ops: []op{
			join(1, "a"), cgJoin(2, "m1"), wantHBErr(2, errGroupIDNotFound, "Cannot upgrade the classic group g to consumer group because the embedded consumer protocol is malformed."),
		}},
	})
}

func TestConsumerGroupBadRequests(t *testing.T) {
	empty := ""
	runScripts(t, []scriptCase{{name: "requests Kafka refuses", ops: []op{
		cgJoin(1, ""), wantHBErr(1, errInvalidRequest, "MemberId can't be empty."),
		cgJoin(2, "m1", inGroup(" ")), wantHBErr(2, errInvalidRequest, "GroupId can't be empty."),
		cgJoin(3, "m1", instance("")), wantHBErr(3, errInvalidRequest, "InstanceId can't be empty."),
		cgJoin(4, "m1", rebalanceMs(-1)), wantHBErr(4, errInvalidRequest, "RebalanceTimeoutMs must be provided in first request."),
		cgJoin(5, "m1", noTopics()), wantHBErr(5, errInvalidRequest, "TopicPartitions must be empty when (re-)joining."),
		cgJoin(6, "m1", owning("t1:0")), wantHBErr(6, errInvalidRequest, "TopicPartitions must be empty when (re-)joining."),
		cgJoin(7, "m1", subscribe()), wantHBErr(7, errInvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."),
		cgHB(8, "m1", -2), wantHBErr(8, errInvalidRequest, "InstanceId can't be null."),
		cgHB(9, "m1", -3), wantHBErr(9, errInvalidRequest, "MemberEpoch is invalid."),
		cgJoin(10, "m1", assignor("sticky")), wantHBErr(10, errUnsupportedAssignor, "ServerAssignor sticky is not supported. Supported assignors: uniform, range."),
		cgJoin(11, "m1", subscribe(), regex("(unclosed")), wantHBErr(11, errInvalidRegex, ""),
		cgJoin(12, "m1", rawHB(func(e *ConsumerGroupHeartbeat) { e.RackID = &empty })), wantHBErr(12, errInvalidRequest, "RackId can't be empty."),
		// v0: the coordinator picks the member id.
		cgJoin(13, "", version(0)), wantHB(13, 1, "t1:0,1,2,3"),
	}}})
}

func TestConsumerGroupRegex(t *testing.T) {
	more := NewTopicsImage(2, []TopicInfo{
		{ID: tid(1), Name: "t1", Partitions: 4},
		{ID: tid(2), Name: "t2", Partitions: 2},
		{ID: tid(3), Name: "other", Partitions: 1},
		{ID: tid(4), Name: "t3", Partitions: 1},
	})
	runScripts(t, []scriptCase{{name: "a regular expression resolves to the topics it fully matches", ops: []op{
		cgJoin(1, "m1", subscribe(), regex("t[0-9]")),
		wantHB(1, 1, "t1:0,1,2,3 t2:0,1"),
		// A new matching topic is picked up at the next heartbeat after the refresh interval.
		cgHB(2, "m1", 1, image(more)), wantHB(2, 1, "-"),
		advance(regexRefreshIntervalMs + 1),
		cgHB(3, "m1", 1, image(more)), wantCG(CGStable, 2, 2),
		func(t *testing.T, h *harness) {
			r := replyOf(t, h, 3).(ConsumerGroupHeartbeatResult)
			if r.MemberEpoch != 2 || len(r.Assignment) != 3 {
				t.Fatalf("after the new topic: %+v", r)
			}
		},
		// The regex goes away with its last subscriber.
		cgHB(4, "m1", 2, subscribe("t1"), regex("")),
		func(t *testing.T, h *harness) {
			if n := len(h.m.groups["g"].cg.regexes); n != 0 {
				t.Fatalf("%d regular expressions left", n)
			}
		},
	}}})
}

func TestConsumerGroupTimeouts(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "a member whose session expires loses its partitions", cfg: func(c *Config) { c.ConsumerSessionTimeoutMs = 10000 }, ops: script(twoMembers(), []op{
			advance(9000), cgHB(7, "m1", 2), wantHB(7, 2, "-"),
			advance(1500), // m2 said nothing for 10.5 s
			wantNoMember("m2"), wantCG(CGAssigning, 3, 2),
			cgHB(8, "m1", 2), wantHB(8, 3, "t1:0,1,2,3"),
		})},
		{name: "a member that does not revoke in its rebalance timeout is fenced", ops: []op{
			cgJoin(1, "m1", rebalanceMs(5000)), cgJoin(2, "m2"),
			cgHB(3, "m1", 1), wantMember("m1", 1, msUnrevokedPartitions, "t1:0,1", "t1:2,3"),
			advance(4999), cgHB(4, "m2", 2), wantHB(4, 2, "-"),
			advance(1), wantNoMember("m1"), wantCG(CGAssigning, 3, 2),
			cgHB(5, "m2", 2), wantHB(5, 3, "t1:0,1,2,3"),
		}},
	})
}

func TestConsumerGroupStaticMembers(t *testing.T) {
	runScripts(t, []scriptCase{{name: "a static member leaves for a while and comes back with a new id", ops: []op{
		cgJoin(1, "m1", instance("i1")), cgJoin(2, "m2", instance("i2")),
		cgHB(3, "m1", 1), cgHB(4, "m1", 1, owning("t1:0,1")), cgHB(5, "m2", 2),
		wantMember("m2", 2, msStable, "t1:2,3", ""),
		cgHB(6, "m2", -2, instance("i2")), wantHB(6, -2, "-"),
		wantMember("m2", -2, msStable, "t1:2,3", ""), wantCG(CGReconciling, 2, 2),
		// Another member cannot take i2's partitions meanwhile: no epoch bump.
		cgHB(7, "m1", 2), wantHB(7, 2, "-"),
		// The restarted instance takes over m2's assignment under a new member id.
		cgJoin(8, "m2b", instance("i2")), wantHB(8, 2, "t1:2,3"),
		wantNoMember("m2"), wantMember("m2b", 2, msStable, "t1:2,3", ""), wantCG(CGStable, 2, 2),
		// The old id is fenced; a third process with the same instance id is refused.
		cgHB(9, "m2", 2, instance("i2")), wantHBErr(9, errFencedInstanceID, ""),
		cgJoin(10, "m2c", instance("i2")), wantHBErr(10, errUnreleasedInstanceID, ""),
	}}})
}

func TestConsumerGroupCommitAndFetch(t *testing.T) {
	commitCG := func(req uint64, member string, epoch int32, version int16) op {
		return func(t *testing.T, h *harness) {
			h.step(&CommitOffsets{Req: req, Version: version, Group: "g", MemberID: member, Generation: epoch, Offsets: []CommitOffset{off("t1", 0, 5)}})
		}
	}
	fetchCG := func(req uint64, member *string, epoch int32) op {
		return func(t *testing.T, h *harness) {
			h.step(&FetchOffsets{Req: req, Group: "g", MemberID: member, MemberEpoch: epoch, Topics: []TopicPartitions{{Topic: "t1", Partitions: []int32{0}}}})
		}
	}
	m1, nobody := "m1", "nobody"
	runScripts(t, []scriptCase{{name: "commits and fetches check the member epoch", ops: script(twoMembers(), []op{
		commitCG(10, "m1", 2, 9), wantErr(10, 0),
		commitCG(11, "m1", 1, 9), wantErr(11, errStaleMemberEpoch),
		commitCG(12, "m1", 2, 8), wantErr(12, errUnsupportedVersionErr),
		commitCG(13, "nobody", 2, 9), wantErr(13, errUnknownMemberID),
		commitCG(14, "", -1, 9), wantErr(14, errUnknownMemberID), // the group has members
		fetchCG(15, &m1, 2), fetchCG(16, &m1, 1), fetchCG(17, &nobody, 2), fetchCG(18, nil, -1),
		func(t *testing.T, h *harness) {
			for req, want := range map[uint64]int16{15: 0, 16: errStaleMemberEpoch, 17: errUnknownMemberID, 18: 0} {
				if r := replyOf(t, h, req).(FetchResult); r.Err != want {
					t.Fatalf("fetch %d: %s, want %s", req, errName(r.Err), errName(want))
				}
			}
			if r := replyOf(t, h, 15).(FetchResult); r.Offsets[0].Offset != 5 {
				t.Fatalf("fetched %+v", r.Offsets)
			}
		},
	})}})
}

func TestConsumerGroupAdmin(t *testing.T) {
	runScripts(t, []scriptCase{{name: "list, describe and delete", ops: script(twoMembers(), []op{
		join(20, "a", groupName("classic")), advance(3000),
		func(t *testing.T, h *harness) {
			h.step(&ListGroups{Req: 21})
			h.step(&ListGroups{Req: 22, Types: []string{"Consumer"}})
			h.step(&ListGroups{Req: 23, States: []string{"stable"}, Types: []string{"consumer", "classic"}})
			h.step(&DescribeGroups{Req: 24, Groups: []string{"g"}})
			h.step(&ConsumerGroupDescribe{Req: 25, Groups: []string{"g", "classic", "nope"}, Image: cgImage})
			h.step(&DeleteGroups{Req: 26, Groups: []string{"g"}})
			all := h.replies[21].(ListResult).Groups
			if len(all) != 2 || all[1] != (GroupListing{Group: "g", ProtocolType: "consumer", State: "Stable", Type: "consumer"}) ||
				all[0].Type != "classic" || all[0].State != "CompletingRebalance" {
				t.Fatalf("list: %+v", all)
			}
			if l := h.replies[22].(ListResult).Groups; len(l) != 1 || l[0].Group != "g" {
				t.Fatalf("types filter: %+v", l)
			}
			if l := h.replies[23].(ListResult).Groups; len(l) != 1 || l[0].Group != "g" {
				t.Fatalf("states filter: %+v", l)
			}
			if d := h.replies[24].(DescribeResult).Groups[0]; d.State != "Dead" || d.Err != errGroupIDNotFound || d.ErrMsg != "Group g is not a classic group." {
				t.Fatalf("classic describe of a consumer group: %+v", d)
			}
			ds := h.replies[25].(ConsumerGroupDescribeResult).Groups
			d := ds[0]
			if d.Err != 0 || d.State != "Stable" || d.Epoch != 2 || d.AssignmentEpoch != 2 || d.Assignor != "uniform" || len(d.Members) != 2 {
				t.Fatalf("describe: %+v", d)
			}
			if mem := d.Members[1]; mem.MemberID != "m2" || mem.ClientID != "client-m2" || mem.MemberEpoch != 2 ||
				len(mem.Assignment) != 1 || mem.Assignment[0].Name != "t1" || fmt.Sprint(mem.TargetAssignment[0].Partitions) != "[2 3]" {
				t.Fatalf("member: %+v", mem)
			}
			if ds[1].Err != errGroupIDNotFound || ds[1].ErrMsg != "Group classic is not a consumer group." || ds[2].Err != errGroupIDNotFound {
				t.Fatalf("describe of others: %+v", ds[1:])
			}
			if e := h.replies[26].(DeleteGroupsResult).Errs[0]; e != errNonEmptyGroup {
				t.Fatalf("delete of a live group: %s", errName(e))
			}
		},
		cgHB(30, "m1", -1), cgHB(31, "m2", -1),
		func(t *testing.T, h *harness) {
			h.step(&DeleteGroups{Req: 32, Groups: []string{"g"}})
			if e := h.replies[32].(DeleteGroupsResult).Errs[0]; e != 0 {
				t.Fatalf("delete of an empty group: %s", errName(e))
			}
		},
		wantNoGroup(),
	})}})
}

// A coordinator that loads the partition rebuilds every consumer group exactly: the
// records written are the state.
func TestConsumerGroupFailover(t *testing.T) {
	cases := map[string][]op{
		"reconciling":  twoMembers()[:13],
		"stable":       twoMembers(),
		"static leave": script(twoMembers(), []op{cgJoin(7, "m3", instance("i3")), cgHB(8, "m3", -2, instance("i3"))}),
		"regex":        {cgJoin(1, "m1", subscribe(), regex("t.*")), cgJoin(2, "m2", subscribe("other"))},
		"left":         script(twoMembers(), []op{cgHB(7, "m1", -1)}),
		"deleted":      script(twoMembers(), []op{cgHB(7, "m1", -1), cgHB(8, "m2", -1), func(t *testing.T, h *harness) { h.step(&DeleteGroups{Req: 9, Groups: []string{"g"}}) }}),
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			for _, o := range ops {
				o(t, h)
			}
			before := dumpCG(h.m)
			m := reload(t, logOf(t, h))
			if after := dumpCG(m); after != before {
				t.Fatalf("after reload:\n%s\nbefore:\n%s", after, before)
			}
		})
	}
}

// dumpCG renders every consumer group's hard state.
func dumpCG(m *Machine) string {
	var b strings.Builder
	ids := make([]string, 0, len(m.groups))
	for id := range m.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		cg := m.groups[id].cg
		if cg == nil {
			fmt.Fprintf(&b, "%s classic\n", id)
			continue
		}
		fmt.Fprintf(&b, "%s %s epoch=%d assignment=%d\n", id, cg.state(), cg.groupEpoch, cg.assignmentEpoch)
		for _, mid := range cg.memberIDs() {
			mem := cg.members[mid]
			fmt.Fprintf(&b, "  %s epoch=%d prev=%d %s inst=%q sub=%v re=%q rt=%d assigned=[%s] revoking=[%s] target=[%s]\n", mid, mem.epoch, mem.prevEpoch,
				memberStateName(mem.state), mem.instanceID, mem.subscribedNames, mem.subscribedRegex, mem.rebalanceTimeoutMs,
				renderAssignment(mem.assigned), renderAssignment(mem.pendingRevocation), renderAssignment(cg.target[mid]))
		}
		var subs []string
		for n, t := range cg.subscription {
			subs = append(subs, fmt.Sprintf("%s/%d", n, t.partitions))
		}
		sort.Strings(subs)
		var res []string
		for r, v := range cg.regexes {
			res = append(res, fmt.Sprintf("%s=%v", r, v.topics))
		}
		sort.Strings(res)
		fmt.Fprintf(&b, "  subscription %v regexes %v static %v\n", subs, res, cg.static)
	}
	return b.String()
}

// A failed append leaves the group as it was before the request.
func TestConsumerGroupAppendFailureRestores(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, o := range twoMembers() {
		o(t, h)
	}
	before := dumpCG(h.m)
	failAppends(errNotCoordinatorCode)(t, h)
	cgJoin(50, "m3")(t, h)
	wantHBErr(50, errNotCoordinatorCode, "")(t, h)
	if after := dumpCG(h.m); after != before {
		t.Fatalf("after a failed append:\n%s\nbefore:\n%s", after, before)
	}
}

var errNotCoordinatorCode = kerr.NotCoordinator.Code

// group.consumer.reconciling.heartbeat.interval.ms: members not at their target poll sooner.
func TestConsumerGroupReconcilingHeartbeatInterval(t *testing.T) {
	interval := func(req uint64, want int32) op {
		return func(t *testing.T, h *harness) {
			t.Helper()
			if r := replyOf(t, h, req).(ConsumerGroupHeartbeatResult); r.HeartbeatIntervalMs != want {
				t.Fatalf("request %d: heartbeat interval %d, want %d", req, r.HeartbeatIntervalMs, want)
			}
		}
	}
	runScripts(t, []scriptCase{
		{name: "Kafka's single interval by default", ops: []op{cgJoin(1, "m1"), cgJoin(2, "m2"), interval(1, 5000), interval(2, 5000)}},
		{name: "a shorter one while reconciling", cfg: func(c *Config) { c.ReconcilingHeartbeatIntervalMs = 200 }, ops: script(twoMembers(), []op{
			interval(1, 5000), // m1 alone, at its target
			interval(2, 200),  // m2 waits for m1's partitions
			interval(3, 200),  // m1 must revoke
			interval(5, 5000), interval(6, 5000),
		})},
	})
}
