package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errName names a Kafka error code for messages.
func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return fmt.Sprintf("%d %v", code, err)
	}
	return fmt.Sprint(code)
}

// rawJoin is a JoinGroup request for a consumer subscribed to topic.
func rawJoin(group, memberID, topic string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = group
	req.SessionTimeoutMillis = 10000
	req.RebalanceTimeoutMillis = 10000
	req.MemberID = memberID
	req.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return req
}

// rawJoinedMember joins group alone at JoinGroup version v (running the
// MEMBER_ID_REQUIRED round first when the broker asks for it) and completes
// SyncGroup as leader; it returns the member id and generation.
func rawJoinedMember(t *testing.T, c *rawConn, group, topic string, v int16) (string, int32) {
	t.Helper()
	jr := c.roundTrip(rawJoin(group, "", topic), v).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode == kerr.MemberIDRequired.Code {
		jr = c.roundTrip(rawJoin(group, jr.MemberID, topic), v).(*kmsg.JoinGroupResponse)
	}
	if jr.ErrorCode != 0 || jr.MemberID == "" || jr.LeaderID != jr.MemberID || jr.Generation < 1 {
		t.Fatalf("JoinGroup v%d %s: error %s, member %q, leader %q, generation %d; want a leader member of generation >= 1",
			v, group, errName(jr.ErrorCode), jr.MemberID, jr.LeaderID, jr.Generation)
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group = group
	sr.Generation = jr.Generation
	sr.MemberID = jr.MemberID
	sr.ProtocolType = kmsg.StringPtr("consumer")
	sr.Protocol = kmsg.StringPtr("range")
	asg := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic = topic
	at.Partitions = []int32{0}
	asg.Topics = append(asg.Topics, at)
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID = jr.MemberID
	ga.MemberAssignment = asg.AppendTo(nil)
	sr.GroupAssignment = append(sr.GroupAssignment, ga)
	sv := int16(3)
	if v >= 7 {
		sv = 5
	}
	resp := c.roundTrip(sr, sv).(*kmsg.SyncGroupResponse)
	if resp.ErrorCode != 0 || string(resp.MemberAssignment) != string(ga.MemberAssignment) {
		t.Fatalf("SyncGroup v%d %s: error %s, assignment %x; want NONE and the leader's assignment %x",
			sv, group, errName(resp.ErrorCode), resp.MemberAssignment, ga.MemberAssignment)
	}
	return jr.MemberID, jr.Generation
}

// waitCoordinator polls FindCoordinator v3 for group until the broker stops
// answering COORDINATOR_NOT_AVAILABLE (the offsets topic may still be
// loading on first use).
func waitCoordinator(t *testing.T, c *rawConn, group string) *kmsg.FindCoordinatorResponse {
	t.Helper()
	var resp *kmsg.FindCoordinatorResponse
	eventually(t, 20*time.Second, func() error {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		resp = c.roundTrip(req, 3).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode != 0 {
			return fmt.Errorf("FindCoordinator v3 %s: %s", group, errName(resp.ErrorCode))
		}
		return nil
	})
	return resp
}

func TestGroupRawProtocol(t *testing.T) {
	t.Parallel()
	const topic = "raw-groups"
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 2, nil)
	c := dialRaw(t, b)
	waitCoordinator(t, c, "raw-warmup")

	t.Run("ApiVersions", func(t *testing.T) {
		got := advertised(c.roundTrip(apiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse))
		for _, w := range []struct {
			key      int16
			name     string
			min, max int16
		}{
			{8, "OffsetCommit", 0, 9}, {9, "OffsetFetch", 1, 9}, {10, "FindCoordinator", 0, 6},
			{11, "JoinGroup", 0, 9}, {12, "Heartbeat", 0, 4}, {13, "LeaveGroup", 0, 5},
			{14, "SyncGroup", 0, 5}, {15, "DescribeGroups", 0, 5}, {16, "ListGroups", 0, 4},
			{42, "DeleteGroups", 0, 2}, {47, "OffsetDelete", 0, 0},
		} {
			r, ok := got[w.key]
			if !ok || r.min > w.min || r.max < w.max {
				t.Errorf("ApiVersions: %s (key %d) advertised %v (present %v), want at least v%d-v%d", w.name, w.key, r, ok, w.min, w.max)
			}
		}
	})

	t.Run("FindCoordinator", func(t *testing.T) {
		single := waitCoordinator(t, c, "raw-g1")
		if single.NodeID != 0 || single.Host != "127.0.0.1" || single.Port != int32(b.port) {
			t.Errorf("FindCoordinator v3: node %d at %s:%d, want node 0 at %s", single.NodeID, single.Host, single.Port, b.Addr())
		}
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{"raw-g1", "raw-g2", "raw-ünïcode"}
		resp := c.roundTrip(req, 4).(*kmsg.FindCoordinatorResponse)
		if len(resp.Coordinators) != len(req.CoordinatorKeys) {
			t.Fatalf("FindCoordinator v4 with %d keys: %d answers", len(req.CoordinatorKeys), len(resp.Coordinators))
		}
		seen := make(map[string]bool)
		for _, co := range resp.Coordinators {
			seen[co.Key] = true
			if co.ErrorCode != 0 || co.NodeID != 0 || co.Host != "127.0.0.1" || co.Port != int32(b.port) {
				t.Errorf("FindCoordinator v4 key %q: error %s, node %d at %s:%d; want node 0 at %s",
					co.Key, errName(co.ErrorCode), co.NodeID, co.Host, co.Port, b.Addr())
			}
		}
		for _, k := range req.CoordinatorKeys {
			if !seen[k] {
				t.Errorf("FindCoordinator v4: no answer for key %q", k)
			}
		}

		// The transaction key type: the transaction coordinator, found once
		// __transaction_state exists (COORDINATOR_NOT_AVAILABLE while the first
		// request creates it, as Kafka answers), on a connection that stays usable.
		for _, v := range []int16{3, 4} {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType = 1
			req.CoordinatorKey = "raw-txn"
			req.CoordinatorKeys = []string{"raw-txn"}
			code := int16(0)
			switch resp := c.roundTrip(req, v).(*kmsg.FindCoordinatorResponse); {
			case v < 4:
				code = resp.ErrorCode
			case len(resp.Coordinators) != 1:
				t.Errorf("FindCoordinator v4 transaction key: %d answers, want 1", len(resp.Coordinators))
				continue
			default:
				code = resp.Coordinators[0].ErrorCode
			}
			if code != 0 && code != kerr.CoordinatorNotAvailable.Code {
				t.Errorf("FindCoordinator v%d with key type 1 (transaction): %s, want NONE or COORDINATOR_NOT_AVAILABLE", v, kafkaCode(code))
			}
		}
		if again := waitCoordinator(t, c, "raw-g1"); again.NodeID != 0 {
			t.Errorf("FindCoordinator after the transaction key: node %d", again.NodeID)
		}
	})

	t.Run("JoinGroupMemberIDRequired", func(t *testing.T) {
		for _, v := range []int16{4, 5, 9} {
			group := fmt.Sprintf("raw-join-v%d", v)
			first := c.roundTrip(rawJoin(group, "", topic), v).(*kmsg.JoinGroupResponse)
			if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" {
				t.Errorf("JoinGroup v%d with an empty member id: error %s, member id %q; want MEMBER_ID_REQUIRED with a member id",
					v, errName(first.ErrorCode), first.MemberID)
				continue
			}
			second := c.roundTrip(rawJoin(group, first.MemberID, topic), v).(*kmsg.JoinGroupResponse)
			if second.ErrorCode != 0 || second.MemberID != first.MemberID || second.LeaderID != first.MemberID ||
				second.Generation != 1 || second.Protocol == nil || *second.Protocol != "range" || len(second.Members) != 1 {
				t.Errorf("JoinGroup v%d with the given member id: error %s, member %q, leader %q, generation %d, protocol %v, %d members; want NONE, %q as leader of generation 1 with range",
					v, errName(second.ErrorCode), second.MemberID, second.LeaderID, second.Generation, second.Protocol, len(second.Members), first.MemberID)
			}
			if v >= 7 && (second.ProtocolType == nil || *second.ProtocolType != "consumer") {
				t.Errorf("JoinGroup v%d: protocol type %v, want \"consumer\"", v, second.ProtocolType)
			}
		}
	})

	t.Run("JoinGroupV3JoinsDirectly", func(t *testing.T) {
		resp := c.roundTrip(rawJoin("raw-join-v3", "", topic), 3).(*kmsg.JoinGroupResponse)
		if resp.ErrorCode != 0 || resp.MemberID == "" || resp.LeaderID != resp.MemberID || resp.Generation != 1 || len(resp.Members) != 1 {
			t.Errorf("JoinGroup v3 with an empty member id: error %s, member %q, leader %q, generation %d, %d members; want NONE with a member id, leader, generation 1",
				errName(resp.ErrorCode), resp.MemberID, resp.LeaderID, resp.Generation, len(resp.Members))
		}
	})

	t.Run("Heartbeat", func(t *testing.T) {
		for _, v := range []int16{3, 7} {
			group := fmt.Sprintf("raw-hb-v%d", v)
			member, gen := rawJoinedMember(t, c, group, topic, v)
			hv := int16(2)
			if v >= 7 {
				hv = 4
			}
			for _, tc := range []struct {
				name   string
				member string
				gen    int32
				want   int16
			}{
				{"current", member, gen, 0},
				{"stale generation", member, gen - 1, kerr.IllegalGeneration.Code},
				{"future generation", member, gen + 1, kerr.IllegalGeneration.Code},
				{"unknown member", "raw-nobody", gen, kerr.UnknownMemberID.Code},
			} {
				req := kmsg.NewPtrHeartbeatRequest()
				req.Group = group
				req.Generation = tc.gen
				req.MemberID = tc.member
				resp := c.roundTrip(req, hv).(*kmsg.HeartbeatResponse)
				if resp.ErrorCode != tc.want {
					t.Errorf("Heartbeat v%d %s (%s, generation %d): %s, want %s", hv, group, tc.name, tc.gen, errName(resp.ErrorCode), errName(tc.want))
				}
			}
			lr := kmsg.NewPtrLeaveGroupRequest()
			lr.Group = group
			lr.MemberID = member
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = member
			lr.Members = append(lr.Members, lm)
			lv := int16(2)
			if v >= 7 {
				lv = 5
			}
			resp := c.roundTrip(lr, lv).(*kmsg.LeaveGroupResponse)
			if resp.ErrorCode != 0 {
				t.Errorf("LeaveGroup v%d %s: %s", lv, group, errName(resp.ErrorCode))
			}
			if lv >= 3 && (len(resp.Members) != 1 || resp.Members[0].ErrorCode != 0) {
				t.Errorf("LeaveGroup v%d %s: member answers %+v, want one with NONE", lv, group, resp.Members)
			}
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group = group
			hb.Generation = gen
			hb.MemberID = member
			if got := c.roundTrip(hb, hv).(*kmsg.HeartbeatResponse).ErrorCode; got != kerr.UnknownMemberID.Code {
				t.Errorf("Heartbeat v%d after LeaveGroup: %s, want UNKNOWN_MEMBER_ID", hv, errName(got))
			}
		}
	})

	t.Run("OffsetFetchV8TwoGroups", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		want := map[string]map[int32]int64{
			"raw-of-a": {0: 3, 1: 4},
			"raw-of-b": {0: 7},
		}
		for g, at := range want {
			var os kadm.Offsets
			for p, o := range at {
				os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1, Metadata: g})
			}
			if err := adm.CommitAllOffsets(ctx, g, os); err != nil {
				t.Fatalf("CommitOffsets %s: %v", g, err)
			}
		}
		req := kmsg.NewPtrOffsetFetchRequest()
		ga := kmsg.NewOffsetFetchRequestGroup()
		ga.Group = "raw-of-a"
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic = topic
		gt.Partitions = []int32{0, 1}
		ga.Topics = append(ga.Topics, gt)
		gb := kmsg.NewOffsetFetchRequestGroup()
		gb.Group = "raw-of-b" // Topics nil: every committed offset
		req.Groups = append(req.Groups, ga, gb)
		resp := c.roundTrip(req, 8).(*kmsg.OffsetFetchResponse)
		if resp.ErrorCode != 0 || len(resp.Groups) != 2 {
			t.Fatalf("OffsetFetch v8 with two groups: error %s, %d group answers; want NONE and 2", errName(resp.ErrorCode), len(resp.Groups))
		}
		for _, g := range resp.Groups {
			w, ok := want[g.Group]
			if !ok {
				t.Errorf("OffsetFetch v8: answer for unasked group %q", g.Group)
				continue
			}
			if g.ErrorCode != 0 {
				t.Errorf("OffsetFetch v8 %s: %s", g.Group, errName(g.ErrorCode))
			}
			got := make(map[int32]int64)
			for _, tp := range g.Topics {
				for _, p := range tp.Partitions {
					if tp.Topic != topic || p.ErrorCode != 0 || p.Metadata == nil || *p.Metadata != g.Group {
						t.Errorf("OffsetFetch v8 %s: %s-%d error %s metadata %v", g.Group, tp.Topic, p.Partition, errName(p.ErrorCode), p.Metadata)
					}
					got[p.Partition] = p.Offset
				}
			}
			if !sameOffsets(got, w) {
				t.Errorf("OffsetFetch v8 %s: offsets %v, want %v", g.Group, got, w)
			}
		}
	})
}
