package coordinator

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var (
	errNone             int16 = 0
	errRebalance              = kerr.RebalanceInProgress.Code
	errUnknownMember          = kerr.UnknownMemberID.Code
	errIllegalGen             = kerr.IllegalGeneration.Code
	errFenced                 = kerr.FencedInstanceID.Code
	errMemberIDRequired       = kerr.MemberIDRequired.Code
	errInconsistent           = kerr.InconsistentGroupProtocol.Code
)

func TestJoinAndInitialDelay(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "first join waits group.initial.rebalance.delay.ms", ops: []op{
			join(1, "a"),
			wantGroup(PreparingRebalance, 0, "a-1"),
			advance(2999), parked(1),
			advance(1),
			wantJoin(1, "a-1", 1, "a-1", 1),
			wantGroup(CompletingRebalance, 1, "a-1"),
		}},
		{name: "a join during the delay extends it once more", ops: []op{
			join(1, "a"),
			advance(2000), join(2, "b"),
			advance(999), parked(1), parked(2), // t=2999: the first delay has not ended
			advance(1), parked(1), // t=3000: b arrived, wait another delay
			advance(2999), parked(1),
			advance(1), // t=6000
			wantJoin(1, "a-1", 1, "a-1", 2), wantJoin(2, "b-1", 1, "a-1", 0),
		}},
		{name: "the delay is bounded by the rebalance timeout", ops: []op{
			join(1, "a", rebalance(5000)),
			advance(1000), join(2, "b", rebalance(5000)),
			advance(2000),                                // t=3000: b arrived, remaining 2000
			advance(1000), join(3, "c", rebalance(5000)), // t=4000: a new member, but no time left
			advance(999), parked(3),
			advance(1), // t=5000
			wantJoin(1, "a-1", 1, "a-1", 3), wantJoin(3, "c-1", 1, "a-1", 0),
		}},
		{name: "zero delay completes one purgatory tick later, never inside the first JoinGroup", cfg: func(c *Config) { c.InitialRebalanceDelayMs = 0 }, ops: []op{
			join(1, "a"), parked(1),
			advance(0), parked(1),
			advance(99), parked(1),
			advance(1),
			wantJoin(1, "a-1", 1, "a-1", 1),
		}},
		{name: "zero delay: members joining within the tick share the first generation", cfg: func(c *Config) { c.InitialRebalanceDelayMs = 0 }, ops: []op{
			join(1, "a"), advance(50), join(2, "b"),
			advance(50), parked(1), parked(2), // b arrived during the tick: one more tick
			advance(99), join(3, "c"),
			advance(1), parked(3), // c too
			advance(100),
			wantJoin(1, "a-1", 1, "a-1", 3), wantJoin(2, "b-1", 1, "a-1", 0), wantJoin(3, "c-1", 1, "a-1", 0),
			wantGroup(CompletingRebalance, 1, "a-1", "b-1", "c-1"),
		}},
		{name: "three members become Stable", ops: stable3()},
		{name: "follower with unchanged metadata rejoining a Stable group gets the generation back", ops: script(stable3(), []op{
			rejoin(7, "b-1"),
			wantJoin(7, "b-1", 1, "a-1", 0),
			wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
		})},
		{name: "leader rejoining a Stable group forces a rebalance", ops: script(stable3(), []op{
			rejoin(7, "a-1"),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1", "c-1"),
			hb(8, "b-1", 1), wantErr(8, errRebalance),
			rejoin(9, "b-1"), rejoin(10, "c-1"),
			wantJoin(7, "a-1", 2, "a-1", 3), wantJoin(9, "b-1", 2, "a-1", 0), wantJoin(10, "c-1", 2, "a-1", 0),
			wantGroup(CompletingRebalance, 2, "a-1", "b-1", "c-1"),
		})},
		{name: "member rejoining with new metadata forces a rebalance", ops: script(stable3(), []op{
			rejoin(7, "c-1", metadata("new")),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1", "c-1"),
		})},
		{name: "lost JoinGroup answer in CompletingRebalance is given again", ops: []op{
			join(1, "a"), join(2, "b"), advance(6000),
			rejoin(3, "b-1"), wantJoin(3, "b-1", 1, "a-1", 0),
			rejoin(4, "a-1"), wantJoin(4, "a-1", 1, "a-1", 2),
			wantGroup(CompletingRebalance, 1, "a-1", "b-1"),
		}},
		{name: "session timeout out of bounds", ops: []op{
			join(1, "a", session(5999)), wantErr(1, kerr.InvalidSessionTimeout.Code),
			join(2, "a", session(1800001)), wantErr(2, kerr.InvalidSessionTimeout.Code),
			wantNoGroup(),
		}},
		{name: "group.max.size", cfg: func(c *Config) { c.MaxSize = 2 }, ops: []op{
			join(1, "a"), join(2, "b"), join(3, "c"),
			wantErr(3, kerr.GroupMaxSizeReached.Code),
			advance(6000),
			wantJoin(1, "a-1", 1, "a-1", 2),
		}},
		{name: "empty group id", ops: []op{
			join(1, "a", groupName("")), wantErr(1, kerr.InvalidGroupID.Code),
		}},
		{name: "known member id for an unknown group", ops: []op{
			rejoin(1, "a-7"), wantErr(1, errUnknownMember), wantNoGroup(),
		}},
	})
}

func TestMemberIDRequiredByVersion(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "v4+ empty member id gets MEMBER_ID_REQUIRED, then joins with it", ops: []op{
			join(1, "a", v4()),
			wantJoinID(1, errMemberIDRequired, "a-1"),
			wantGroup(Empty, 0),
			rejoin(2, "a-1", v4()),
			wantGroup(PreparingRebalance, 0, "a-1"),
			advance(3000),
			wantJoin(2, "a-1", 1, "a-1", 1),
		}},
		{name: "v0-3 empty member id joins directly", ops: []op{
			join(1, "a"),
			wantGroup(PreparingRebalance, 0, "a-1"),
			advance(3000),
			wantJoin(1, "a-1", 1, "a-1", 1),
		}},
		{name: "pending member expires after its session timeout", ops: []op{
			join(1, "a", v4()),
			advance(10000),
			rejoin(2, "a-1", v4()),
			wantErr(2, errUnknownMember),
		}},
		{name: "pending member holds back the end of a rebalance", ops: script(stable3(), []op{
			join(7, "d", v4()), wantJoinID(7, errMemberIDRequired, "d-1"),
			rejoin(8, "a-1"), rejoin(9, "b-1"), rejoin(10, "c-1"),
			parked(8), // d-1 is pending
			rejoin(11, "d-1", v4()),
			wantJoin(8, "a-1", 2, "a-1", 4), wantJoin(11, "d-1", 2, "a-1", 0),
		})},
		{name: "pending member leaving lets the rebalance end", ops: script(stable3(), []op{
			join(7, "d", v4()),
			rejoin(8, "a-1"), rejoin(9, "b-1"), rejoin(10, "c-1"), parked(8),
			leave(11, "d-1"), wantErr(11, errNone),
			wantJoin(8, "a-1", 2, "a-1", 3),
		})},
	})
}

func TestLeavesAndExpiry(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "member leaves: the others rejoin and the group completes", ops: script(stable3(), []op{
			leave(7, "b-1"), wantErr(7, errNone),
			wantGroup(PreparingRebalance, 1, "a-1", "c-1"),
			hb(8, "a-1", 1), wantErr(8, errRebalance),
			rejoin(9, "a-1"), parked(9),
			rejoin(10, "c-1"),
			wantJoin(9, "a-1", 2, "a-1", 2), wantJoin(10, "c-1", 2, "a-1", 0),
		})},
		{name: "leader leaves: the next member leads", ops: script(stable3(), []op{
			leave(7, "a-1"),
			wantLeader("b-1"),
			rejoin(8, "b-1"), rejoin(9, "c-1"),
			wantJoin(8, "b-1", 2, "b-1", 2),
		})},
		{name: "last member leaves: Empty with a new generation", ops: []op{
			join(1, "a"), advance(3000), syncReq(2, "a-1", 1, map[string]string{"a-1": "A"}),
			wantGroup(Stable, 1, "a-1"),
			leave(3, "a-1"),
			wantGroup(Empty, 2),
		}},
		{name: "unknown member leaving", ops: script(stable3(), []op{
			leave(7, "zz-1"), wantErr(7, errUnknownMember),
			wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
		})},
		{name: "session expiry removes a silent member", ops: script(stable3(), []op{
			advance(5000), hb(7, "a-1", 1), hb(8, "c-1", 1), wantErr(7, errNone),
			advance(4999), wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
			advance(1),
			wantGroup(PreparingRebalance, 1, "a-1", "c-1"),
			hb(9, "b-1", 1), wantErr(9, errUnknownMember),
			rejoin(10, "a-1"), rejoin(11, "c-1"),
			wantJoin(10, "a-1", 2, "a-1", 2),
		})},
		{name: "members parked in JoinGroup do not expire", ops: script(stable3(), []op{
			rejoin(7, "a-1"), rejoin(8, "b-1"),
			advance(30000),                                // longer than the session timeout, shorter than the rebalance timeout
			hb(9, "c-1", 1), wantErr(9, errUnknownMember), // c did not heartbeat: gone
			wantJoin(7, "a-1", 2, "a-1", 2),
		})},
		{name: "rebalance timeout removes members that did not rejoin", ops: []op{
			join(1, "a", rebalance(20000), session(30000)), join(2, "b", rebalance(20000), session(30000)), join(3, "c", rebalance(20000), session(30000)),
			advance(6000),
			syncReq(4, "b-1", 1, nil), syncReq(5, "c-1", 1, nil), syncReq(6, "a-1", 1, map[string]string{"a-1": "A"}),
			wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
			rejoin(7, "a-1", rebalance(20000), session(30000)), rejoin(8, "b-1", rebalance(20000), session(30000)),
			advance(10000), hb(9, "c-1", 1), wantErr(9, errRebalance), // alive, but never rejoins
			advance(9999), parked(7),
			advance(1),
			wantJoin(7, "a-1", 2, "a-1", 2), wantJoin(8, "b-1", 2, "a-1", 0),
			wantGroup(CompletingRebalance, 2, "a-1", "b-1"),
			hb(10, "c-1", 1), wantErr(10, errUnknownMember),
		}},
		{name: "leader that did not rejoin is replaced by one that did", ops: []op{
			join(1, "a", rebalance(20000), session(30000)), join(2, "b", rebalance(20000), session(30000)),
			advance(6000), syncReq(3, "a-1", 1, nil), syncReq(4, "b-1", 1, nil),
			rejoin(5, "b-1", metadata("x"), rebalance(20000), session(30000)),
			advance(20000),
			wantJoin(5, "b-1", 2, "b-1", 1),
		}},
		{name: "members that never sync are removed after the rebalance timeout", ops: []op{
			join(1, "a", session(60000)), join(2, "b", session(60000)), join(3, "c", session(60000)),
			advance(6000),
			syncReq(4, "b-1", 1, nil), syncReq(5, "a-1", 1, map[string]string{"b-1": "B"}),
			wantAssignment(5, ""), wantAssignment(4, "B"),
			wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
			advance(30000), hb(6, "a-1", 1), hb(7, "b-1", 1), hb(8, "c-1", 1),
			advance(29999), wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
			advance(1),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1"),
		}},
	})
}

func TestJoinDuringRebalanceAndGenerations(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "new member joining a Stable group", ops: script(stable3(), []op{
			join(7, "d"),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1", "c-1", "d-1"),
			hb(8, "b-1", 1), wantErr(8, errRebalance),
			syncReq(9, "b-1", 1, nil), wantErr(9, errRebalance),
			rejoin(10, "a-1"), rejoin(11, "b-1"), parked(7),
			rejoin(12, "c-1"),
			wantJoin(7, "d-1", 2, "a-1", 0), wantJoin(10, "a-1", 2, "a-1", 4),
		})},
		{name: "new member during CompletingRebalance ends the parked syncs", ops: []op{
			join(1, "a"), join(2, "b"), advance(6000),
			syncReq(3, "b-1", 1, nil), parked(3),
			join(4, "c"),
			wantErr(3, errRebalance),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1", "c-1"),
		}},
		{name: "stale generation is fenced", ops: script(stable3(), []op{
			rejoin(7, "a-1"), rejoin(8, "b-1"), rejoin(9, "c-1"),
			wantGroup(CompletingRebalance, 2, "a-1", "b-1", "c-1"),
			hb(10, "b-1", 1), wantErr(10, errIllegalGen),
			syncReq(11, "b-1", 1, nil), wantErr(11, errIllegalGen),
			commit(12, "b-1", 1, off("t", 0, 5)), wantErr(12, errIllegalGen),
			hb(13, "b-1", 2), wantErr(13, errNone), // heartbeats are fine in CompletingRebalance
			commit(14, "b-1", 2, off("t", 0, 5)), wantErr(14, errRebalance),
			hb(15, "x-1", 2), wantErr(15, errUnknownMember),
		})},
		{name: "SyncGroup v5 protocol checks", ops: script(stable3(), []op{
			func(t *testing.T, h *harness) {
				typ, name := "consumer", "roundrobin"
				h.step(&SyncGroup{Req: 7, Group: "g", MemberID: "b-1", Generation: 1, ProtocolType: &typ, Protocol: &name})
				other := "connect"
				h.step(&SyncGroup{Req: 8, Group: "g", MemberID: "b-1", Generation: 1, ProtocolType: &other})
				good := "range"
				h.step(&SyncGroup{Req: 9, Group: "g", MemberID: "b-1", Generation: 1, ProtocolType: &typ, Protocol: &good})
			},
			wantErr(7, errInconsistent), wantErr(8, errInconsistent), wantAssignment(9, "B"),
		})},
		{name: "failed write of the assignment makes members rejoin", ops: []op{
			join(1, "a"), join(2, "b"), advance(6000),
			syncReq(3, "b-1", 1, nil),
			failAppends(kerr.NotCoordinator.Code),
			syncReq(4, "a-1", 1, map[string]string{"a-1": "A", "b-1": "B"}),
			wantErr(3, kerr.NotCoordinator.Code), wantErr(4, kerr.NotCoordinator.Code),
			wantGroup(PreparingRebalance, 1, "a-1", "b-1"),
		}},
	})
}

func TestProtocolSelection(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "the protocol every member supports", ops: []op{
			join(1, "a", protos("range", "roundrobin")), join(2, "b", protos("roundrobin", "range")), join(3, "c", protos("roundrobin")),
			advance(6000), wantJoinProtocol(1, "roundrobin"),
		}},
		{name: "most preferred among common protocols", ops: []op{
			join(1, "a", protos("range", "roundrobin")), join(2, "b", protos("range", "roundrobin")), join(3, "c", protos("roundrobin", "range")),
			advance(6000), wantJoinProtocol(1, "range"),
		}},
		{name: "protocol type must match", ops: []op{
			join(1, "a"), join(2, "b", ptype("connect")),
			wantErr(2, errInconsistent),
		}},
		{name: "no common protocol", ops: []op{
			join(1, "a", protos("range")), join(2, "b", protos("sticky")),
			wantErr(2, errInconsistent),
		}},
		{name: "empty protocol type or no protocols in an empty group", ops: []op{
			join(1, "a", ptype("")), wantErr(1, errInconsistent),
			join(2, "b", noProtocols()), wantErr(2, errInconsistent),
		}},
	})
}

func TestStaticMembership(t *testing.T) {
	stableStatic := []op{
		join(1, "a", static("i1")), join(2, "b", static("i2"), session(120000)),
		advance(6000),
		wantJoin(1, "i1-1", 1, "i1-1", 2),
		syncReq(3, "i2-1", 1, nil),
		syncReq(4, "i1-1", 1, map[string]string{"i1-1": "A", "i2-1": "B"}),
		wantAssignment(3, "B"), wantGroup(Stable, 1, "i1-1", "i2-1"),
	}
	runScripts(t, []scriptCase{
		{name: "follower replaced without a rebalance keeps its assignment", ops: script(stableStatic, []op{
			join(5, "b", static("i2")),
			wantJoin(5, "i2-2", 1, "i1-1", 0),
			wantGroup(Stable, 1, "i1-1", "i2-2"),
			syncStatic(6, "i2-2", "i2", 1), wantAssignment(6, "B"),
			func(t *testing.T, h *harness) {
				h.step(&Heartbeat{Req: 7, Group: "g", MemberID: "i2-1", InstanceID: "i2", Generation: 1})
			},
			wantErr(7, errFenced),
			rejoin(8, "i2-1", static("i2")), wantErr(8, errFenced),
		})},
		{name: "leader replaced: old leader id in the answer before v9", ops: script(stableStatic, []op{
			join(5, "a", static("i1")),
			wantJoin(5, "i1-2", 1, "i1-1", 0), wantSkip(5, false),
			wantLeader("i1-2"),
			wantGroup(Stable, 1, "i1-2", "i2-1"),
		})},
		{name: "leader replaced with v9: leads but skips the assignment", ops: script(stableStatic, []op{
			join(5, "a", static("i1"), v9()),
			wantJoin(5, "i1-2", 1, "i1-2", 2), wantSkip(5, true),
		})},
		{name: "replacement changing the selected protocol rebalances", ops: []op{
			join(1, "a", static("i1"), protos("range", "roundrobin")), join(2, "b", static("i2"), protos("range", "roundrobin")),
			advance(6000), wantJoinProtocol(1, "range"),
			syncReq(3, "i2-1", 1, nil), syncReq(4, "i1-1", 1, nil),
			join(5, "b", static("i2"), protos("roundrobin", "range"), metadata("x")),
			wantGroup(Stable, 1, "i1-1", "i2-2"), // range still wins the vote: no rebalance
			wantJoin(5, "i2-2", 1, "i1-1", 0),
			join(6, "b", static("i2"), protos("roundrobin")),
			wantGroup(PreparingRebalance, 1, "i1-1", "i2-3"),
			parked(6),
		}},
		{name: "static member that does not rejoin stays through the rebalance", ops: script(stableStatic, []op{
			join(5, "c"),
			rejoin(6, "i1-1", static("i1")),
			advance(60000),
			wantJoin(6, "i1-1", 2, "i1-1", 3),
			wantGroup(CompletingRebalance, 2, "i1-1", "i2-1", "c-1"),
		})},
		{name: "admin removal by instance id", ops: script(stableStatic, []op{
			func(t *testing.T, h *harness) {
				h.step(&LeaveGroup{Req: 5, Group: "g", Members: []LeaveMember{{InstanceID: "i2"}, {InstanceID: "nope"}}})
				r := h.replies[5].(LeaveResult)
				if len(r.Members) != 2 || r.Members[0] != 0 || r.Members[1] != errUnknownMember {
					t.Fatalf("leave by instance id: %+v", r)
				}
			},
			wantGroup(PreparingRebalance, 1, "i1-1"),
		})},
	})
}
