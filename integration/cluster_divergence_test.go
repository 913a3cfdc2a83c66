package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClusterStaleLeaderRejoins makes a follower append as a stale leader, then follow again,
// and checks that it cuts its log back to where it agrees with the real leader and rejoins the
// ISR (the sequence of a lost replica found by a fault loop):
//
//  1. partition 0 of a topic with replicas [3,1,2] is led by broker 1; broker 3 follows, in the
//     ISR, while an idempotent acks=all producer runs;
//  2. broker 3 is frozen (SIGSTOP) while still registered, and a preferred election makes it
//     leader in a new epoch it cannot act on yet;
//  3. its ZooKeeper session expires; broker 1 leads again in a later epoch, without it;
//  4. on SIGCONT broker 3 applies the stale LeaderAndIsr first and appends as leader (a raw
//     acks=1 produce sent to it while it was frozen, and retries, make that certain), then
//     becomes a follower in the latest epoch.
//
// Broker 3 must be back in the ISR within replica.lag.time.max.ms plus a few seconds, the three
// logs must hold the same batches at the same offsets (the segment files compare equal byte for
// byte), the stale record must be gone, and every acks=all record must be read exactly once.
func TestClusterStaleLeaderRejoins(t *testing.T) {
	const (
		topic  = "stale-leader"
		stale  = int32(3)
		lagMax = 10 * time.Second // replica.lag.time.max.ms of the cluster
	)
	c := startCluster(t, "auto.leader.rebalance.enable=false")
	createAssigned(t, c, topic, []int32{3, 1, 2}, minISR2())
	c.waitFullISR(t, topic, 1, 30*time.Second)

	// Move leadership off broker 3 (controlled shutdown hands it to broker 1) and bring it back
	// as a follower; the controller is then broker 1 or 2, so freezing 3 leaves it running.
	if code := c.broker(stale).Stop(); code != 0 {
		t.Fatalf("broker %d exited with %d on SIGTERM", stale, code)
	}
	c.mu.Lock()
	c.down[stale] = "stopped"
	c.mu.Unlock()
	c.restart(t, stale)
	c.waitFullISR(t, topic, 1, 60*time.Second)
	if l := c.leader(t, topic, 0); l != 1 {
		t.Fatalf("leader %d after broker %d's controlled shutdown, want 1", l, stale)
	}
	if ctrl := c.controller(t); ctrl == stale {
		t.Fatalf("broker %d is the controller after its restart", stale)
	}

	prod := startClusterProducer(t, c, topic, 1, 10*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, 1)
	prod.waitAcked(t, 0, time.Now(), 30*time.Second)

	var staleOffset int64 = -1
	var staleValue string
	for attempt := 1; attempt <= 3 && staleOffset < 0; attempt++ {
		staleOffset, staleValue = staleLeaderRound(t, c, topic, stale, attempt)
		c.waitISR(t, topic, 0, lagMax+5*time.Second, fmt.Sprintf("broker %d back in the ISR", stale), func(pv partitionView) error {
			if !slices.Contains(pv.isr, stale) || len(pv.isr) != 3 {
				return fmt.Errorf("leader %d epoch %d, ISR %v", pv.leader, pv.leaderEpoch, pv.isr)
			}
			return nil
		})
	}
	if staleOffset < 0 {
		t.Fatalf("broker %d never took a write as a stale leader in 3 rounds: the divergence was not exercised", stale)
	}

	rep := verifyTopic(t, c, topic, prod, cons)
	consumed, _ := cons.read()
	for _, r := range consumed[0] {
		if r.value == staleValue {
			t.Errorf("the stale leader's record %q (offset %d) is still in the log at offset %d", staleValue, staleOffset, r.offset)
		}
	}
	waitSameSegments(t, c, topic, 0, 30*time.Second)
	t.Logf("stale leader wrote %q at offset %d; logs agree on every broker; %v", staleValue, staleOffset, rep)
}

// staleLeaderRound freezes broker stale, makes it preferred leader, waits until another broker
// leads without it, then continues it while sending it acks=1 produce requests. It returns the
// offset and value of the record broker stale acknowledged as leader, or -1 if none was.
func staleLeaderRound(t *testing.T, c *testCluster, topic string, stale int32, round int) (int64, string) {
	t.Helper()
	before, err := c.partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := dialRaw(t, c.broker(stale))
	c.freeze(t, stale)
	var live []string
	for _, id := range c.up() {
		live = append(live, c.broker(id).Addr())
	}
	adm := newAdmin(t, c.broker(c.up()[0]), kgo.SeedBrokers(live...))
	ctx := testCtx(t, 20*time.Second)
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("ElectLeaders: %v", err)
	}
	for _, ps := range res {
		for _, r := range ps {
			if r.Err != nil {
				t.Fatalf("preferred election of %s-%d: %v (%s)", r.Topic, r.Partition, r.Err, r.ErrMessage)
			}
		}
	}
	c.waitISR(t, topic, 0, 10*time.Second, fmt.Sprintf("frozen broker %d elected preferred leader", stale), func(pv partitionView) error {
		if pv.leader != stale || pv.leaderEpoch <= before.leaderEpoch {
			return fmt.Errorf("leader %d epoch %d (was %d)", pv.leader, pv.leaderEpoch, before.leaderEpoch)
		}
		return nil
	})
	staleEpoch := before.leaderEpoch + 1
	c.waitISR(t, topic, 0, clusterSessionTimeout+clusterElectionSlack+10*time.Second, fmt.Sprintf("a live broker leading without frozen broker %d", stale), func(pv partitionView) error {
		if pv.leader < 0 || pv.leader == stale || slices.Contains(pv.isr, stale) || pv.leaderEpoch <= staleEpoch {
			return fmt.Errorf("leader %d epoch %d, ISR %v", pv.leader, pv.leaderEpoch, pv.isr)
		}
		return nil
	})

	// A produce queued while frozen, then as many as fit before broker 3 follows again.
	seq := 0
	produce := func() (int32, string) {
		seq++
		v := fmt.Sprintf("stale-%d-%d", round, seq)
		req := produceRequest(topic, 0, 1, buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte(v)}}, producerIdent{pid: -1, epoch: -1, seq: -1}))
		corr, err := raw.send(req, 7)
		if err != nil {
			t.Fatalf("produce to broker %d: %v", stale, err)
		}
		return corr, v
	}
	corr, value := produce()
	c.thaw(t, stale)
	deadline := time.Now().Add(5 * time.Second)
	for {
		frame, err := raw.readFrame(rawTimeout)
		if err != nil {
			t.Fatalf("produce answer from broker %d: %v", stale, err)
		}
		got, resp, err := decodeResponse(frame, kmsg.NewPtrProduceRequest())
		if err != nil || got != corr {
			t.Fatalf("produce answer from broker %d: corr %d (want %d): %v", stale, got, corr, err)
		}
		rp := producePartition(t, resp)
		if rp.ErrorCode == 0 {
			return rp.BaseOffset, value
		}
		if rp.ErrorCode != kerr.NotLeaderForPartition.Code || time.Now().After(deadline) {
			t.Logf("round %d: broker %d answered %s; no stale write this round", round, stale, kafkaCode(rp.ErrorCode))
			return -1, ""
		}
		corr, value = produce()
	}
}

// createAssigned creates a one-partition topic with the given replica assignment.
func createAssigned(t testing.TB, c *testCluster, topic string, replicas []int32, configs map[string]*string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for k, v := range configs {
		cc := kmsg.NewCreateTopicsRequestTopicConfig()
		cc.Name, cc.Value = k, v
		rt.Configs = append(rt.Configs, cc)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := c.request(c.controller(t), req, 30*time.Second)
	if err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	for _, r := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("CreateTopics %s: %v", topic, err)
		}
	}
}

// waitSameSegments waits until every live broker's directory of topic-partition holds the same
// segment files with the same bytes.
func waitSameSegments(t testing.TB, c *testCluster, topic string, partition int32, timeout time.Duration) {
	t.Helper()
	clusterWait(t, timeout, fmt.Sprintf("%s-%d: identical segments on every broker", topic, partition), func() error {
		var first map[string][]byte
		var firstID int32
		for _, id := range c.up() {
			segs, err := readSegments(filepath.Join(c.broker(id).LogDir(), fmt.Sprintf("%s-%d", topic, partition)))
			if err != nil {
				return err
			}
			if first == nil {
				first, firstID = segs, id
				continue
			}
			if err := sameSegments(first, segs); err != nil {
				return fmt.Errorf("brokers %d and %d: %w", firstID, id, err)
			}
		}
		return nil
	})
}

// readSegments reads the .log files of a partition directory.
func readSegments(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no segments in %s", dir)
	}
	return out, nil
}

func sameSegments(a, b map[string][]byte) error {
	names := func(m map[string][]byte) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return s
	}
	if na, nb := names(a), names(b); !slices.Equal(na, nb) {
		return fmt.Errorf("segments %v against %v", na, nb)
	}
	for name, x := range a {
		y := b[name]
		if bytes.Equal(x, y) {
			continue
		}
		n := min(len(x), len(y))
		i := 0
		for i < n && x[i] == y[i] {
			i++
		}
		return fmt.Errorf("segment %s: %d bytes against %d, first difference at byte %d", name, len(x), len(y), i)
	}
	return nil
}
