package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// fetchCommitted returns the committed offsets of group (At and Metadata per
// topic and partition), failing the test on any error.
func fetchCommitted(t testing.TB, adm *kadm.Client, group string) map[string]map[int32]kadm.Offset {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	rs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets %s: %v", group, err)
	}
	out := make(map[string]map[int32]kadm.Offset)
	for topic, ps := range rs {
		for p, r := range ps {
			if r.Err != nil {
				t.Fatalf("FetchOffsets %s: %s-%d: %v", group, topic, p, r.Err)
			}
			if out[topic] == nil {
				out[topic] = make(map[int32]kadm.Offset)
			}
			out[topic][p] = r.Offset
		}
	}
	return out
}

// diffCommitted describes how got differs from want (offset and metadata).
func diffCommitted(want, got map[string]map[int32]kadm.Offset) error {
	for topic, ps := range want {
		for p, w := range ps {
			g, ok := got[topic][p]
			if !ok {
				return fmt.Errorf("%s-%d: no committed offset, want %d", topic, p, w.At)
			}
			if g.At != w.At || g.Metadata != w.Metadata {
				return fmt.Errorf("%s-%d: committed %d %q, want %d %q", topic, p, g.At, g.Metadata, w.At, w.Metadata)
			}
		}
	}
	for topic, ps := range got {
		for p, g := range ps {
			if _, ok := want[topic][p]; !ok {
				return fmt.Errorf("%s-%d: unexpected committed offset %d", topic, p, g.At)
			}
		}
	}
	return nil
}

func TestGroupCommittedOffsetsSurviveKill(t *testing.T) {
	t.Parallel()
	const (
		topic = "persist"
		parts = 3
	)
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, parts, nil)
	produced := make(map[recKey]bool)
	produceKeyed(t, b, topic, "p", 90, produced)

	// An admin commit (generation -1) on a new group, with metadata.
	var adminOffs kadm.Offsets
	for p := int32(0); p < parts; p++ {
		adminOffs.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(3 + p), LeaderEpoch: -1, Metadata: fmt.Sprintf("meta-%d", p)})
	}
	ctx := testCtx(t, 60*time.Second)
	if err := adm.CommitAllOffsets(ctx, "persist-admin", adminOffs); err != nil {
		t.Fatalf("CommitOffsets persist-admin (generation -1): %v", err)
	}
	// A real group that consumes everything and commits, then leaves.
	tr := newGroupTracker()
	m := startMember(t, tr, memberSpec{Name: "pm", Broker: b.Addr(), Group: "persist-live", Topic: topic,
		Balancer: "cooperative-sticky", Session: 10 * time.Second, Heartbeat: time.Second})
	waitConsumed(t, tr, produced, 30*time.Second)
	checkCommittedAtEnd(t, adm, "persist-live", topic, parts)
	m.leave()

	before := map[string]map[string]map[int32]kadm.Offset{
		"persist-admin": fetchCommitted(t, adm, "persist-admin"),
		"persist-live":  fetchCommitted(t, adm, "persist-live"),
	}
	want := make(map[string]map[int32]kadm.Offset)
	adminOffs.Each(func(o kadm.Offset) {
		if want[o.Topic] == nil {
			want[o.Topic] = make(map[int32]kadm.Offset)
		}
		want[o.Topic][o.Partition] = o
	})
	if err := diffCommitted(want, before["persist-admin"]); err != nil {
		t.Fatalf("persist-admin before the kill: %v", err)
	}

	for round := 1; round <= 2; round++ {
		b.Kill()
		b.Restart(t)
		adm := newAdmin(t, b)
		for group, w := range before {
			eventually(t, 20*time.Second, func() error {
				ctx := testCtx(t, 10*time.Second)
				rs, err := adm.FetchOffsets(ctx, group)
				if err != nil {
					return fmt.Errorf("after kill -9 #%d: FetchOffsets %s: %v", round, group, err)
				}
				got := make(map[string]map[int32]kadm.Offset)
				rs.Each(func(r kadm.OffsetResponse) {
					if got[r.Topic] == nil {
						got[r.Topic] = make(map[int32]kadm.Offset)
					}
					got[r.Topic][r.Partition] = r.Offset
				})
				if err := diffCommitted(w, got); err != nil {
					return fmt.Errorf("after kill -9 #%d, group %s: %v", round, group, err)
				}
				return nil
			})
		}
		if round == 1 {
			// The groups are known again (Empty) and still accept commits.
			for _, g := range []string{"persist-admin", "persist-live"} {
				if d := describeGroup(t, adm, g); d.State != "Empty" {
					t.Errorf("after kill -9, DescribeGroups %s: state %q, want \"Empty\"", g, d.State)
				}
			}
			var next kadm.Offsets
			next.Add(kadm.Offset{Topic: topic, Partition: 0, At: 17, LeaderEpoch: -1, Metadata: "after-restart"})
			if err := adm.CommitAllOffsets(testCtx(t, 20*time.Second), "persist-admin", next); err != nil {
				t.Fatalf("CommitOffsets after restart: %v", err)
			}
			before["persist-admin"][topic][0] = kadm.Offset{Topic: topic, Partition: 0, At: 17, LeaderEpoch: -1, Metadata: "after-restart"}
		}
	}
}
