package integration

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// failoverFigures are the measurements of TestClusterFailover.
type failoverFigures struct {
	leaderElected     []time.Duration // kill of a leader -> a new leader in Metadata
	leaderProduce     []time.Duration // kill of a leader -> first acks=all produce acknowledged
	controllerElected []time.Duration // kill of the controller -> a new controller in Metadata
	rejoin            []time.Duration // restart of a killed broker -> back in every ISR
	lines             []string
}

func (f *failoverFigures) note(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	f.lines = append(f.lines, line)
	t.Log(line)
}

// TestClusterFailover runs an idempotent acks=all producer and a consumer
// against a replication factor 3 topic (min.insync.replicas=2) while, five
// times, the leader of a partition is killed with SIGKILL and restarted,
// then the controller is killed and restarted. Every acknowledged record
// must be read exactly once in order; a new leader and a new controller must
// appear within the ZooKeeper session timeout (plus election slack); each
// restarted broker must catch up and rejoin the ISR. The figures are printed
// with t.Log and on stdout:
//
//	go test -count=1 -run TestClusterFailover -v ./integration/
func TestClusterFailover(t *testing.T) {
	const (
		topic  = "failover"
		parts  = int32(3)
		rounds = 5
	)
	c := startCluster(t)
	two := "2"
	c.createTopic(t, topic, parts, map[string]*string{"min.insync.replicas": &two})

	prod := startClusterProducer(t, c, topic, parts, 10*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, parts)
	warm := time.Now()
	for p := int32(0); p < parts; p++ {
		prod.waitAcked(t, p, warm, 30*time.Second)
	}

	bound := clusterSessionTimeout + clusterElectionSlack
	var fig failoverFigures
	// Steady state before any kill, for scale.
	steadyFrom := time.Now()
	time.Sleep(3 * time.Second)
	steadyN, steadyMean, steadyMax := prod.latency(steadyFrom, time.Now().Add(-time.Second))
	fig.note(t, "steady state: %d records acknowledged in 2s (%d partitions, one record per partition every 10ms, at most 16 in flight per partition); acks=all latency mean %v, max %v",
		steadyN, parts, steadyMean.Round(time.Millisecond), steadyMax.Round(time.Millisecond))

	rejoinAll := func(id int32, why string) {
		t.Helper()
		// The controller takes a dead broker out of every ISR.
		for p := int32(0); p < parts; p++ {
			c.waitISR(t, topic, p, 30*time.Second, fmt.Sprintf("killed broker %d out of the ISR", id), func(pv partitionView) error {
				if slices.Contains(pv.isr, id) {
					return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
				}
				return nil
			})
		}
		restarted := time.Now()
		c.restart(t, id)
		for p := int32(0); p < parts; p++ {
			c.waitISR(t, topic, p, 90*time.Second, fmt.Sprintf("broker %d back in the ISR", id), func(pv partitionView) error {
				if pv.leader < 0 || !slices.Contains(pv.isr, id) || len(pv.isr) != 3 {
					return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
				}
				return nil
			})
		}
		d := time.Since(restarted)
		fig.rejoin = append(fig.rejoin, d)
		fig.note(t, "  %s: broker %d restarted and back in the ISR of all %d partitions after %v", why, id, parts, d.Round(time.Millisecond))
	}

	for r := 1; r <= rounds; r++ {
		// A partition leader.
		p := int32(r-1) % parts
		old := c.leader(t, topic, p)
		killed := time.Now()
		c.kill(old)
		var newLeader int32
		clusterWait(t, 60*time.Second, fmt.Sprintf("round %d: a new leader of %s-%d after killing broker %d", r, topic, p, old), func() error {
			pv, err := c.partition(topic, p)
			if err != nil {
				return err
			}
			if pv.leader < 0 || pv.leader == old {
				return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
			}
			newLeader = pv.leader
			return nil
		})
		elected := time.Since(killed)
		produced := prod.waitAcked(t, p, killed, 60*time.Second)
		fig.leaderElected = append(fig.leaderElected, elected)
		fig.leaderProduce = append(fig.leaderProduce, produced)
		fig.note(t, "round %d: killed broker %d, leader of %s-%d; broker %d leads after %v; first acks=all produce acknowledged %v after the kill",
			r, old, topic, p, newLeader, elected.Round(time.Millisecond), produced.Round(time.Millisecond))
		if elected > bound {
			t.Errorf("round %d: new leader of %s-%d after %v, more than the session timeout %v + %v", r, topic, p, elected, clusterSessionTimeout, clusterElectionSlack)
		}
		rejoinAll(old, fmt.Sprintf("round %d", r))

		// The controller.
		ctrl := c.controller(t)
		killed = time.Now()
		c.kill(ctrl)
		var newCtrl int32
		clusterWait(t, 60*time.Second, fmt.Sprintf("round %d: a new controller after killing controller %d", r, ctrl), func() error {
			v, err := c.anyMetadata()
			if err != nil {
				return err
			}
			if v.controller < 0 || v.controller == ctrl {
				return fmt.Errorf("broker %d names controller %d", v.from, v.controller)
			}
			newCtrl = v.controller
			return nil
		})
		elected = time.Since(killed)
		fig.controllerElected = append(fig.controllerElected, elected)
		fig.note(t, "round %d: killed controller %d; broker %d is controller after %v", r, ctrl, newCtrl, elected.Round(time.Millisecond))
		if elected > bound {
			t.Errorf("round %d: new controller after %v, more than the session timeout %v + %v", r, elected, clusterSessionTimeout, clusterElectionSlack)
		}
		rejoinAll(ctrl, fmt.Sprintf("round %d", r))
	}

	prod.stop(t, 2*time.Minute)
	adm := newAdmin(t, c.broker(c.up()[0]))
	ends := endOffsets(t, adm, topic)
	cons.waitCaughtUp(t, ends, 2*time.Minute)
	acked, failed := prod.snapshot()
	consumed, fetchErrs := cons.read()
	rep := checkDelivery(acked, consumed)
	if rep.lost > 0 || len(rep.problems) > 0 {
		t.Errorf("delivery: %v", rep)
	}
	if len(fetchErrs) > 0 {
		t.Logf("consumer fetch errors (retried by the client): %s", strings.Join(fetchErrs, "; "))
	}

	summary := []string{
		fmt.Sprintf("cluster failover, %d rounds (zookeeper.session.timeout.ms=%d, 3 brokers, RF 3, min.insync.replicas=2, acks=all idempotent):",
			rounds, clusterSessionTimeout.Milliseconds()),
		"  leader failover, kill -9 -> new leader in Metadata:      " + durationStats(fig.leaderElected),
		"  leader failover, kill -9 -> first acks=all produce:      " + durationStats(fig.leaderProduce),
		"  controller failover, kill -9 -> new controller:          " + durationStats(fig.controllerElected),
		"  restarted broker, start -> back in the ISR:              " + durationStats(fig.rejoin),
		fmt.Sprintf("  acks=all latency in steady state:                       mean %v, max %v over %d records", steadyMean.Round(time.Millisecond), steadyMax.Round(time.Millisecond), steadyN),
		fmt.Sprintf("  records: %d acknowledged, %d not acknowledged, %d read; acknowledged records lost: %d",
			rep.acked, len(failed), rep.consumed, rep.lost),
	}
	out := strings.Join(append(fig.lines, summary...), "\n")
	t.Log("\n" + out)
	fmt.Fprintln(os.Stdout, out)
}
