package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

func TestAlterPartition(t *testing.T) {
	c := newCluster(t)
	for _, id := range []int32{1, 2, 3} {
		c.register(id)
	}
	c.createTopic("t", map[int32][]int32{0: {1, 2, 3}}, nil)
	rc := c.startController(testConfig(1))
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2, 3})
	c.register(4) // live, but not a replica

	// Each case starts from the state the previous ones left:
	// leader 1, leader epoch 0, partition epoch v.
	tests := []struct {
		name    string
		req     func(v int32) *kmsg.AlterPartitionRequest
		topErr  *kerr.Error
		partErr *kerr.Error
		isr     []int32 // stored ISR afterwards
	}{
		{"stale broker epoch", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1, 2})
			r.BrokerEpoch--
			return r
		}, kerr.StaleBrokerEpoch, nil, []int32{1, 2, 3}},
		{"unknown broker", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1, 2})
			r.BrokerID = 9
			return r
		}, kerr.StaleBrokerEpoch, nil, []int32{1, 2, 3}},
		{"unknown topic id", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1, 2})
			r.Topics[0].TopicID = [16]byte{9}
			return r
		}, nil, kerr.UnknownTopicID, []int32{1, 2, 3}},
		{"unknown partition", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 7, 0, v, []int32{1, 2})
		}, nil, kerr.UnknownTopicOrPartition, []int32{1, 2, 3}},
		{"newer leader epoch", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 1, v, []int32{1, 2})
		}, nil, kerr.NotController, []int32{1, 2, 3}},
		{"newer partition epoch", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 0, v+1, []int32{1, 2})
		}, nil, kerr.NotController, []int32{1, 2, 3}},
		{"not the leader", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 2, "t", 0, 0, v, []int32{2, 3})
		}, nil, kerr.NotLeaderForPartition, []int32{1, 2, 3}},
		{"same state again", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 0, v, []int32{1, 2, 3})
		}, nil, nil, []int32{1, 2, 3}},
		{"recovering with more than the leader", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1, 2})
			r.Topics[0].Partitions[0].LeaderRecoveryState = 1
			return r
		}, nil, kerr.InvalidRequest, []int32{1, 2, 3}},
		{"back to recovering", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1})
			r.Topics[0].Partitions[0].LeaderRecoveryState = 1
			return r
		}, nil, kerr.InvalidRequest, []int32{1, 2, 3}},
		{"ISR member not a replica", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 0, v, []int32{1, 4})
		}, nil, kerr.IneligibleReplica, []int32{1, 2, 3}},
		{"ISR member not live (v1)", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, []int32{1, 8})
			r.SetVersion(1)
			return r
		}, nil, kerr.OperationNotAttempted, []int32{1, 2, 3}},
		{"ISR member with another broker epoch (v3)", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, nil)
			r.SetVersion(3)
			r.Topics[0].Partitions[0].NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{
				{BrokerID: 1, BrokerEpoch: c.epochs[1]}, {BrokerID: 2, BrokerEpoch: c.epochs[2] + 1},
			}
			return r
		}, nil, kerr.IneligibleReplica, []int32{1, 2, 3}},
		{"shrink", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 0, v, []int32{1, 2})
		}, nil, nil, []int32{1, 2}},
		{"older partition epoch", func(v int32) *kmsg.AlterPartitionRequest {
			return alterReq(c, 1, "t", 0, 0, v-1, []int32{1})
		}, nil, kerr.InvalidUpdateVersion, []int32{1, 2}},
		{"expand (v3 with epochs)", func(v int32) *kmsg.AlterPartitionRequest {
			r := alterReq(c, 1, "t", 0, 0, v, nil)
			r.SetVersion(3)
			for _, id := range []int32{1, 2, 3} {
				r.Topics[0].Partitions[0].NewEpochISR = append(r.Topics[0].Partitions[0].NewEpochISR,
					kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: id, BrokerEpoch: c.epochs[id]})
			}
			return r
		}, nil, nil, []int32{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, v := c.state("t", 0)
			mark := rc.rec.mark()
			req := tc.req(v)
			resp := rc.AlterPartition(context.Background(), req)
			if resp.Version != req.Version {
				t.Fatalf("response version %d, want %d", resp.Version, req.Version)
			}
			if want := codeOf(tc.topErr); resp.ErrorCode != want {
				t.Fatalf("top-level error %d, want %d", resp.ErrorCode, want)
			}
			st, nv := c.state("t", 0)
			if fmt.Sprint(st.ISR) != fmt.Sprint(tc.isr) {
				t.Fatalf("stored ISR %v, want %v", st.ISR, tc.isr)
			}
			if tc.topErr != nil {
				return
			}
			got := resp.Topics[0].Partitions[0]
			if got.ErrorCode != codeOf(tc.partErr) {
				t.Fatalf("partition error %d, want %d", got.ErrorCode, codeOf(tc.partErr))
			}
			if tc.partErr != nil {
				if nv != v && tc.name != "older partition epoch" {
					t.Fatalf("znode version moved from %d to %d on an error", v, nv)
				}
				return
			}
			if got.PartitionEpoch != nv || got.LeaderID != 1 || got.LeaderEpoch != 0 || fmt.Sprint(got.ISR) != fmt.Sprint(tc.isr) {
				t.Fatalf("answer %+v, stored version %d", got, nv)
			}
			if tc.name != "same state again" {
				if nv != v+1 {
					t.Fatalf("znode version %d, want %d", nv, v+1)
				}
				settle(t, rc)
				if n := len(rc.rec.since(mark, 6)); n < 4 {
					t.Fatalf("%d UpdateMetadata after the change, want one per broker", n)
				}
			} else if nv != v {
				t.Fatalf("idempotent request wrote the znode (%d -> %d)", v, nv)
			}
		})
	}
}

func codeOf(e *kerr.Error) int16 {
	if e == nil {
		return 0
	}
	return e.Code
}

func TestRequestsWhenNotController(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	rc := c.startController(testConfig(1))
	waitActive(t, rc)
	other := c.startController(testConfig(2))
	settleRun(t)
	ctx := context.Background()
	c.createTopic("t", map[int32][]int32{0: {1}}, nil)
	if r := other.AlterPartition(ctx, alterReq(c, 1, "t", 0, 0, 0, []int32{1})); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("AlterPartition: %d", r.ErrorCode)
	}
	cs := kmsg.NewPtrControlledShutdownRequest()
	cs.SetVersion(3)
	cs.BrokerID = 1
	if r := other.ControlledShutdown(ctx, cs); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("ControlledShutdown: %d", r.ErrorCode)
	}
	el := electReq(1, 0, "t", 0)
	r := other.ElectLeaders(ctx, el)
	if r.ErrorCode != kerr.NotController.Code || r.Topics[0].Partitions[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("ElectLeaders: %+v", r)
	}
}

func electReq(version int16, typ int8, topic string, parts ...int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.SetVersion(version)
	req.ElectionType = typ
	if topic != "" {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = topic, parts
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestControlledShutdown(t *testing.T) {
	c := newCluster(t)
	for _, id := range []int32{1, 2, 3} {
		c.register(id)
	}
	c.createTopic("t", map[int32][]int32{0: {1, 2, 3}, 1: {2, 1, 3}}, nil)
	c.createTopic("single", map[int32][]int32{0: {1}}, nil)
	rc := c.startController(testConfig(3))
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2, 3})

	tests := []struct {
		name      string
		broker    int32
		epoch     func() int64
		err       *kerr.Error
		remaining string
	}{
		{"unknown broker", 7, func() int64 { return -1 }, kerr.BrokerNotAvailable, "[]"},
		{"stale broker epoch", 1, func() int64 { return c.epochs[1] - 1 }, kerr.StaleBrokerEpoch, "[]"},
		{"moves leadership", 1, func() int64 { return c.epochs[1] }, nil, "[{single 0}]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := rc.rec.mark()
			req := kmsg.NewPtrControlledShutdownRequest()
			req.SetVersion(3)
			req.BrokerID, req.BrokerEpoch = tc.broker, tc.epoch()
			resp := rc.ControlledShutdown(context.Background(), req)
			if resp.ErrorCode != codeOf(tc.err) {
				t.Fatalf("error %d, want %d", resp.ErrorCode, codeOf(tc.err))
			}
			var rem []string
			for _, p := range resp.PartitionsRemaining {
				rem = append(rem, fmt.Sprintf("{%s %d}", p.Topic, p.Partition))
			}
			if got := fmt.Sprint(rem); tc.err == nil && got != tc.remaining {
				t.Fatalf("remaining %s, want %s", got, tc.remaining)
			}
			if tc.err != nil {
				if st, _ := c.state("t", 0); st.Leader != 1 {
					t.Fatalf("leader moved on a refused request: %+v", st)
				}
				return
			}
			// Led: moved to the next ISR member, 1 out of the ISR.
			st := c.wantState("t", 0, 2, []int32{2, 3})
			if st.LeaderEpoch != 1 {
				t.Fatalf("leader epoch %d, want 1", st.LeaderEpoch)
			}
			// Followed: 1 out of the ISR, leader kept.
			c.wantState("t", 1, 2, []int32{2, 3})
			settle(t, rc)
			stops := rc.rec.since(mark, 5)
			if len(stops) != 1 || stops[0].to != 1 {
				t.Fatalf("StopReplica %+v, want one to broker 1", stops)
			}
			sr := stops[0].req.(*kmsg.StopReplicaRequest)
			if sr.Version != 3 || sr.BrokerEpoch != c.epochs[1] || len(sr.Topics) != 1 || sr.Topics[0].Topic != "t" ||
				len(sr.Topics[0].PartitionStates) != 1 || sr.Topics[0].PartitionStates[0].Partition != 1 || sr.Topics[0].PartitionStates[0].Delete {
				t.Fatalf("StopReplica %+v", sr)
			}
			for _, s := range rc.rec.since(mark, 4) {
				if s.to == 1 {
					t.Fatal("LeaderAndIsr sent to the broker shutting down")
				}
			}
			// A shutting-down broker is not eligible in the ISR.
			_, v := c.state("t", 1)
			r := rc.AlterPartition(context.Background(), alterReq(c, 2, "t", 1, 1, v, []int32{2, 3, 1}))
			if code := r.Topics[0].Partitions[0].ErrorCode; code != kerr.IneligibleReplica.Code {
				t.Fatalf("ISR with a shutting-down broker: %d", code)
			}
		})
	}
}

func TestPreferredElection(t *testing.T) {
	c := newCluster(t)
	for _, id := range []int32{1, 2} {
		c.register(id)
	}
	c.createTopic("t", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, nil)
	rc := c.startController(testConfig(2))
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2})
	c.kill(1)
	c.wantState("t", 0, 2, []int32{2})
	c.register(1)
	eventually(t, "controller sees broker 1 again", func() error {
		known, err := call(context.Background(), rc.Controller, func(t *term) (bool, error) { return t.registered(1), nil })
		if err == nil && !known {
			err = errors.New("broker 1 not registered yet")
		}
		return err
	})
	settle(t, rc)
	// 1 is back but not in the ISR: not eligible yet.
	resp := rc.ElectLeaders(context.Background(), electReq(2, 0, "t", 0, 1, 5))
	codes := map[int32]int16{}
	for _, p := range resp.Topics[0].Partitions {
		codes[p.Partition] = p.ErrorCode
	}
	want := map[int32]int16{0: kerr.PreferredLeaderNotAvailable.Code, 1: kerr.ElectionNotNeeded.Code, 5: kerr.UnknownTopicOrPartition.Code}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	// The leader adds 1 back to the ISR; the preferred election restores it.
	st, v := c.state("t", 0)
	if r := rc.AlterPartition(context.Background(), alterReq(c, 2, "t", 0, st.LeaderEpoch, v, []int32{2, 1})); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("expanding ISR: %d", r.Topics[0].Partitions[0].ErrorCode)
	}
	resp = rc.ElectLeaders(context.Background(), electReq(0, 0, "t", 0))
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("preferred election: %d", code)
	}
	st = c.wantState("t", 0, 1, []int32{2, 1})
	if st.LeaderEpoch != 2 {
		t.Fatalf("leader epoch %d, want 2", st.LeaderEpoch)
	}
}

func TestUncleanElectLeaders(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	c.register(2)
	c.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	rc := c.startController(testConfig(2))
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2})
	if r := rc.AlterPartition(context.Background(), alterReq(c, 1, "t", 0, 0, 0, []int32{1})); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatal("shrink failed")
	}
	if code := rc.ElectLeaders(context.Background(), electReq(1, 1, "t", 0)).Topics[0].Partitions[0].ErrorCode; code != kerr.ElectionNotNeeded.Code {
		t.Fatalf("unclean election with a live leader: %d", code)
	}
	c.kill(1)
	c.wantState("t", 0, -1, []int32{1})
	if code := rc.ElectLeaders(context.Background(), electReq(1, 1, "t", 0)).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("unclean election: %d", code)
	}
	st := c.wantState("t", 0, 2, []int32{2})
	if st.LeaderRecoveryState != zkmeta.LeaderRecoveryRecovering {
		t.Fatal("unclean leader not recovering")
	}
}

func TestAutoRebalance(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	c.register(2)
	c.createTopic("t", map[int32][]int32{0: {1, 2}, 1: {1, 2}}, nil)
	cfg := testConfig(2)
	cfg.AutoLeaderRebalanceEnable = true
	cfg.LeaderImbalanceCheckInterval = 50 * time.Millisecond
	rc := c.startController(cfg)
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2})
	// Move both leaders to 2 with a controlled shutdown of 1, then bring 1
	// back into the ISRs: 100 % of its preferred partitions are imbalanced.
	req := kmsg.NewPtrControlledShutdownRequest()
	req.SetVersion(3)
	req.BrokerID, req.BrokerEpoch = 1, c.epochs[1]
	if r := rc.ControlledShutdown(context.Background(), req); r.ErrorCode != 0 {
		t.Fatal(r.ErrorCode)
	}
	c.wantState("t", 0, 2, []int32{2})
	c.kill(1)
	c.register(1)
	// The controller learns of the new registration from a ZooKeeper watch: until it has,
	// broker 1 is ineligible for the ISR (INELIGIBLE_REPLICA).
	eventually(t, "broker 1 registered again and not shutting down", func() error {
		ok, err := call(context.Background(), rc.Controller, func(t *term) (bool, error) {
			b, known := t.brokers[1]
			return known && b.Epoch == c.epochs[1] && !t.shuttingDown[1], nil
		})
		if err == nil && !ok {
			err = errors.New("not yet")
		}
		return err
	})
	settle(t, rc)
	for p := int32(0); p < 2; p++ {
		st, v := c.state("t", p)
		if r := rc.AlterPartition(context.Background(), alterReq(c, 2, "t", p, st.LeaderEpoch, v, []int32{2, 1})); r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("expanding ISR of %d: %d", p, r.Topics[0].Partitions[0].ErrorCode)
		}
	}
	c.wantState("t", 0, 1, []int32{2, 1})
	c.wantState("t", 1, 1, []int32{2, 1})
}

func TestTopicDeletion(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
	}{{"enabled", true}, {"disabled", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			c.register(1)
			c.register(2)
			c.createTopic("t", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, map[string]string{"retention.ms": "1"})
			cfg := testConfig(1)
			cfg.DeleteTopicEnable = tc.enabled
			rc := c.startController(cfg)
			waitActive(t, rc)
			c.wantState("t", 1, 2, []int32{2, 1})
			mark := rc.rec.mark()
			if err := c.meta.MarkTopicForDeletion(context.Background(), "t"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "marker removed", func() error {
				marked, err := c.meta.TopicsMarkedForDeletion(context.Background())
				if err != nil || len(marked) != 0 {
					return fmt.Errorf("markers %v (%v)", marked, err)
				}
				return nil
			})
			ok, _, err := c.store.Exists(context.Background(), zkmeta.TopicPath("t"))
			if err != nil || ok != !tc.enabled {
				t.Fatalf("topic znode exists=%v (%v)", ok, err)
			}
			ok, _, _ = c.store.Exists(context.Background(), zkmeta.ConfigEntityPath(zkmeta.ConfigTopics, "t"))
			if ok != !tc.enabled {
				t.Fatalf("config znode exists=%v", ok)
			}
			settle(t, rc)
			stops := rc.rec.since(mark, 5)
			if !tc.enabled {
				if len(stops) != 0 {
					t.Fatal("StopReplica sent with deletion disabled")
				}
				return
			}
			for _, b := range []int32{1, 2} {
				n := 0
				for _, s := range stops {
					if s.to != b {
						continue
					}
					for _, ps := range s.req.(*kmsg.StopReplicaRequest).Topics[0].PartitionStates {
						if !ps.Delete || ps.LeaderEpoch != -2 {
							t.Fatalf("StopReplica partition %+v", ps)
						}
						n++
					}
				}
				if n != 2 {
					t.Fatalf("broker %d: %d partitions in StopReplica(delete), want 2", b, n)
				}
			}
			// UpdateMetadata announced the deletion (leader -2) first.
			found := false
			for _, s := range rc.rec.since(mark, 6) {
				for _, ts := range s.req.(*kmsg.UpdateMetadataRequest).TopicStates {
					if ts.Topic == "t" && len(ts.PartitionStates) > 0 && ts.PartitionStates[0].Leader == -2 {
						found = true
					}
				}
			}
			if !found {
				t.Fatal("no UpdateMetadata with leader -2")
			}
			// The name can be used again.
			c.createTopic("t", map[int32][]int32{0: {2}}, nil)
			c.wantState("t", 0, 2, []int32{2})
		})
	}
}

func TestSendRetriesUntilBrokerLeaves(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	c.register(2)
	rc := c.startController(testConfig(1))
	rc.rec.setFail(2, true)
	eventually(t, "active", func() error {
		if !rc.IsActive() {
			return errors.New("not active")
		}
		return nil
	})
	c.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	c.wantState("t", 0, 1, []int32{1, 2})
	// Broker 1 is not held up by broker 2's failures.
	eventually(t, "LeaderAndIsr to broker 1", func() error {
		for _, s := range rc.rec.since(0, 4) {
			if s.to == 1 {
				return nil
			}
		}
		return errors.New("none")
	})
	// Broker 2 gets its requests, in order, once it answers.
	time.Sleep(100 * time.Millisecond)
	rc.rec.setFail(2, false)
	settle(t, rc)
	var keys []int16
	for _, s := range rc.rec.since(0, 4) {
		if s.to == 2 {
			keys = append(keys, 4)
		}
	}
	if len(keys) == 0 {
		t.Fatal("no LeaderAndIsr to broker 2 after it recovered")
	}
	var order []int16
	rc.rec.mu.Lock()
	for _, s := range rc.rec.sent {
		if s.to == 2 {
			order = append(order, s.req.Key())
		}
	}
	rc.rec.mu.Unlock()
	// Failover: UpdateMetadata (brokers); new topic: LeaderAndIsr then UpdateMetadata.
	if fmt.Sprint(order) != "[6 4 6]" {
		t.Fatalf("requests to broker 2 in order %v, want [6 4 6]", order)
	}
	// Retries stop when the broker leaves /brokers/ids.
	rc.rec.setFail(2, true)
	_, v := c.state("t", 0)
	if r := rc.AlterPartition(context.Background(), alterReq(c, 1, "t", 0, 0, v, []int32{1})); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatal("shrink failed")
	}
	c.kill(2)
	settle(t, rc)
}
