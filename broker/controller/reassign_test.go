package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

func reassignReq(topic string, targets map[int32][]int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	for _, p := range sortedParts(targets) {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, targets[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// reassignCodes returns the error code of each partition of the answer.
func reassignCodes(resp *kmsg.AlterPartitionAssignmentsResponse) map[int32]int16 {
	out := map[int32]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[rp.Partition] = rp.ErrorCode
		}
	}
	return out
}

// wantAssignment waits until the topic znode has the replicas, adding and removing replicas.
func (c *cluster) wantAssignment(topic string, p int32, replicas, adding, removing []int32) {
	c.t.Helper()
	eventually(c.t, fmt.Sprintf("%s-%d assignment %v +%v -%v", topic, p, replicas, adding, removing), func() error {
		ta, _, err := c.meta.Topic(context.Background(), topic)
		if err != nil {
			return err
		}
		if !slices.Equal(ta.Partitions[p], replicas) || !slices.Equal(ta.AddingReplicas[p], adding) || !slices.Equal(ta.RemovingReplicas[p], removing) {
			return fmt.Errorf("replicas %v adding %v removing %v", ta.Partitions[p], ta.AddingReplicas[p], ta.RemovingReplicas[p])
		}
		return nil
	})
}

// stopped lists the brokers that were sent StopReplica with delete for topic-p since mark.
func stopped(rc *runningController, mark int, topic string, p int32) []int32 {
	var out []int32
	for _, s := range rc.rec.since(mark, 5) {
		for _, rt := range s.req.(*kmsg.StopReplicaRequest).Topics {
			for _, ps := range rt.PartitionStates {
				if rt.Topic == topic && ps.Partition == p && ps.Delete && !slices.Contains(out, s.to) {
					out = append(out, s.to)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestReassignment(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	for id := int32(1); id <= 4; id++ {
		c.register(id)
	}
	rc := c.startController(testConfig(1))
	waitActive(t, rc)
	c.createTopic("r", map[int32][]int32{0: {1, 2, 3}, 1: {1, 2, 3}}, nil)
	c.wantState("r", 0, 1, []int32{1, 2, 3})
	c.wantState("r", 1, 1, []int32{1, 2, 3})
	settle(t, rc)

	// Bad requests change nothing.
	bad := rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{0: {}, 1: {2, 2, 4}}))
	if codes := reassignCodes(bad); codes[0] != kerr.InvalidReplicaAssignment.Code || codes[1] != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("empty and duplicate replicas: %v", codes)
	}
	bad = rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{0: {2, 3, 9}}))
	if codes := reassignCodes(bad); codes[0] != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("broker 9 that does not exist: %v", codes)
	}
	bad = rc.AlterPartitionReassignments(ctx, reassignReq("nope", map[int32][]int32{0: {1}}))
	if codes := reassignCodes(bad); codes[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", codes)
	}
	bad = rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{1: nil}))
	if codes := reassignCodes(bad); codes[1] != kerr.NoReassignmentInProgress.Code {
		t.Fatalf("cancel without a reassignment: %v", codes)
	}
	c.wantAssignment("r", 0, []int32{1, 2, 3}, nil, nil)

	// Move partition 0 from 1,2,3 to 2,3,4: RS = 2,3,4,1, adding 4, removing 1, epoch bumped.
	before, _ := c.state("r", 0)
	mark := rc.rec.mark()
	resp := rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{0: {2, 3, 4}}))
	if codes := reassignCodes(resp); codes[0] != 0 {
		t.Fatalf("reassignment refused: %v", codes)
	}
	c.wantAssignment("r", 0, []int32{2, 3, 4, 1}, []int32{4}, []int32{1})
	if st, _ := c.state("r", 0); st.LeaderEpoch != before.LeaderEpoch+1 || st.Leader != 1 {
		t.Fatalf("state after start: %+v (before %+v)", st, before)
	}
	settle(t, rc)
	got := false
	for _, s := range rc.rec.since(mark, 4) {
		for _, ts := range s.req.(*kmsg.LeaderAndISRRequest).TopicStates {
			for _, ps := range ts.PartitionStates {
				if s.to == 4 && ps.Partition == 0 && slices.Equal(ps.AddingReplicas, []int32{4}) && slices.Equal(ps.RemovingReplicas, []int32{1}) {
					got = true
				}
			}
		}
	}
	if !got {
		t.Fatal("the new replica got no LeaderAndIsr with the adding and removing replicas")
	}
	listed := rc.ListPartitionReassignments(ctx, kmsg.NewPtrListPartitionReassignmentsRequest())
	if len(listed.Topics) != 1 || len(listed.Topics[0].Partitions) != 1 || !slices.Equal(listed.Topics[0].Partitions[0].AddingReplicas, []int32{4}) {
		t.Fatalf("ListPartitionReassignments: %+v", listed.Topics)
	}

	// Broker 4 catches up: the leader adds it to the ISR; the reassignment completes: leader
	// moves to 2 (1 is leaving), ISR 2,3,4, broker 1 deletes its replica.
	st, v := c.state("r", 0)
	mark = rc.rec.mark()
	ar := rc.AlterPartition(ctx, alterReq(c, 1, "r", 0, st.LeaderEpoch, v, []int32{1, 2, 3, 4}))
	if code := ar.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("AlterPartition: %v", kerr.ErrorForCode(code))
	}
	c.wantAssignment("r", 0, []int32{2, 3, 4}, nil, nil)
	c.wantState("r", 0, 2, []int32{2, 3, 4})
	settle(t, rc)
	if s := stopped(rc, mark, "r", 0); !slices.Equal(s, []int32{1}) {
		t.Fatalf("StopReplica(delete) sent to %v, want [1]", s)
	}
	listed = rc.ListPartitionReassignments(ctx, kmsg.NewPtrListPartitionReassignmentsRequest())
	if len(listed.Topics) != 0 {
		t.Fatalf("still listed after completion: %+v", listed.Topics)
	}

	// Partition 1 to 1,2,4, then cancelled: back to 1,2,3 and broker 4's copy deleted.
	rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{1: {1, 2, 4}}))
	c.wantAssignment("r", 1, []int32{1, 2, 4, 3}, []int32{4}, []int32{3})
	mark = rc.rec.mark()
	resp = rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{1: nil}))
	if codes := reassignCodes(resp); codes[1] != 0 {
		t.Fatalf("cancel: %v", codes)
	}
	c.wantAssignment("r", 1, []int32{1, 2, 3}, nil, nil)
	settle(t, rc)
	if s := stopped(rc, mark, "r", 1); !slices.Equal(s, []int32{4}) {
		t.Fatalf("StopReplica(delete) after cancel sent to %v, want [4]", s)
	}

	// A reassignment survives a controller failover: the new controller completes it.
	rc.AlterPartitionReassignments(ctx, reassignReq("r", map[int32][]int32{1: {1, 2, 4}}))
	c.wantAssignment("r", 1, []int32{1, 2, 4, 3}, []int32{4}, []int32{3})
	rc.stop()
	rc2 := c.startController(testConfig(2))
	waitActive(t, rc2)
	st, v = c.state("r", 1)
	ar = rc2.AlterPartition(ctx, alterReq(c, st.Leader, "r", 1, st.LeaderEpoch, v, []int32{1, 2, 3, 4}))
	if code := ar.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("AlterPartition after failover: %v", kerr.ErrorForCode(code))
	}
	c.wantAssignment("r", 1, []int32{1, 2, 4}, nil, nil)
	c.wantState("r", 1, 1, []int32{1, 2, 4})

	// The legacy znode: a request through it runs, and the znode goes once it completes.
	if err := c.meta.CreatePartitionReassignments(ctx, []zkmeta.PartitionReassignment{{Topic: "r", Partition: 1, Replicas: []int32{4, 2, 1}}}); err != nil {
		t.Fatal(err)
	}
	// Same replicas, another order: nothing to copy, it completes at once (preferred leader 4).
	c.wantAssignment("r", 1, []int32{4, 2, 1}, nil, nil)
	eventually(t, "/admin/reassign_partitions removed", func() error {
		if _, _, err := c.meta.PartitionReassignments(ctx); !errors.Is(err, zkmeta.ErrNoNode) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}
