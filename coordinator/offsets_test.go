package coordinator

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetch(req uint64, group string, topics []TopicPartitions) op {
	return func(t *testing.T, h *harness) { h.step(&FetchOffsets{Req: req, Group: group, Topics: topics}) }
}

func wantOffsets(req uint64, want ...FetchedOffset) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r := replyOf(t, h, req).(FetchResult)
		if r.Err != 0 || len(r.Offsets) != len(want) {
			t.Fatalf("request %d: %s %+v, want %+v", req, errName(r.Err), r.Offsets, want)
		}
		for i := range want {
			if r.Offsets[i] != want[i] {
				t.Fatalf("request %d offset %d: %+v, want %+v", req, i, r.Offsets[i], want[i])
			}
		}
	}
}

func fo(topic string, p int32, o int64) FetchedOffset {
	return FetchedOffset{Topic: topic, Partition: p, Offset: o, LeaderEpoch: -1}
}

func simpleCommit(req uint64, group string, offsets ...CommitOffset) op {
	return func(t *testing.T, h *harness) {
		h.step(&CommitOffsets{Req: req, Group: group, Generation: -1, Offsets: offsets})
	}
}

func wantListed(states []string, want ...string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		h.step(&ListGroups{Req: 9000, States: states})
		r := h.replies[9000].(ListResult)
		delete(h.replies, 9000)
		var got []string
		for _, g := range r.Groups {
			got = append(got, g.Group+":"+g.State)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("ListGroups %v: %v, want %v", states, got, want)
		}
	}
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.ConsumerMemberMetadata{Topics: topics}
	return m.AppendTo(nil)
}

func TestOffsets(t *testing.T) {
	all := []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1}}}
	runScripts(t, []scriptCase{
		{name: "generation -1 commit creates an Empty group without group management", ops: []op{
			simpleCommit(1, "g", off("t", 0, 42)), wantErr(1, errNone),
			wantGroup(Empty, 0),
			fetch(2, "g", all), wantOffsets(2, fo("t", 0, 42), fo("t", 1, -1)),
			fetch(3, "g", nil), wantOffsets(3, fo("t", 0, 42)),
			fetch(4, "other", all), wantOffsets(4, fo("t", 0, -1), fo("t", 1, -1)),
			wantListed(nil, "g:Empty"),
		}},
		{name: "commit with a generation for an unknown group", ops: []op{
			commit(1, "a-1", 3, off("t", 0, 1)), wantErr(1, errIllegalGen), wantNoGroup(),
		}},
		{name: "members commit in Stable; outsiders do not", ops: script(stable3(), []op{
			commit(7, "a-1", 1, off("t", 0, 10), off("t", 1, 11)), wantErr(7, errNone),
			simpleCommit(8, "g", off("t", 0, 99)), wantErr(8, errUnknownMember),
			commit(9, "zz-1", 1, off("t", 0, 99)), wantErr(9, errUnknownMember),
			fetch(10, "g", all), wantOffsets(10, fo("t", 0, 10), fo("t", 1, 11)),
		})},
		{name: "commits are allowed while preparing a rebalance", ops: script(stable3(), []op{
			leave(7, "c-1"),
			commit(8, "a-1", 1, off("t", 0, 5)), wantErr(8, errNone),
		})},
		{name: "reset offsets of an Empty group (kafka-consumer-groups)", ops: []op{
			join(1, "a"), advance(3000), syncReq(2, "a-1", 1, nil), commit(3, "a-1", 1, off("t", 0, 7)),
			leave(4, "a-1"), wantGroup(Empty, 2),
			simpleCommit(5, "g", off("t", 0, 0)), wantErr(5, errNone),
			fetch(6, "g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}), wantOffsets(6, fo("t", 0, 0)),
		}},
		{name: "metadata over offset.metadata.max.bytes", ops: []op{
			func(t *testing.T, h *harness) {
				big := off("t", 0, 1)
				big.Metadata = strings.Repeat("x", 4097)
				h.step(&CommitOffsets{Req: 1, Group: "g", Generation: -1, Offsets: []CommitOffset{big, off("t", 1, 2)}})
				r := h.replies[1].(CommitResult)
				if r.Errs[0] != kerr.OffsetMetadataTooLarge.Code || r.Errs[1] != 0 {
					t.Fatalf("got %v", r.Errs)
				}
			},
			fetch(2, "g", nil), wantOffsets(2, fo("t", 1, 2)),
		}},
		{name: "a failed append is reported and not visible", ops: []op{
			failAppends(kerr.NotCoordinator.Code),
			simpleCommit(1, "g", off("t", 0, 5)), wantErr(1, kerr.NotCoordinator.Code),
			fetch(2, "g", nil), wantOffsets(2),
		}},
		{name: "offsets of an Empty group expire after the retention", cfg: func(c *Config) { c.OffsetsRetentionMs = 3_600_000; c.RetentionCheckMs = 60_000 }, ops: []op{
			join(1, "a"), advance(3000), syncReq(2, "a-1", 1, nil), commit(3, "a-1", 1, off("t", 0, 7)),
			leave(5, "a-1"), wantGroup(Empty, 2),
			advance(3_540_000), fetch(6, "g", nil), wantOffsets(6, fo("t", 0, 7)),
			advance(120_000), fetch(7, "g", nil), wantOffsets(7),
			wantNoGroup(),
			func(t *testing.T, h *harness) {
				last := h.records[len(h.records)-1].Records
				if len(last) != 2 || last[0].Value != nil || last[1].Value != nil {
					t.Fatalf("expiry wrote %d records, want an offset and a group tombstone", len(last))
				}
			},
		}},
		{name: "simple consumer offsets expire one by one after their commit", cfg: func(c *Config) { c.OffsetsRetentionMs = 3_600_000; c.RetentionCheckMs = 60_000 }, ops: []op{
			simpleCommit(1, "g", off("t", 0, 1)),
			advance(1_800_000),
			func(t *testing.T, h *harness) {
				o := off("t", 1, 2)
				o.CommitTs = h.now
				h.step(&CommitOffsets{Req: 2, Group: "g", Generation: -1, Offsets: []CommitOffset{o}})
			},
			advance(1_800_000), fetch(3, "g", nil), wantOffsets(3, fo("t", 1, 2)),
		}},
		{name: "consumer group with members: offsets of unsubscribed topics expire", cfg: func(c *Config) { c.OffsetsRetentionMs = 3_600_000; c.RetentionCheckMs = 60_000 }, ops: []op{
			func(t *testing.T, h *harness) {
				h.step(&JoinGroup{Req: 1, Group: "g", ClientID: "a", SessionTimeoutMs: 120000, RebalanceTimeoutMs: 10000, ProtocolType: "consumer",
					Protocols: []Protocol{{Name: "range", Metadata: consumerMeta("t")}}})
			},
			advance(3000), syncReq(2, "a-1", 1, nil),
			commit(3, "a-1", 1, off("t", 0, 1), off("u", 0, 2)),
			func(t *testing.T, h *harness) {
				for i := 0; i < 70; i++ { // keep the member alive for 70 minutes
					h.advance(60_000)
					h.step(&Heartbeat{Req: uint64(100 + i), Group: "g", MemberID: "a-1", Generation: 1})
				}
			},
			fetch(4, "g", nil), wantOffsets(4, fo("t", 0, 1)),
		}},
	})
}

func TestGroupAdmin(t *testing.T) {
	runScripts(t, []scriptCase{
		{name: "describe a Stable group with member metadata and assignments", ops: script(stable3(), []op{
			func(t *testing.T, h *harness) {
				h.step(&DescribeGroups{Req: 7, Groups: []string{"g", "nope"}})
				r := h.replies[7].(DescribeResult)
				g, nope := r.Groups[0], r.Groups[1]
				if g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" || len(g.Members) != 3 {
					t.Fatalf("described %+v", g)
				}
				if m := g.Members[1]; m.MemberID != "b-1" || m.ClientID != "b" || m.ClientHost != "/10.0.0.1" || string(m.Metadata) != "meta-range" || string(m.Assignment) != "B" {
					t.Fatalf("member %+v", m)
				}
				// GROUP_ID_NOT_FOUND is for DescribeGroups v6; older versions show Dead alone.
				if nope.Err != kerr.GroupIDNotFound.Code || nope.ErrMsg != "Group nope not found." || nope.State != "Dead" || len(nope.Members) != 0 {
					t.Fatalf("unknown group described as %+v, want Dead", nope)
				}
			},
		})},
		{name: "describe during a rebalance hides metadata", ops: []op{
			join(1, "a"),
			func(t *testing.T, h *harness) {
				h.step(&DescribeGroups{Req: 2, Groups: []string{"g"}})
				g := h.replies[2].(DescribeResult).Groups[0]
				if g.State != "PreparingRebalance" || g.Protocol != "" || len(g.Members) != 1 || len(g.Members[0].Metadata) != 0 {
					t.Fatalf("described %+v", g)
				}
			},
		}},
		{name: "list with a states filter", ops: script(stable3(), []op{
			simpleCommit(7, "simple", off("t", 0, 1)),
			wantListed(nil, "g:Stable", "simple:Empty"),
			wantListed([]string{"empty"}, "simple:Empty"),
			wantListed([]string{"STABLE", "Dead"}, "g:Stable"),
		})},
		{name: "delete groups", ops: script(stable3(), []op{
			simpleCommit(7, "simple", off("t", 0, 1), off("t", 1, 2)),
			func(t *testing.T, h *harness) {
				n := len(h.records)
				h.step(&DeleteGroups{Req: 8, Groups: []string{"g", "simple", "nope"}})
				r := h.replies[8].(DeleteGroupsResult)
				want := []int16{kerr.NonEmptyGroup.Code, 0, kerr.GroupIDNotFound.Code}
				for i := range want {
					if r.Errs[i] != want[i] {
						t.Fatalf("delete errors %v, want %v", r.Errs, want)
					}
				}
				if len(h.records) != n+1 || len(h.records[n].Records) != 3 {
					t.Fatalf("deletion appended %d batches", len(h.records)-n)
				}
				for _, rec := range h.records[n].Records {
					if rec.Value != nil {
						t.Fatalf("deletion wrote a non-tombstone")
					}
				}
			},
			wantListed(nil, "g:Stable"),
			fetch(9, "simple", nil), wantOffsets(9),
		})},
		{name: "offset delete", ops: []op{
			func(t *testing.T, h *harness) {
				h.step(&JoinGroup{Req: 1, Group: "g", ClientID: "a", SessionTimeoutMs: 10000, RebalanceTimeoutMs: 10000, ProtocolType: "consumer",
					Protocols: []Protocol{{Name: "range", Metadata: consumerMeta("t")}}})
			},
			advance(3000), syncReq(2, "a-1", 1, nil),
			commit(3, "a-1", 1, off("t", 0, 1), off("u", 0, 2)),
			func(t *testing.T, h *harness) {
				h.step(&DeleteOffsets{Req: 4, Group: "g", Partitions: []TopicPartitions{{Topic: "t", Partitions: []int32{0}}, {Topic: "u", Partitions: []int32{0}}}})
				r := h.replies[4].(DeleteOffsetsResult)
				if r.Err != 0 || r.Errs[0][0] != kerr.GroupSubscribedToTopic.Code || r.Errs[1][0] != 0 {
					t.Fatalf("offset delete %+v", r)
				}
				h.step(&DeleteOffsets{Req: 5, Group: "nope"})
				if r := h.replies[5].(DeleteOffsetsResult); r.Err != kerr.GroupIDNotFound.Code {
					t.Fatalf("unknown group: %+v", r)
				}
			},
			fetch(6, "g", nil), wantOffsets(6, fo("t", 0, 1)),
		}},
		{name: "requests for a partition not led here or loading", ops: []op{
			func(t *testing.T, h *harness) {
				h.step(PartitionUnloaded{Partition: 0})
				h.step(&Heartbeat{Req: 1, Group: "g", MemberID: "a-1"})
				h.step(PartitionLoading{Partition: 0})
				h.step(&Heartbeat{Req: 2, Group: "g", MemberID: "a-1"})
				h.step(&SyncGroup{Req: 3, Group: "g", MemberID: "a-1"})
				h.step(&JoinGroup{Req: 4, Group: "g", SessionTimeoutMs: 10000})
			},
			wantErr(1, kerr.NotCoordinator.Code),
			wantErr(2, errNone), // heartbeats are answered blindly while loading
			wantErr(3, errRebalance),
			wantErr(4, kerr.CoordinatorLoadInProgress.Code),
		}},
		{name: "unloading answers parked requests NOT_COORDINATOR", ops: []op{
			join(1, "a"),
			func(t *testing.T, h *harness) { h.step(PartitionUnloaded{Partition: 0}) },
			wantErr(1, kerr.NotCoordinator.Code),
			wantNoGroup(),
		}},
	})
}
