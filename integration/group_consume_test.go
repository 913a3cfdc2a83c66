package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupBalancers are the two assignment strategies every group test runs
// with: eager (range) and incremental (cooperative-sticky).
var groupBalancers = []string{"cooperative-sticky", "range"}

// produceKeyed produces n records keyed "<tag>-<i>" to topic with a fresh
// client and adds their (partition, offset) to produced.
func produceKeyed(t testing.TB, b *Broker, topic, tag string, n int, produced map[recKey]bool) {
	t.Helper()
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	ctx := testCtx(t, 30*time.Second)
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Key: fmt.Appendf(nil, "%s-%d", tag, i), Value: fmt.Appendf(nil, "v-%s-%d", tag, i)}
	}
	res := cl.ProduceSync(ctx, rs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s: %v", n, topic, err)
	}
	for _, r := range res {
		produced[recKey{r.Record.Partition, r.Record.Offset}] = true
	}
}

// waitUntil polls cond every 20 ms until it returns nil and returns the time
// it took, or fails the test with cond's last error after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not reached within %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitConsumed waits until every produced record was consumed by someone.
func waitConsumed(t testing.TB, tr *groupTracker, produced map[recKey]bool, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "all produced records consumed", func() error {
		if n := tr.missing(produced); n > 0 {
			return fmt.Errorf("%d of %d records not consumed yet (assignment: %s)", n, len(produced), tr.assignment())
		}
		return nil
	})
}

// checkAudit fails the test with every delivery problem found.
func checkAudit(t testing.TB, tr *groupTracker, produced map[recKey]bool, mayRedeliver ...string) {
	t.Helper()
	if probs := tr.audit(produced, mayRedeliver...); len(probs) > 0 {
		if len(probs) > 20 {
			probs = append(probs[:20], fmt.Sprintf("... and %d more", len(probs)-20))
		}
		t.Errorf("delivery problems:\n  %s", strings.Join(probs, "\n  "))
	}
}

// checkCommittedAtEnd waits until the group's committed offsets on topic equal
// the partitions' end offsets.
func checkCommittedAtEnd(t testing.TB, adm *kadm.Client, group, topic string, parts int32) {
	t.Helper()
	ends := endOffsets(t, adm, topic)
	eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return fmt.Errorf("FetchOffsets %s: %v", group, err)
		}
		for p := int32(0); p < parts; p++ {
			o, ok := got.Lookup(topic, p)
			if !ok {
				return fmt.Errorf("group %s: no committed offset for %s-%d (want %d)", group, topic, p, ends[p])
			}
			if o.Err != nil {
				return fmt.Errorf("group %s: committed offset for %s-%d: %v", group, topic, p, o.Err)
			}
			if o.At != ends[p] {
				return fmt.Errorf("group %s: committed offset for %s-%d is %d, want end offset %d", group, topic, p, o.At, ends[p])
			}
		}
		return nil
	})
}

// describeGroup describes one group, failing on request errors.
func describeGroup(t testing.TB, adm *kadm.Client, group string) kadm.DescribedGroup {
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroups %s: %v", group, err)
	}
	d, ok := ds[group]
	if !ok {
		t.Fatalf("DescribeGroups %s: group missing from the answer (%v)", group, ds.Names())
	}
	if d.Err != nil {
		t.Fatalf("DescribeGroups %s: %v (%s)", group, d.Err, d.ErrMessage)
	}
	return d
}

// waitGroupState polls DescribeGroups until the group is in state.
func waitGroupState(t testing.TB, adm *kadm.Client, group, state string, timeout time.Duration) kadm.DescribedGroup {
	t.Helper()
	var last kadm.DescribedGroup
	eventually(t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ds, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return fmt.Errorf("DescribeGroups %s: %v", group, err)
		}
		last = ds[group]
		if last.Err != nil {
			return fmt.Errorf("DescribeGroups %s: %v", group, last.Err)
		}
		if last.State != state {
			return fmt.Errorf("group %s is %q, want %q", group, last.State, state)
		}
		return nil
	})
	return last
}

// memberNames lists the names of n members "<prefix>0".."<prefix>n-1".
func memberNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestGroupConsumeExactlyOnce(t *testing.T) {
	t.Parallel()
	const (
		parts   = 6
		perHalf = 300
	)
	// The default group.initial.rebalance.delay.ms (3 s) stays on here.
	b := startBroker(t)
	adm := newAdmin(t, b)
	for _, bal := range groupBalancers {
		t.Run(bal, func(t *testing.T) {
			topic := "eo-" + bal
			group := "eo-group-" + bal
			createTopic(t, adm, topic, parts, nil)
			produced := make(map[recKey]bool)
			produceKeyed(t, b, topic, "before", perHalf, produced)

			tr := newGroupTracker()
			names := memberNames("m", 3)
			for _, n := range names {
				startMember(t, tr, memberSpec{Name: n, Broker: b.Addr(), Group: group, Topic: topic,
					Balancer: bal, Session: 10 * time.Second, Heartbeat: time.Second})
			}
			waitUntil(t, 30*time.Second, "3 members each with a share of the 6 partitions", func() error {
				return tr.balanced(names, parts)
			})
			produceKeyed(t, b, topic, "after", perHalf, produced)
			waitConsumed(t, tr, produced, 30*time.Second)
			time.Sleep(time.Second) // room for duplicates to show up
			checkAudit(t, tr, produced)
			checkCommittedAtEnd(t, adm, group, topic, parts)

			d := waitGroupState(t, adm, group, "Stable", 10*time.Second)
			if d.ProtocolType != "consumer" || d.Protocol != bal || len(d.Members) != 3 {
				t.Errorf("DescribeGroups %s: protocol type %q, protocol %q, %d members; want \"consumer\", %q, 3",
					group, d.ProtocolType, d.Protocol, len(d.Members), bal)
			}
			if got := d.AssignedPartitions()[topic]; len(got) != parts {
				t.Errorf("DescribeGroups %s: member assignments cover %d partitions of %s, want %d", group, len(got), topic, parts)
			}
		})
	}
}

func TestGroupMemberLeaveAndKill(t *testing.T) {
	t.Parallel()
	const (
		parts   = 6
		batch   = 200
		session = 6 * time.Second
	)
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	for _, bal := range groupBalancers {
		t.Run(bal, func(t *testing.T) {
			t.Parallel()
			topic := "lk-" + bal
			group := "lk-group-" + bal
			createTopic(t, adm, topic, parts, nil)
			produced := make(map[recKey]bool)
			produceKeyed(t, b, topic, "b0", batch, produced)

			tr := newGroupTracker()
			spec := func(name string) memberSpec {
				return memberSpec{Name: name, Broker: b.Addr(), Group: group, Topic: topic,
					Balancer: bal, Session: session, Heartbeat: 500 * time.Millisecond}
			}
			startMember(t, tr, spec("stay"))
			leaver := startMember(t, tr, spec("leaver"))
			victim := startMemberProcess(t, tr, spec("victim"))
			waitUntil(t, 30*time.Second, "3 members balanced", func() error {
				return tr.balanced([]string{"stay", "leaver", "victim"}, parts)
			})
			produceKeyed(t, b, topic, "b1", batch, produced)
			waitConsumed(t, tr, produced, 30*time.Second)

			// A clean leave: LeaveGroup triggers an immediate rebalance.
			tr.forget("leaver")
			start := time.Now()
			leaver.leave()
			closeTook := time.Since(start)
			waitUntil(t, session, "rebalance after LeaveGroup", func() error {
				return tr.balanced([]string{"stay", "victim"}, parts)
			})
			if took := time.Since(start); took > session {
				t.Errorf("%s: rebalance after LeaveGroup took %v, more than the session timeout %v", bal, took, session)
			} else {
				t.Logf("%s: rebalanced %v after LeaveGroup began (close took %v)", bal, took, closeTook)
			}
			produceKeyed(t, b, topic, "b2", batch, produced)
			waitConsumed(t, tr, produced, 30*time.Second)
			if probs := tr.audit(produced); len(probs) > 0 {
				t.Errorf("before any kill, every record must be consumed exactly once:\n  %s", strings.Join(probs, "\n  "))
			}

			// A crash: the member's process dies with SIGKILL; its session
			// expires and the survivor takes every partition.
			victim.killAndWait(t)
			tr.forget("victim")
			took := waitUntil(t, session+8*time.Second, "rebalance after SIGKILL of a member process", func() error {
				return tr.balanced([]string{"stay"}, parts)
			})
			t.Logf("%s: rebalanced %v after SIGKILL (session timeout %v)", bal, took, session)
			produceKeyed(t, b, topic, "b3", batch, produced)
			waitConsumed(t, tr, produced, 30*time.Second)
			time.Sleep(500 * time.Millisecond)
			checkAudit(t, tr, produced, "victim")
			checkCommittedAtEnd(t, adm, group, topic, parts)
			d := waitGroupState(t, adm, group, "Stable", 10*time.Second)
			if len(d.Members) != 1 {
				ids := make([]string, 0, len(d.Members))
				for _, m := range d.Members {
					ids = append(ids, m.ClientID)
				}
				sort.Strings(ids)
				t.Errorf("DescribeGroups %s after leave and kill: members %v, want only the survivor", group, ids)
			}
		})
	}
}
