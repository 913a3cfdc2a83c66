package integration

import (
	"fmt"
	"testing"
	"time"
)

// TestGroupTimings measures how fast a 3-member group (two members in this
// process, one in a child process) becomes Stable from cold, and recovers
// after a member leaves and after a member's process is SIGKILLed. It logs the
// figures (and prints one line per balancer to stdout) and asserts only
// generous bounds. Measure with:
//
//	go test -count=1 -run TestGroupTimings -v ./integration/
func TestGroupTimings(t *testing.T) {
	const (
		parts     = 6
		session   = 6 * time.Second
		heartbeat = 500 * time.Millisecond
	)
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	for _, bal := range groupBalancers {
		t.Run(bal, func(t *testing.T) {
			topic := "timing-" + bal
			group := "timing-group-" + bal
			createTopic(t, adm, topic, parts, nil)
			produced := make(map[recKey]bool)
			produceKeyed(t, b, topic, "t", 60, produced)
			tr := newGroupTracker()
			spec := func(name string) memberSpec {
				return memberSpec{Name: name, Broker: b.Addr(), Group: group, Topic: topic,
					Balancer: bal, Session: session, Heartbeat: heartbeat}
			}

			// Cold: from the clients' start (their first FindCoordinator and
			// JoinGroup) until every member holds its share.
			start := time.Now()
			victim := startMemberProcess(t, tr, spec("proc"))
			startMember(t, tr, spec("stay"))
			leaver := startMember(t, tr, spec("leaver"))
			waitUntil(t, 15*time.Second, "cold start of a 3-member group", func() error {
				return tr.balanced([]string{"proc", "stay", "leaver"}, parts)
			})
			cold := time.Since(start)
			waitGroupState(t, adm, group, "Stable", 10*time.Second)

			// Leave: from Close (commit + LeaveGroup) until the two others
			// hold every partition.
			tr.forget("leaver")
			start = time.Now()
			leaver.leave()
			waitUntil(t, 10*time.Second, "recovery after LeaveGroup", func() error {
				return tr.balanced([]string{"proc", "stay"}, parts)
			})
			leave := time.Since(start)

			// Kill: from SIGKILL of the member's process until the survivor
			// holds every partition (session expiry + rebalance).
			start = time.Now()
			victim.killAndWait(t)
			tr.forget("proc")
			waitUntil(t, session+memberRebalanceTimeout+10*time.Second, "recovery after SIGKILL", func() error {
				return tr.balanced([]string{"stay"}, parts)
			})
			kill := time.Since(start)
			waitConsumed(t, tr, produced, 10*time.Second)

			line := fmt.Sprintf("group timings (%s, session.timeout=%v, heartbeat=%v, group.initial.rebalance.delay.ms=0): cold->Stable %v, after leave %v, after SIGKILL %v",
				bal, session, heartbeat, cold.Round(time.Millisecond), leave.Round(time.Millisecond), kill.Round(time.Millisecond))
			t.Log(line)
			fmt.Println(line)
		})
	}
}
