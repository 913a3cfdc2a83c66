package integration

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// offsetsOf builds kadm.Offsets for topic from partition -> offset.
func offsetsOf(topic string, at map[int32]int64) kadm.Offsets {
	var os kadm.Offsets
	for p, o := range at {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	return os
}

// committedAt flattens the committed offsets of one topic.
func committedAt(t testing.TB, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	out := make(map[int32]int64)
	for p, o := range fetchCommitted(t, adm, group)[topic] {
		out[p] = o.At
	}
	return out
}

// sameOffsets compares two partition -> offset maps.
func sameOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, o := range a {
		if bo, ok := b[p]; !ok || bo != o {
			return false
		}
	}
	return true
}

// listGroups lists groups (optionally by state), failing on errors.
func listGroups(t testing.TB, adm *kadm.Client, states ...string) kadm.ListedGroups {
	t.Helper()
	ls, err := adm.ListGroups(testCtx(t, 15*time.Second), states...)
	if err != nil {
		t.Fatalf("ListGroups %v: %v", states, err)
	}
	return ls
}

func TestGroupAdmin(t *testing.T) {
	t.Parallel()
	const (
		subTopic   = "adm-sub"   // the live group subscribes to it
		otherTopic = "adm-other" // the live group only has old commits on it
		live       = "adm-live"
		empty      = "adm-empty"
	)
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	createTopic(t, adm, subTopic, 3, nil)
	createTopic(t, adm, otherTopic, 2, nil)
	produceKeyed(t, b, subTopic, "a", 30, make(map[recKey]bool))
	produceKeyed(t, b, otherTopic, "o", 20, make(map[recKey]bool))
	ctx := testCtx(t, 120*time.Second)

	// Groups that exist only through admin commits (generation -1).
	if err := adm.CommitAllOffsets(ctx, empty, offsetsOf(otherTopic, map[int32]int64{0: 1, 1: 2})); err != nil {
		t.Fatalf("CommitOffsets %s (generation -1, new group): %v", empty, err)
	}
	if err := adm.CommitAllOffsets(ctx, live, offsetsOf(otherTopic, map[int32]int64{0: 4, 1: 5})); err != nil {
		t.Fatalf("CommitOffsets %s (generation -1, new group): %v", live, err)
	}

	tr := newGroupTracker()
	names := []string{"adm-m0", "adm-m1"}
	var members []*memberClient
	for _, n := range names {
		members = append(members, startMember(t, tr, memberSpec{Name: n, Broker: b.Addr(), Group: live, Topic: subTopic,
			Balancer: "range", Session: 10 * time.Second, Heartbeat: time.Second}))
	}
	waitUntil(t, 30*time.Second, "2 members balanced", func() error { return tr.balanced(names, 3) })
	waitGroupState(t, adm, live, "Stable", 15*time.Second)

	t.Run("ListGroups", func(t *testing.T) {
		all := listGroups(t, adm)
		for _, w := range []kadm.ListedGroup{
			{Group: live, ProtocolType: "consumer", State: "Stable"},
			{Group: empty, ProtocolType: "", State: "Empty"},
		} {
			g, ok := all[w.Group]
			if !ok {
				t.Errorf("ListGroups: %s missing from %v", w.Group, all.Groups())
				continue
			}
			if g.ProtocolType != w.ProtocolType || g.State != w.State || g.Coordinator != 0 {
				t.Errorf("ListGroups: %s listed as protocol type %q, state %q, coordinator %d; want %q, %q, 0",
					w.Group, g.ProtocolType, g.State, g.Coordinator, w.ProtocolType, w.State)
			}
		}
		for _, tc := range []struct {
			states []string
			in     []string
			out    []string
		}{
			{[]string{"Stable"}, []string{live}, []string{empty}},
			{[]string{"Empty"}, []string{empty}, []string{live}},
			{[]string{"Empty", "Stable"}, []string{live, empty}, nil},
			{[]string{"PreparingRebalance"}, nil, []string{live, empty}},
		} {
			got := listGroups(t, adm, tc.states...)
			for _, g := range tc.in {
				if _, ok := got[g]; !ok {
					t.Errorf("ListGroups(states %v): %s missing from %v", tc.states, g, got.Groups())
				}
			}
			for _, g := range tc.out {
				if _, ok := got[g]; ok {
					t.Errorf("ListGroups(states %v): %s listed but not in those states", tc.states, g)
				}
			}
		}
	})

	t.Run("DescribeGroups", func(t *testing.T) {
		d := describeGroup(t, adm, live)
		if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" {
			t.Errorf("DescribeGroups %s: state %q, protocol type %q, protocol %q; want \"Stable\", \"consumer\", \"range\"",
				live, d.State, d.ProtocolType, d.Protocol)
		}
		if len(d.Members) != 2 {
			t.Fatalf("DescribeGroups %s: %d members, want 2", live, len(d.Members))
		}
		var clients []string
		for _, m := range d.Members {
			clients = append(clients, m.ClientID)
			if m.MemberID == "" || m.ClientHost == "" {
				t.Errorf("DescribeGroups %s: member %+v lacks a member id or client host", live, m)
			}
			meta, ok := m.Join.AsConsumer()
			if !ok || len(meta.Topics) != 1 || meta.Topics[0] != subTopic {
				t.Errorf("DescribeGroups %s: member %s metadata %+v, want a consumer subscription to [%s]", live, m.ClientID, meta, subTopic)
			}
			asg, ok := m.Assigned.AsConsumer()
			if !ok || len(asg.Topics) != 1 || asg.Topics[0].Topic != subTopic || len(asg.Topics[0].Partitions) == 0 {
				t.Errorf("DescribeGroups %s: member %s assignment %+v, want partitions of %s", live, m.ClientID, asg, subTopic)
			}
		}
		sort.Strings(clients)
		if clients[0] != "kbroker-it-adm-m0" || clients[1] != "kbroker-it-adm-m1" {
			t.Errorf("DescribeGroups %s: client ids %v", live, clients)
		}
		if got := d.AssignedPartitions()[subTopic]; len(got) != 3 {
			t.Errorf("DescribeGroups %s: assignments cover %d partitions, want 3", live, len(got))
		}
		e := describeGroup(t, adm, empty)
		if e.State != "Empty" || len(e.Members) != 0 || e.Protocol != "" {
			t.Errorf("DescribeGroups %s: state %q, %d members, protocol %q; want \"Empty\", 0, \"\"", empty, e.State, len(e.Members), e.Protocol)
		}
	})

	t.Run("ActiveGroupRefusals", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		rs, err := adm.DeleteGroups(ctx, live)
		if err != nil {
			t.Fatalf("DeleteGroups %s: %v", live, err)
		}
		if got := rs[live].Err; !errors.Is(got, kerr.NonEmptyGroup) {
			t.Errorf("DeleteGroups %s with 2 live members: %v, want NON_EMPTY_GROUP", live, got)
		}
		cr, err := adm.CommitOffsets(ctx, live, offsetsOf(subTopic, map[int32]int64{0: 0}))
		if err != nil {
			t.Fatalf("CommitOffsets %s: %v", live, err)
		}
		if got := cr.Error(); !errors.Is(got, kerr.UnknownMemberID) {
			t.Errorf("CommitOffsets with generation -1 to %s while it has members: %v, want UNKNOWN_MEMBER_ID", live, got)
		}
		dr, err := adm.DeleteOffsets(ctx, live, kadm.TopicsSet{subTopic: {0: {}, 1: {}, 2: {}}})
		if err != nil {
			t.Fatalf("DeleteOffsets %s %s: %v", live, subTopic, err)
		}
		for p := int32(0); p < 3; p++ {
			if got, ok := dr.Lookup(subTopic, p); !ok || !errors.Is(got, kerr.GroupSubscribedToTopic) {
				t.Errorf("DeleteOffsets %s %s-%d while a member subscribes to it: %v (present %v), want GROUP_SUBSCRIBED_TO_TOPIC", live, subTopic, p, got, ok)
			}
		}
		// Offsets on a topic nobody subscribes to may go while the group is live.
		dr, err = adm.DeleteOffsets(ctx, live, kadm.TopicsSet{otherTopic: {0: {}, 1: {}}})
		if err != nil {
			t.Fatalf("DeleteOffsets %s %s: %v", live, otherTopic, err)
		}
		if err := dr.Error(); err != nil {
			t.Errorf("DeleteOffsets %s %s (not subscribed): %v, want success", live, otherTopic, err)
		}
		if got := committedAt(t, adm, live, otherTopic); len(got) != 0 {
			t.Errorf("after OffsetDelete, %s still has offsets on %s: %v", live, otherTopic, got)
		}
		if d := describeGroup(t, adm, live); d.State != "Stable" || len(d.Members) != 2 {
			t.Errorf("after refused admin calls, %s is %q with %d members; want Stable with 2", live, d.State, len(d.Members))
		}
	})

	for _, m := range members {
		m.leave()
	}

	t.Run("EmptyGroup", func(t *testing.T) {
		d := waitGroupState(t, adm, live, "Empty", 15*time.Second)
		if d.ProtocolType != "consumer" || d.Protocol != "" || len(d.Members) != 0 {
			t.Errorf("DescribeGroups %s after all members left: protocol type %q, protocol %q, %d members; want \"consumer\", \"\", 0",
				live, d.ProtocolType, d.Protocol, len(d.Members))
		}
		if got := committedAt(t, adm, live, subTopic); !sameOffsets(got, endOffsets(t, adm, subTopic)) {
			t.Errorf("%s committed %v before leaving, want the end offsets", live, got)
		}
		// Reset offsets, as kafka-consumer-groups --reset-offsets does.
		ctx := testCtx(t, 30*time.Second)
		reset := map[int32]int64{0: 0, 1: 1, 2: 2}
		if err := adm.CommitAllOffsets(ctx, live, offsetsOf(subTopic, reset)); err != nil {
			t.Fatalf("CommitOffsets (reset) on Empty group %s: %v", live, err)
		}
		if got := committedAt(t, adm, live, subTopic); !sameOffsets(got, reset) {
			t.Errorf("after the reset, %s committed %v, want %v", live, got, reset)
		}
		dr, err := adm.DeleteOffsets(ctx, live, kadm.TopicsSet{subTopic: {2: {}}})
		if err != nil {
			t.Fatalf("DeleteOffsets %s %s-2: %v", live, subTopic, err)
		}
		if err := dr.Error(); err != nil {
			t.Errorf("DeleteOffsets %s %s-2 on an Empty group: %v, want success", live, subTopic, err)
		}
		if got, want := committedAt(t, adm, live, subTopic), map[int32]int64{0: 0, 1: 1}; !sameOffsets(got, want) {
			t.Errorf("after OffsetDelete of partition 2, %s committed %v, want %v", live, got, want)
		}
	})

	t.Run("DeleteGroups", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		rs, err := adm.DeleteGroups(ctx, live, empty)
		if err != nil {
			t.Fatalf("DeleteGroups: %v", err)
		}
		for _, g := range []string{live, empty} {
			if r, ok := rs[g]; !ok || r.Err != nil {
				t.Errorf("DeleteGroups %s (Empty): present %v, error %v; want success", g, ok, r.Err)
			}
		}
		rs, err = adm.DeleteGroups(ctx, live)
		if err != nil {
			t.Fatalf("DeleteGroups again: %v", err)
		}
		if got := rs[live].Err; !errors.Is(got, kerr.GroupIDNotFound) {
			t.Errorf("DeleteGroups %s a second time: %v, want GROUP_ID_NOT_FOUND", live, got)
		}
		if _, err := adm.DeleteOffsets(ctx, live, kadm.TopicsSet{subTopic: {0: {}}}); !errors.Is(err, kerr.GroupIDNotFound) {
			t.Errorf("DeleteOffsets on deleted group %s: %v, want GROUP_ID_NOT_FOUND", live, err)
		}
		// Kafka 3.9 (DescribeGroups up to v5) describes an unknown group as
		// "Dead" without an error; GROUP_ID_NOT_FOUND only came with v6.
		if d := describeGroup(t, adm, live); d.State != "Dead" || len(d.Members) != 0 {
			t.Errorf("DescribeGroups of deleted %s: state %q, %d members; want \"Dead\", 0", live, d.State, len(d.Members))
		}
		if got := fetchCommitted(t, adm, live); len(got) != 0 {
			t.Errorf("FetchOffsets of deleted %s: %v, want none", live, got)
		}
		all := listGroups(t, adm)
		for _, g := range []string{live, empty} {
			if _, ok := all[g]; ok {
				t.Errorf("ListGroups still lists deleted group %s", g)
			}
		}
	})
}
