package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator"
)

// minISR2 is the topic config min.insync.replicas=2.
func minISR2() map[string]*string {
	two := "2"
	return map[string]*string{"min.insync.replicas": &two}
}

// kafkaCode names a Kafka error code.
func kafkaCode(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return err.Error()
	}
	return "NONE"
}

// waitFullISR waits until every partition of topic has a leader and all
// three replicas in its ISR.
func (c *testCluster) waitFullISR(t testing.TB, topic string, parts int32, timeout time.Duration) {
	t.Helper()
	for p := int32(0); p < parts; p++ {
		c.waitISR(t, topic, p, timeout, "full ISR", func(pv partitionView) error {
			if pv.leader < 0 || len(pv.isr) != 3 {
				return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
			}
			return nil
		})
	}
}

// verifyTopic waits until the consumer has read topic up to its high
// watermarks, stops the producer first, and checks delivery.
func verifyTopic(t testing.TB, c *testCluster, topic string, prod *clusterProducer, cons *clusterConsumer) deliveryReport {
	t.Helper()
	prod.stop(t, 2*time.Minute)
	ends := endOffsets(t, newAdmin(t, c.broker(c.up()[0]), kgo.SeedBrokers(c.seeds()...)), topic)
	cons.waitCaughtUp(t, ends, 2*time.Minute)
	acked, _ := prod.snapshot()
	consumed, _ := cons.read()
	rep := checkDelivery(acked, consumed)
	if rep.lost > 0 || len(rep.problems) > 0 {
		t.Errorf("delivery: %v", rep)
	}
	return rep
}

// TestClusterFrozenFollower freezes a follower with SIGSTOP: the leader
// drops it from the ISR after replica.lag.time.max.ms while acks=all with
// min.insync.replicas=2 keeps being acknowledged; after SIGCONT it catches up
// and rejoins. The ZooKeeper session outlives the freeze, so the follower
// leaves the ISR by lag, not by losing its registration.
func TestClusterFrozenFollower(t *testing.T) {
	const (
		topic = "frozen"
		lag   = 3 * time.Second
	)
	c := startCluster(t, "replica.lag.time.max.ms="+strconv.Itoa(int(lag.Milliseconds())), "zookeeper.session.timeout.ms=30000")
	c.createTopic(t, topic, 1, minISR2())
	leader := c.leader(t, topic, 0)
	ctrl := c.controller(t)
	follower := int32(-1)
	for _, id := range c.ids {
		if id != leader && id != ctrl {
			follower = id
			break
		}
	}
	prod := startClusterProducer(t, c, topic, 1, 20*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, 1)
	prod.waitAcked(t, 0, time.Now(), 30*time.Second)

	frozen := time.Now()
	c.freeze(t, follower)
	c.waitISR(t, topic, 0, 10*lag, fmt.Sprintf("frozen broker %d out of the ISR", follower), func(pv partitionView) error {
		if slices.Contains(pv.isr, follower) || len(pv.isr) != 2 {
			return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
		}
		return nil
	})
	shrink := time.Since(frozen)
	pv, err := c.partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pv.leader != leader {
		t.Errorf("leader moved from %d to %d while a follower was frozen", leader, pv.leader)
	}

	// With two in-sync replicas, acks=all is acknowledged without waiting
	// for the frozen one.
	shrunk := time.Now()
	first := prod.waitAcked(t, 0, shrunk, 10*time.Second)
	time.Sleep(2 * time.Second)
	n, _ := prod.ackedSince(0, shrunk)
	if n < 10 {
		t.Errorf("only %d acks=all records acknowledged in the 2s after the ISR shrank to %v", n, pv.isr)
	}

	thawed := time.Now()
	c.thaw(t, follower)
	c.waitISR(t, topic, 0, 30*time.Second, fmt.Sprintf("broker %d back in the ISR", follower), func(pv partitionView) error {
		if !slices.Contains(pv.isr, follower) || len(pv.isr) != 3 {
			return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
		}
		return nil
	})
	rejoin := time.Since(thawed)
	rep := verifyTopic(t, c, topic, prod, cons)
	t.Logf("frozen follower %d (replica.lag.time.max.ms=%d): out of the ISR after %v; first acks=all ack after the shrink in %v, %d acks in the next 2s; back in the ISR %v after SIGCONT; %v",
		follower, lag.Milliseconds(), shrink.Round(time.Millisecond), first.Round(time.Millisecond), n, rejoin.Round(time.Millisecond), rep)
}

// TestClusterNotEnoughReplicas kills two of three brokers: once the ISR is
// down to the leader, acks=all produce answers NOT_ENOUGH_REPLICAS and
// nothing is acknowledged (nor written); acks=1 still works. After the two
// brokers come back, exactly the acknowledged records are there.
func TestClusterNotEnoughReplicas(t *testing.T) {
	const topic = "underreplicated"
	c := startCluster(t)
	c.createTopic(t, topic, 1, minISR2())
	ctx := testCtx(t, 3*time.Minute)

	var acked []ackedRecord
	ackCl := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := 0; i < 10; i++ {
		v := fmt.Sprintf("before-%d", i)
		r, err := ackCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).First()
		if err != nil {
			t.Fatalf("acks=all produce with three brokers up: %v", err)
		}
		acked = append(acked, ackedRecord{partition: r.Partition, offset: r.Offset, value: v})
	}

	leader := c.leader(t, topic, 0)
	var others []int32
	for _, id := range c.ids {
		if id != leader {
			others = append(others, id)
			c.kill(id)
		}
	}
	c.waitISR(t, topic, 0, clusterSessionTimeout+60*time.Second, fmt.Sprintf("ISR down to the leader %d after killing %v", leader, others), func(pv partitionView) error {
		if pv.leader != leader || !slices.Equal(pv.isr, []int32{leader}) {
			return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
		}
		return nil
	})

	// Raw acks=all produces to the leader until one is refused before the
	// append. Anything acknowledged is a failure; a NOT_ENOUGH_REPLICAS_AFTER_APPEND
	// (a race with the ISR shrinking) may leave its record in the log.
	refused := map[string]bool{}
	var codes []string
	clusterWait(t, 60*time.Second, "acks=all produce answered NOT_ENOUGH_REPLICAS", func() error {
		v := fmt.Sprintf("probe-%d", len(codes))
		resp, err := c.request(leader, produceRequest(topic, 0, -1, buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte(v)}}, noProducer)), 15*time.Second)
		if err != nil {
			codes = append(codes, err.Error())
			return err
		}
		sp := producePartition(t, resp)
		codes = append(codes, kafkaCode(sp.ErrorCode))
		switch sp.ErrorCode {
		case 0:
			t.Fatalf("acks=all produce of %q acknowledged at offset %d with the ISR down to the leader (min.insync.replicas=2)", v, sp.BaseOffset)
		case kerr.NotEnoughReplicas.Code:
			refused[v] = true
			return nil
		}
		return fmt.Errorf("answer %s", kafkaCode(sp.ErrorCode))
	})

	// A client producer: every record fails, none is acknowledged.
	nackCl := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(5*time.Second))
	var recs []*kgo.Record
	for i := 0; i < 5; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("refused-%d", i))})
	}
	var nackErrs []string
	for _, res := range nackCl.ProduceSync(ctx, recs...) {
		if res.Err == nil {
			t.Errorf("acks=all produce of %q acknowledged at offset %d with the ISR down to the leader", res.Record.Value, res.Record.Offset)
			continue
		}
		refused[string(res.Record.Value)] = true
		nackErrs = append(nackErrs, res.Err.Error())
	}
	notEnough := 0
	for _, e := range nackErrs {
		if strings.Contains(e, kerr.NotEnoughReplicas.Message) {
			notEnough++
		}
	}
	t.Logf("raw probes answered %v; client producer errors: %v", codes, nackErrs)

	// acks=1 does not depend on the ISR size.
	oneCl := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if r, err := oneCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("acks-1")}).First(); err != nil {
		t.Errorf("acks=1 produce with the ISR down to the leader: %v", err)
	} else {
		acked = append(acked, ackedRecord{partition: r.Partition, offset: r.Offset, value: "acks-1"})
	}

	for _, id := range others {
		c.restart(t, id)
	}
	c.waitFullISR(t, topic, 1, 60*time.Second)
	end := endOffsets(t, newAdmin(t, c.broker(leader)), topic)[0]
	got := consumeN(t, c.broker(leader), topic, 1, int(end), 60*time.Second, time.Second)
	consumed := map[int32][]consumedRecord{}
	for _, r := range got {
		consumed[r.Partition] = append(consumed[r.Partition], consumedRecord{offset: r.Offset, value: string(r.Value)})
		if refused[string(r.Value)] {
			t.Errorf("record %q was refused with NOT_ENOUGH_REPLICAS yet is in the log at offset %d", r.Value, r.Offset)
		}
	}
	rep := checkDelivery(acked, consumed)
	if rep.lost > 0 || len(rep.problems) > 0 {
		t.Errorf("delivery: %v", rep)
	}
	if notEnough == 0 {
		t.Logf("note: the client producer reported no NOT_ENOUGH_REPLICAS text (it may report its delivery timeout instead)")
	}
}

// TestClusterZooKeeperRestart kills ZooKeeper for longer than a session
// timeout while an acks=all producer and a consumer run, restarts it, and
// checks that the brokers are registered again (ephemeral /brokers/ids/<id>
// and /controller), that produce and consume continue, and that the
// controller still elects a new leader when one is killed.
func TestClusterZooKeeperRestart(t *testing.T) {
	const (
		topic = "zkrestart"
		parts = int32(3)
	)
	c := startCluster(t)
	c.createTopic(t, topic, parts, minISR2())
	prod := startClusterProducer(t, c, topic, parts, 20*time.Millisecond)
	cons := startClusterConsumer(t, c, topic, parts)
	start := time.Now()
	for p := int32(0); p < parts; p++ {
		prod.waitAcked(t, p, start, 30*time.Second)
	}

	down := time.Now()
	c.zk.Kill()
	time.Sleep(clusterSessionTimeout + 2*time.Second)
	during := 0
	for p := int32(0); p < parts; p++ {
		n, _ := prod.ackedSince(p, down)
		during += n
	}
	c.zk.Restart(t)
	back := time.Now()

	want := []string{zkChroot + "/controller"}
	for _, id := range c.ids {
		want = append(want, fmt.Sprintf("%s/brokers/ids/%d", zkChroot, id))
	}
	reg := clusterWait(t, 60*time.Second, "brokers and controller registered again in ZooKeeper", func() error {
		eph, err := c.zk.ephemerals()
		if err != nil {
			return err
		}
		for _, w := range want {
			if !slices.Contains(eph, w) {
				return fmt.Errorf("ephemeral %s missing; ZooKeeper holds %v", w, eph)
			}
		}
		return nil
	})
	c.waitFormed(t, 60*time.Second)
	var resumed []time.Duration
	for p := int32(0); p < parts; p++ {
		resumed = append(resumed, prod.waitAcked(t, p, back, 60*time.Second))
	}

	// The controller works on the restarted ZooKeeper.
	old := c.leader(t, topic, 0)
	killed := time.Now()
	c.kill(old)
	clusterWait(t, 60*time.Second, fmt.Sprintf("a new leader of %s-0 after killing broker %d", topic, old), func() error {
		pv, err := c.partition(topic, 0)
		if err != nil {
			return err
		}
		if pv.leader < 0 || pv.leader == old {
			return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
		}
		return nil
	})
	elected := time.Since(killed)
	if bound := clusterSessionTimeout + clusterElectionSlack; elected > bound {
		t.Errorf("new leader after %v, more than %v, after the ZooKeeper restart", elected, bound)
	}
	prod.waitAcked(t, 0, killed, 60*time.Second)
	c.restart(t, old)
	c.waitFullISR(t, topic, parts, 90*time.Second)

	rep := verifyTopic(t, c, topic, prod, cons)
	t.Logf("ZooKeeper down %v: %d acks=all records acknowledged meanwhile; registrations back %v after the restart; produce resumed after %s; leader election after the restart %v; %v",
		back.Sub(down).Round(time.Millisecond), during, reg.Round(time.Millisecond), durationStats(resumed), elected.Round(time.Millisecond), rep)
}

// findCoordinator asks broker id for the coordinator of group.
func (c *testCluster) findCoordinator(id int32, group string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	resp, err := c.request(id, req, 5*time.Second)
	if err != nil {
		return -1, err
	}
	fr := resp.(*kmsg.FindCoordinatorResponse)
	node, code := fr.NodeID, fr.ErrorCode
	if len(fr.Coordinators) > 0 {
		node, code = fr.Coordinators[0].NodeID, fr.Coordinators[0].ErrorCode
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return -1, fmt.Errorf("FindCoordinator %s on broker %d: %w", group, id, err)
	}
	return node, nil
}

// committedOffsets fetches the committed offsets of group on topic.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resps, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var errs []error
	for p, o := range resps[topic] {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", p, o.Err))
			continue
		}
		out[p] = o.At
	}
	return out, errors.Join(errs...)
}

// groupRead consumes topic as a member of group until want records arrived,
// then for settle more, commits, leaves the group and returns the values.
func groupRead(t testing.TB, c *testCluster, group, topic string, want int, settle time.Duration) []string {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.seeds()...),
		kgo.ClientID("kbroker-it-group"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("group client: %v", err)
	}
	defer cl.Close()
	ctx := testCtx(t, 90*time.Second)
	var vals []string
	deadline := time.Time{}
	for {
		if len(vals) >= want && deadline.IsZero() {
			deadline = time.Now().Add(settle)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("group %s read %d of %d records before the deadline", group, len(vals), want)
		}
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("group %s fetch %s-%d: %v", group, tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
	return vals
}

// coordinatorAnswers asks every live broker for the coordinator of group:
// in Kafka any broker answers with the leader of the group's
// __consumer_offsets partition. It returns the id most brokers name (-1 when
// none does) and a description of every answer that differs from it.
func (c *testCluster) coordinatorAnswers(group string) (int32, []string) {
	answers := map[int32]string{}
	votes := map[int32]int{}
	for _, id := range c.up() {
		n, err := c.findCoordinator(id, group)
		if err != nil {
			answers[id] = err.Error()
			continue
		}
		answers[id] = "coordinator " + strconv.Itoa(int(n))
		votes[n]++
	}
	best := int32(-1)
	for n, v := range votes {
		if best < 0 || v > votes[best] {
			best = n
		}
	}
	var odd []string
	for id, a := range answers {
		if a != "coordinator "+strconv.Itoa(int(best)) {
			odd = append(odd, fmt.Sprintf("broker %d: %s", id, a))
		}
	}
	slices.Sort(odd)
	return best, odd
}

// sameOffsetsPartition returns a group name starting with prefix whose __consumer_offsets
// partition (of the harness's offsets.topic.num.partitions=10) is group's.
func sameOffsetsPartition(group, prefix string) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if coordinator.PartitionFor(name, 10) == coordinator.PartitionFor(group, 10) {
			return name
		}
	}
}

// commitOffsetTo commits offset for topic/partition in group, which has no members, with an
// OffsetCommit sent to broker id (its coordinator), failing the test unless it is accepted.
func (c *testCluster) commitOffsetTo(t testing.TB, id int32, group, topic string, partition int32, offset int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.request(id, req, 10*time.Second)
	if err != nil {
		t.Fatalf("OffsetCommit %s on broker %d: %v", group, id, err)
	}
	for _, rt := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("OffsetCommit %s on broker %d: %s-%d: %v", group, id, rt.Topic, rp.Partition, err)
			}
		}
	}
}

// waitCoordinatorAgreed waits until every live broker answers FindCoordinator for group with
// coord. Brokers apply the controller's UpdateMetadata one after another, so right after a
// failover one may still answer COORDINATOR_NOT_AVAILABLE (the old leader is no longer live)
// while another already names the new coordinator; they must agree within seconds.
func (c *testCluster) waitCoordinatorAgreed(t testing.TB, group string, coord int32) {
	t.Helper()
	took := clusterWait(t, 15*time.Second, fmt.Sprintf("every live broker names %d the coordinator of %s", coord, group), func() error {
		if best, odd := c.coordinatorAnswers(group); best != coord || len(odd) > 0 {
			return fmt.Errorf("most name %d; others: %v", best, odd)
		}
		return nil
	})
	if took >= 50*time.Millisecond { // not at the first asking
		t.Logf("FindCoordinator %s: the brokers agreed on %d after %v", group, coord, took.Round(time.Millisecond))
	}
}

// fetchCommittedFrom sends OffsetFetch for group's partitions 0..parts-1 of
// topic to broker id and returns partition -> committed offset.
func (c *testCluster) fetchCommittedFrom(id int32, group, topic string, parts int32) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	var ps []int32
	for p := int32(0); p < parts; p++ {
		ps = append(ps, p)
	}
	// Both layouts: v0-7 read Group/Topics, v8+ read Groups.
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, ps
	req.Topics = append(req.Topics, rt)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, ps
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	resp, err := c.request(id, req, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("OffsetFetch %s on broker %d: %w", group, id, err)
	}
	fr := resp.(*kmsg.OffsetFetchResponse)
	out := map[int32]int64{}
	collect := func(code int16, topics []kmsg.OffsetFetchResponseGroupTopic) error {
		if err := kerr.ErrorForCode(code); err != nil {
			return fmt.Errorf("OffsetFetch %s on broker %d: %w", group, id, err)
		}
		for _, tp := range topics {
			for _, p := range tp.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("OffsetFetch %s on broker %d: %s-%d: %w", group, id, tp.Topic, p.Partition, err)
				}
				if tp.Topic == topic && p.Offset >= 0 {
					out[p.Partition] = p.Offset
				}
			}
		}
		return nil
	}
	if len(fr.Groups) > 0 {
		return out, collect(fr.Groups[0].ErrorCode, fr.Groups[0].Topics)
	}
	var topics []kmsg.OffsetFetchResponseGroupTopic
	for _, tp := range fr.Topics {
		gt := kmsg.NewOffsetFetchResponseGroupTopic()
		gt.Topic = tp.Topic
		for _, p := range tp.Partitions {
			gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			gp.Partition, gp.Offset, gp.ErrorCode = p.Partition, p.Offset, p.ErrorCode
			gt.Partitions = append(gt.Partitions, gp)
		}
		topics = append(topics, gt)
	}
	return out, collect(fr.ErrorCode, topics)
}

// TestClusterGroupCoordinatorFailover commits a group's offsets, kills the
// broker that coordinates the group, and checks that every live broker's
// FindCoordinator moves to the same other broker, that the committed offsets
// read back the same from it (raw OffsetFetch and kadm.FetchOffsets), and
// that a new member resumes from them.
func TestClusterGroupCoordinatorFailover(t *testing.T) {
	const (
		topic = "groupfail"
		group = "cluster-group"
		parts = int32(3)
	)
	c := startCluster(t)
	c.createTopic(t, topic, parts, minISR2())
	ctx := testCtx(t, 4*time.Minute)
	pcl := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	produce := func(tag string, perPartition int) {
		var recs []*kgo.Record
		for p := int32(0); p < parts; p++ {
			for i := 0; i < perPartition; i++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%s-%d-%d", tag, p, i))})
			}
		}
		if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", tag, err)
		}
	}
	produce("first", 10)
	if got := groupRead(t, c, group, topic, 30, time.Second); len(got) != 30 {
		t.Fatalf("first member read %d records, want 30", len(got))
	}

	// Any broker answers FindCoordinator with the same broker.
	var coord int32
	clusterWait(t, 30*time.Second, "a broker names the group coordinator", func() error {
		var odd []string
		coord, odd = c.coordinatorAnswers(group)
		if coord < 0 {
			return fmt.Errorf("no coordinator: %v", odd)
		}
		return nil
	})
	c.waitCoordinatorAgreed(t, group, coord)
	var before map[int32]int64
	clusterWait(t, 30*time.Second, fmt.Sprintf("committed offsets from coordinator %d", coord), func() error {
		var err error
		before, err = c.fetchCommittedFrom(coord, group, topic, parts)
		return err
	})
	if len(before) != int(parts) {
		t.Fatalf("committed offsets before the failover: %v, want %d partitions", before, parts)
	}
	for p, o := range before {
		if o != 10 {
			t.Errorf("partition %d committed at %d, want 10", p, o)
		}
	}

	// A commit acknowledged just before the kill: the followers hold it, but their high
	// watermark still lags (they learn it from their next fetch, up to 500 ms later), so
	// the new coordinator must load its log to the end, not to its high watermark.
	late := sameOffsetsPartition(group, "late-group")
	c.commitOffsetTo(t, coord, late, topic, 0, 7)
	killed := time.Now()
	c.kill(coord)
	var moved int32
	clusterWait(t, 90*time.Second, fmt.Sprintf("FindCoordinator away from killed broker %d", coord), func() error {
		var odd []string
		moved, odd = c.coordinatorAnswers(group)
		if moved < 0 || moved == coord || !slices.Contains(c.up(), moved) {
			return fmt.Errorf("brokers name %d: %v", moved, odd)
		}
		return nil
	})
	movedAfter := time.Since(killed)
	c.waitCoordinatorAgreed(t, group, moved)
	var after map[int32]int64
	clusterWait(t, 60*time.Second, fmt.Sprintf("committed offsets from the new coordinator %d", moved), func() error {
		var err error
		after, err = c.fetchCommittedFrom(moved, group, topic, parts)
		if err == nil && len(after) != len(before) {
			err = fmt.Errorf("got %v", after)
		}
		return err
	})
	for p, o := range before {
		if after[p] != o {
			t.Errorf("partition %d: committed %d before the coordinator died, %d after", p, o, after[p])
		}
	}
	if got, err := c.fetchCommittedFrom(moved, late, topic, 1); err != nil || got[0] != 7 {
		t.Errorf("group %s (same __consumer_offsets partition) committed 7 just before the kill; the new coordinator has %v (%v)", late, got, err)
	}
	adm := kadm.NewClient(c.client(t))
	var viaAdmin map[int32]int64
	var admErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		viaAdmin, admErr = committedOffsets(fctx, adm, group, topic)
		cancel()
		if admErr == nil {
			break
		}
	}
	if admErr != nil || !maps.Equal(viaAdmin, before) {
		t.Errorf("kadm.FetchOffsets after the failover: %v (%v), want %v", viaAdmin, admErr, before)
	}

	produce("second", 2)
	got := groupRead(t, c, group, topic, 6, 2*time.Second)
	slices.Sort(got)
	var want []string
	for p := int32(0); p < parts; p++ {
		for i := 0; i < 2; i++ {
			want = append(want, fmt.Sprintf("second-%d-%d", p, i))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("new member read %v, want exactly %v", got, want)
	}
	t.Logf("group %s: coordinator %d killed; FindCoordinator names %d after %v; committed offsets %v kept", group, coord, moved, movedAfter.Round(time.Millisecond), after)
}
