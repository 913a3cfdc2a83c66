//go:build soak

package integration

// The fault soak (make soak; not part of make test): a three-broker cluster under an
// idempotent acks=all producer and a reading consumer, and a randomized loop of process
// faults, one broker down at a time: kill -9 and restart, SIGSTOP for longer than the
// ZooKeeper session timeout then SIGCONT, SIGTERM and restart; each aimed at the controller,
// a partition leader or a follower. After every fault every replica must be back in the ISR;
// at the end every acknowledged record must have been read exactly once, in order, and the
// replicas of every partition must hold identical segments.
//
// KBROKER_SOAK_FAULTS (default 100) sets the number of faults, KBROKER_SOAK_SEED the random
// seed (default: the time), KBROKER_SOAK_OUT a file for the figures (markdown).

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakFault is one fault the loop injects and what it took to heal.
type soakFault struct {
	n        int
	kind     string // kill9, freeze, sigterm
	role     string // controller, leader, follower
	broker   int32
	down     time.Duration // how long the broker was gone or frozen
	recovery time.Duration // from its return until every ISR was full again
}

func soakEnvInt(t *testing.T, name string, def int64) int64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

func TestSoakFaults(t *testing.T) {
	const (
		topic = "soak"
		parts = int32(6)
		// isrTimeout bounds the return of every replica to the ISR after a fault.
		isrTimeout = 90 * time.Second
	)
	faults := int(soakEnvInt(t, "KBROKER_SOAK_FAULTS", 100))
	seed := soakEnvInt(t, "KBROKER_SOAK_SEED", time.Now().UnixNano())
	rng := rand.New(rand.NewSource(seed))
	t.Logf("soak: %d faults, seed %d", faults, seed)

	// A short imbalance check lets the controller move leadership back to preferred replicas
	// between faults, the elections that can make a frozen broker a stale leader. A short
	// replica.lag.time.max.ms makes a replica that cannot catch up leave the ISR soon after a
	// fault, where the check after each fault sees it.
	const lagMax = 4 * time.Second
	c := startCluster(t, "leader.imbalance.check.interval.seconds=5", fmt.Sprintf("replica.lag.time.max.ms=%d", lagMax.Milliseconds()))
	c.createTopic(t, topic, parts, minISR2())
	prod := startClusterProducer(t, c, topic, parts, 5*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, parts)
	for p := int32(0); p < parts; p++ {
		prod.waitAcked(t, p, time.Now(), 30*time.Second)
	}

	start := time.Now()
	var done []soakFault
	for i := 1; i <= faults; i++ {
		f := soakFault{n: i, kind: []string{"kill9", "freeze", "sigterm"}[rng.Intn(3)], role: []string{"controller", "leader", "follower"}[rng.Intn(3)]}
		f.broker = soakTarget(t, c, topic, parts, f.role, rng)
		began := time.Now()
		switch f.kind {
		case "kill9":
			c.kill(f.broker)
			time.Sleep(time.Duration(rng.Intn(3000)) * time.Millisecond)
			c.restart(t, f.broker)
		case "freeze":
			c.freeze(t, f.broker)
			time.Sleep(clusterSessionTimeout + time.Duration(1000+rng.Intn(3000))*time.Millisecond)
			c.thaw(t, f.broker)
		case "sigterm":
			if code := c.broker(f.broker).Stop(); code != 0 {
				t.Fatalf("fault %d: broker %d exited with %d on SIGTERM", i, f.broker, code)
			}
			c.mu.Lock()
			c.down[f.broker] = "stopped"
			c.mu.Unlock()
			time.Sleep(time.Duration(rng.Intn(2000)) * time.Millisecond)
			c.restart(t, f.broker)
		}
		f.down = time.Since(began)
		back := time.Now()
		c.waitFormed(t, 60*time.Second)
		waitFullISREverywhere(t, c, topic, parts, isrTimeout)
		f.recovery = time.Since(back)
		// A replica that came back but cannot follow stays in the ISR until the leader's lag
		// check drops it: look again once that check has run.
		time.Sleep(time.Until(back.Add(lagMax + lagMax/2 + time.Second)))
		waitFullISREverywhere(t, c, topic, parts, isrTimeout)
		done = append(done, f)
		acked, _ := prod.snapshot()
		t.Logf("fault %d/%d: %s of broker %d (%s), down %v, every ISR full %v later; %d records acknowledged so far",
			i, faults, f.kind, f.broker, f.role, f.down.Round(time.Millisecond), f.recovery.Round(time.Millisecond), len(acked))
	}
	elapsed := time.Since(start)

	acked, _ := prod.snapshot()
	rep := verifyTopic(t, c, topic, prod, cons)
	for p := int32(0); p < parts; p++ {
		waitSameSegments(t, c, topic, p, 60*time.Second)
	}
	gap, gapPart := longestAckGap(acked)
	summary := soakSummary(done, rep, elapsed, gap, gapPart, seed)
	t.Log("\n" + summary)
	if out := os.Getenv("KBROKER_SOAK_OUT"); out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
			if err := os.WriteFile(out, []byte(summary), 0o644); err != nil {
				t.Errorf("writing %s: %v", out, err)
			}
		}
	}
}

// waitFullISREverywhere waits until every live broker's metadata shows a leader and all three
// replicas in the ISR of every partition (a broker just back from a freeze answers from its
// own cache, which must have caught up too).
func waitFullISREverywhere(t *testing.T, c *testCluster, topic string, parts int32, timeout time.Duration) {
	t.Helper()
	clusterWait(t, timeout, topic+": full ISR on every broker", func() error {
		for _, id := range c.up() {
			v, err := c.metadata(id, topic)
			if err != nil {
				return err
			}
			for p := int32(0); p < parts; p++ {
				pv, ok := v.partitions[topic][p]
				if !ok || pv.err != nil || pv.leader < 0 || len(pv.isr) != 3 {
					return fmt.Errorf("broker %d sees %s-%d: leader %d epoch %d ISR %v err %v", id, topic, p, pv.leader, pv.leaderEpoch, pv.isr, pv.err)
				}
			}
		}
		return nil
	})
}

// soakTarget picks the broker a fault hits: the controller, the leader of a random partition,
// or a follower of one.
func soakTarget(t *testing.T, c *testCluster, topic string, parts int32, role string, rng *rand.Rand) int32 {
	t.Helper()
	if role == "controller" {
		return c.controller(t)
	}
	p := int32(rng.Intn(int(parts)))
	leader := c.leader(t, topic, p)
	if role == "leader" {
		return leader
	}
	var followers []int32
	for _, id := range c.ids {
		if id != leader {
			followers = append(followers, id)
		}
	}
	return followers[rng.Intn(len(followers))]
}

// longestAckGap is the longest time a partition went without an acknowledgement: the largest
// gap between consecutive acknowledgements of one partition.
func longestAckGap(acked []ackedRecord) (time.Duration, int32) {
	byPart := map[int32][]time.Time{}
	for _, a := range acked {
		byPart[a.partition] = append(byPart[a.partition], a.acked)
	}
	var worst time.Duration
	var worstPart int32
	for p, ts := range byPart {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(ts); i++ {
			if d := ts[i].Sub(ts[i-1]); d > worst {
				worst, worstPart = d, p
			}
		}
	}
	return worst, worstPart
}

// soakSummary renders the figures of a run as markdown.
func soakSummary(faults []soakFault, rep deliveryReport, elapsed, gap time.Duration, gapPart int32, seed int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Fault soak: %d faults in %v (seed %d)\n\n", len(faults), elapsed.Round(time.Second), seed)
	fmt.Fprintf(&b, "- records: %d acknowledged (acks=all, idempotent), %d read, %d lost, %d other problems\n", rep.acked, rep.consumed, rep.lost, len(rep.problems))
	fmt.Fprintf(&b, "- longest time a partition went without an acknowledgement: %v (partition %d)\n", gap.Round(time.Millisecond), gapPart)
	counts := map[string]int{}
	recov := map[string][]time.Duration{}
	var all []time.Duration
	for _, f := range faults {
		counts[f.kind+" of the "+f.role]++
		recov[f.kind] = append(recov[f.kind], f.recovery)
		all = append(all, f.recovery)
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("- faults:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s: %d;", k, counts[k])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- every ISR full again after the broker's return: %s\n", durationStats(all))
	for _, k := range []string{"kill9", "freeze", "sigterm"} {
		if len(recov[k]) > 0 {
			fmt.Fprintf(&b, "  - %s: %s\n", k, durationStats(recov[k]))
		}
	}
	return b.String()
}
