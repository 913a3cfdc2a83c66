package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKIP848CoordinatorFailover kills (-9) the coordinator of a KIP-848 group in a
// three-broker cluster while two franz-go members consume. Another broker loads the
// group's __consumer_offsets partition and rebuilds the group from its records: the same
// members at the same epochs, the same assignment, the committed offsets; the members
// carry on without rejoining and read every record, old and new.
func TestKIP848CoordinatorFailover(t *testing.T) {
	c := startCluster(t, "group.consumer.session.timeout.ms=10000", "group.consumer.min.session.timeout.ms=10000",
		"group.consumer.heartbeat.interval.ms=1000", "group.consumer.min.heartbeat.interval.ms=1000")
	topic, group := "kip848-failover", "kip848-failover-group"
	const parts = 6
	c.createTopic(t, topic, parts, nil)
	prod := c.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produce := func(from, to int) {
		ctx := testCtx(t, time.Minute)
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, kgo.StringRecord(fmt.Sprintf("v%05d", i)))
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(0, 600)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var mu sync.Mutex
	seen := map[string]int{}
	var members []*kgo.Client
	for i := 0; i < 2; i++ {
		cl := c.client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(500*time.Millisecond),
			kgo.FetchMaxWait(300*time.Millisecond))
		members = append(members, cl)
		go func() {
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
				mu.Unlock()
			}
		}()
	}
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	committedAll := func(id int32, total int64) error {
		offs, err := c.fetchCommittedFrom(id, group, topic, parts)
		if err != nil {
			return err
		}
		var sum int64
		for _, o := range offs {
			sum += o
		}
		if sum != total {
			return fmt.Errorf("offsets committed on broker %d add up to %d, want %d", id, sum, total)
		}
		return nil
	}

	coord := int32(-1)
	var before kmsg.ConsumerGroupDescribeResponseGroup
	eventually(t, 90*time.Second, func() error {
		if n := distinct(); n < 600 {
			return fmt.Errorf("%d of 600 records consumed", n)
		}
		var odd []string
		if coord, odd = c.coordinatorAnswers(group); coord < 0 || len(odd) > 0 {
			return fmt.Errorf("coordinator %d, %v", coord, odd)
		}
		if err := committedAll(coord, 600); err != nil {
			return err
		}
		d, err := c.describeConsumerGroupOn(coord, group)
		if err != nil {
			return err
		}
		if d.State != "Stable" || len(d.Members) != 2 {
			return fmt.Errorf("group %s with %d members", d.State, len(d.Members))
		}
		before = d
		return nil
	})
	t.Logf("coordinator %d: %s", coord, describeSummary(before))

	c.kill(coord)
	killed := time.Now()
	produce(600, 1200)

	var after kmsg.ConsumerGroupDescribeResponseGroup
	next := int32(-1)
	eventually(t, 120*time.Second, func() error {
		var odd []string
		if next, odd = c.coordinatorAnswers(group); next < 0 || next == coord || len(odd) > 0 {
			return fmt.Errorf("coordinator %d, %v", next, odd)
		}
		d, err := c.describeConsumerGroupOn(next, group)
		if err != nil {
			return err
		}
		after = d
		return nil
	})
	t.Logf("broker %d coordinates the group %v after the kill: %s", next, time.Since(killed).Round(100*time.Millisecond), describeSummary(after))
	// Loaded from the log: the same epochs, members and assignments as before.
	if describeSummary(after) != describeSummary(before) {
		t.Fatalf("the group after the failover:\n  %s\nbefore:\n  %s", describeSummary(after), describeSummary(before))
	}
	if err := committedAll(next, 600); err != nil {
		// More may have been committed already; never less.
		offs, _ := c.fetchCommittedFrom(next, group, topic, parts)
		var sum int64
		for _, o := range offs {
			sum += o
		}
		if sum < 600 {
			t.Fatalf("committed offsets lost in the failover: %v", err)
		}
	}
	// The members carry on: everything is read and committed.
	eventually(t, 120*time.Second, func() error {
		if n := distinct(); n < 1200 {
			return fmt.Errorf("%d of 1200 records consumed", n)
		}
		return committedAll(next, 1200)
	})
	final, err := c.describeConsumerGroupOn(next, group)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(d kmsg.ConsumerGroupDescribeResponseGroup) string {
		var out []string
		for _, m := range d.Members {
			out = append(out, m.MemberID)
		}
		sort.Strings(out)
		return fmt.Sprint(out)
	}
	if ids(final) != ids(before) {
		t.Fatalf("members %s after the failover, %s before: a member was fenced and rejoined", ids(final), ids(before))
	}
	t.Logf("after: %s", describeSummary(final))
}

// describeConsumerGroupOn sends ConsumerGroupDescribe for group to broker id.
func (c *testCluster) describeConsumerGroupOn(id int32, group string) (kmsg.ConsumerGroupDescribeResponseGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := c.request(id, req, 10*time.Second)
	if err != nil {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, err
	}
	groups := resp.(*kmsg.ConsumerGroupDescribeResponse).Groups
	if len(groups) != 1 {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, fmt.Errorf("%d groups described", len(groups))
	}
	if err := kerr.ErrorForCode(groups[0].ErrorCode); err != nil {
		return groups[0], fmt.Errorf("ConsumerGroupDescribe on broker %d: %w", id, err)
	}
	return groups[0], nil
}

// describeSummary renders a described group: epochs, state and every member's epoch and
// assignment, sorted.
func describeSummary(d kmsg.ConsumerGroupDescribeResponseGroup) string {
	var ms []string
	for _, m := range d.Members {
		var ps []string
		for _, tp := range m.Assignment.TopicPartitions {
			sort.Slice(tp.Partitions, func(i, j int) bool { return tp.Partitions[i] < tp.Partitions[j] })
			ps = append(ps, fmt.Sprintf("%s%v", tp.Topic, tp.Partitions))
		}
		ms = append(ms, fmt.Sprintf("%s@%d%v", m.MemberID, m.MemberEpoch, ps))
	}
	sort.Strings(ms)
	return fmt.Sprintf("%s epoch %d assignment epoch %d members %v", d.State, d.Epoch, d.AssignmentEpoch, ms)
}
