package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// reassignmentPlan is the JSON of kafka-reassign-partitions' --reassignment-json-file.
type reassignmentPlan struct {
	Version    int                     `json:"version"`
	Partitions []reassignmentPlanEntry `json:"partitions"`
}

type reassignmentPlanEntry struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// TestClusterReassignment grows a three-broker cluster by a fourth broker and moves every
// replica of a 6-partition RF 3 topic from brokers 1-3 to 2-4 with Kafka's
// kafka-reassign-partitions (--generate, --execute, --verify) while an idempotent acks=all
// producer and a consumer run: no acknowledged record lost or duplicated, the consumer reads
// on, broker 1 deletes its copies and can then be stopped (drained) without any partition of
// the topic leaving its full ISR. A reassignment cancelled while its new replica cannot catch
// up leaves the original replicas; one written to the legacy /admin/reassign_partitions znode
// runs and the znode goes; bad targets are refused with Kafka's codes.
func TestClusterReassignment(t *testing.T) {
	const (
		topic = "moving"
		parts = int32(6)
	)
	// Two one-second samples: a throttle settles within seconds, not after ten windows of burst.
	c := startCluster(t, "replication.quota.window.num=2")
	c.createTopic(t, topic, parts, minISR2())
	prod := startClusterProducer(t, c, topic, parts, 20*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, parts)
	for p := int32(0); p < parts; p++ {
		prod.waitAcked(t, p, time.Now(), 30*time.Second)
	}

	c.addBroker(t, 4)
	tool := kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-reassign-partitions")
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: tool, args: append([]string{"--bootstrap-server", c.broker(2).Addr()}, args...), timeout: 3 * time.Minute})
	}

	// --generate proposes a plan on brokers 2,3,4 only.
	topicsFile := filepath.Join(dir, "topics.json")
	writeFile(t, topicsFile, fmt.Sprintf(`{"version":1,"topics":[{"topic":%q}]}`, topic))
	out := run("--generate", "--topics-to-move-json-file", topicsFile, "--broker-list", "2,3,4")
	proposed := planAfter(t, out, "Proposed partition reassignment configuration")
	if len(proposed.Partitions) != int(parts) {
		t.Fatalf("--generate proposed %d partitions, want %d:\n%s", len(proposed.Partitions), parts, out)
	}
	for _, e := range proposed.Partitions {
		if len(e.Replicas) != 3 || slices.Contains(e.Replicas, 1) {
			t.Fatalf("--generate proposed %v for partition %d", e.Replicas, e.Partition)
		}
	}

	// --execute a plan moving every replica from 1-3 to 2-4.
	plan := reassignmentPlan{Version: 1}
	targets := map[int32][]int32{}
	for p := int32(0); p < parts; p++ {
		rs := []int32{2, 3, 4}
		k := int(p) % 3
		rs = append(rs[k:], rs[:k]...)
		targets[p] = rs
		plan.Partitions = append(plan.Partitions, reassignmentPlanEntry{Topic: topic, Partition: p, Replicas: rs})
	}
	planFile := filepath.Join(dir, "plan.json")
	writeJSON(t, planFile, plan)
	started := time.Now()
	run("--execute", "--reassignment-json-file", planFile)
	clusterWait(t, 3*time.Minute, "kafka-reassign-partitions --verify reports every partition completed", func() error {
		out := run("--verify", "--reassignment-json-file", planFile)
		done := strings.Count(out, "is completed")
		if done != int(parts) {
			return fmt.Errorf("%d of %d completed:\n%s", done, parts, out)
		}
		return nil
	})
	moved := time.Since(started)
	for p := int32(0); p < parts; p++ {
		c.waitISR(t, topic, p, 30*time.Second, "replicas moved to 2-4", func(pv partitionView) error {
			if !slices.Equal(pv.replicas, targets[p]) || !sameSet(pv.isr, targets[p]) || pv.leader < 2 {
				return fmt.Errorf("leader %d replicas %v ISR %v, want replicas and ISR %v", pv.leader, pv.replicas, pv.isr, targets[p])
			}
			return nil
		})
	}
	clusterWait(t, 30*time.Second, "broker 1 deleted its copies of "+topic, func() error {
		entries, err := os.ReadDir(c.broker(1).LogDir())
		if err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), topic+"-") {
				return fmt.Errorf("broker 1 still has %s", e.Name())
			}
		}
		return nil
	})

	adm := newAdmin(t, c.broker(2), kgo.SeedBrokers(c.broker(2).Addr(), c.broker(3).Addr(), c.broker(4).Addr()))
	ctx := testCtx(t, 2*time.Minute)

	// Bad targets: a broker that does not exist, duplicate replicas.
	var bad kadm.AlterPartitionAssignmentsReq
	bad.Assign(topic, 0, []int32{2, 3, 9})
	bad.Assign(topic, 1, []int32{2, 2, 3})
	bad.Assign("no-such-topic", 0, []int32{2})
	res, err := adm.AlterPartitionAssignments(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Sorted() {
		want := kerr.InvalidReplicaAssignment
		if r.Topic == "no-such-topic" {
			want = kerr.UnknownTopicOrPartition
		}
		if !errors.Is(r.Err, want) {
			t.Errorf("%s-%d: %v (%s), want %v", r.Topic, r.Partition, r.Err, r.ErrMessage, want)
		}
	}

	// A cancelled reassignment: its new replica (a frozen broker, not the controller) cannot
	// catch up; cancelling restores the original replicas.
	const other = "cancelled"
	ctrl := c.controller(t)
	frozen := int32(1)
	if ctrl == frozen {
		frozen = 2
	}
	var orig []int32
	for _, id := range []int32{1, 2, 3, 4} {
		if id != frozen {
			orig = append(orig, id)
		}
	}
	createAssigned(t, c, other, orig, minISR2())
	c.waitFullISR(t, other, 1, 30*time.Second)
	var live []string
	for _, id := range orig {
		live = append(live, c.broker(id).Addr())
	}
	adm = newAdmin(t, c.broker(orig[0]), kgo.SeedBrokers(live...))
	c.freeze(t, frozen)
	moving := []int32{frozen, orig[0], orig[1]}
	var move kadm.AlterPartitionAssignmentsReq
	move.Assign(other, 0, moving)
	if res, err := adm.AlterPartitionAssignments(ctx, move); err != nil || res.Error() != nil {
		t.Fatalf("reassigning %s to %v: %v %v", other, moving, err, res.Error())
	}
	listed, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{other: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if l := listed[other][0]; !slices.Equal(l.AddingReplicas, []int32{frozen}) || !slices.Equal(l.RemovingReplicas, []int32{orig[2]}) {
		t.Fatalf("listed reassignment of %s-0: %+v", other, l)
	}
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.CancelAssign(other, 0)
	if res, err := adm.AlterPartitionAssignments(ctx, cancel); err != nil || res.Error() != nil {
		t.Fatalf("cancelling: %v %v", err, res.Error())
	}
	c.thaw(t, frozen)
	c.waitISR(t, other, 0, 30*time.Second, "original replicas after the cancel", func(pv partitionView) error {
		if !slices.Equal(pv.replicas, orig) || len(pv.isr) != 3 {
			return fmt.Errorf("replicas %v ISR %v", pv.replicas, pv.isr)
		}
		return nil
	})
	if listed, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{other: {0: {}}}); err != nil || len(listed[other]) != 0 {
		t.Fatalf("still listed after the cancel: %+v %v", listed, err)
	}

	// The legacy znode moves it onto the thawed broker and is removed once done.
	zc, _, err := zk.Connect([]string{c.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	legacy := zkChroot + "/admin/reassign_partitions"
	data := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d,%d,%d]}]}`, other, moving[0], moving[1], moving[2])
	if _, err := zc.Create(legacy, []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", legacy, err)
	}
	c.waitISR(t, other, 0, time.Minute, "moved through /admin/reassign_partitions", func(pv partitionView) error {
		if !slices.Equal(pv.replicas, moving) || !sameSet(pv.isr, moving) {
			return fmt.Errorf("replicas %v ISR %v", pv.replicas, pv.isr)
		}
		return nil
	})
	clusterWait(t, 30*time.Second, legacy+" removed", func() error {
		if ok, _, err := zc.Exists(legacy); err != nil || ok {
			return fmt.Errorf("exists %v (%v)", ok, err)
		}
		return nil
	})

	// A throttled move: 3 MB copied to broker 2 at 500 KB/s takes seconds (one fetch carries up
	// to 1 MB, replica.fetch.max.bytes, before the throttle applies), not the fraction of a
	// second of an unthrottled one; --verify removes the throttles once it is done.
	const slow = "throttled"
	createAssigned(t, c, slow, []int32{1, 3, 4}, minISR2())
	c.waitFullISR(t, slow, 1, 30*time.Second)
	pcl := c.client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 1000)
	for i := 0; i < 3000; i++ {
		pcl.Produce(ctx, &kgo.Record{Topic: slow, Value: value}, nil)
	}
	if err := pcl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	slowPlan := filepath.Join(dir, "slow.json")
	writeJSON(t, slowPlan, reassignmentPlan{Version: 1, Partitions: []reassignmentPlanEntry{{Topic: slow, Partition: 0, Replicas: []int32{2, 3, 4}}}})
	started = time.Now()
	run("--execute", "--reassignment-json-file", slowPlan, "--throttle", "500000")
	clusterWait(t, 2*time.Minute, "throttled reassignment completed", func() error {
		out := run("--verify", "--reassignment-json-file", slowPlan)
		if !strings.Contains(out, "is completed") {
			return fmt.Errorf("not completed:\n%s", out)
		}
		return nil
	})
	throttledMove := time.Since(started)
	if throttledMove < 2*time.Second {
		t.Errorf("3 MB moved in %v under a 500 KB/s throttle", throttledMove)
	}
	cfgs := mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs"),
		args: []string{"--bootstrap-server", c.broker(2).Addr(), "--describe", "--entity-type", "brokers", "--entity-name", "2"}})
	if strings.Contains(cfgs, "throttled.rate") {
		t.Errorf("throttle still set on broker 2 after --verify:\n%s", cfgs)
	}

	// Broker 1 holds nothing of the moved topic: stopping it leaves every ISR full.
	if code := c.broker(1).Stop(); code != 0 {
		t.Fatalf("broker 1 exited with %d", code)
	}
	c.mu.Lock()
	c.down[1] = "stopped"
	c.mu.Unlock()
	c.waitFullISR(t, topic, parts, 30*time.Second)
	rep := verifyTopic(t, c, topic, prod, cons)
	t.Logf("moved %d partitions from brokers 1-3 to 2-4 in %v under load; %v; 3 MB moved under a 500 KB/s throttle in %v",
		parts, moved.Round(100*time.Millisecond), rep, throttledMove.Round(100*time.Millisecond))
}

// planAfter parses the JSON line that follows the header line in a tool's output.
func planAfter(t testing.TB, out, header string) reassignmentPlan {
	t.Helper()
	ls := lines(out)
	for i, l := range ls {
		if strings.Contains(l, header) && i+1 < len(ls) {
			var p reassignmentPlan
			if err := json.Unmarshal([]byte(ls[i+1]), &p); err != nil {
				t.Fatalf("plan after %q: %v\n%s", header, err, out)
			}
			return p
		}
	}
	t.Fatalf("no %q in:\n%s", header, out)
	return reassignmentPlan{}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}
