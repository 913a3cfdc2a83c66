package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

func TestElectionAndFailover(t *testing.T) {
	tests := []struct {
		name string
		end  func(rc *runningController) error
	}{
		{"session closed", func(rc *runningController) error { return rc.session.Close() }},
		{"session expired", func(rc *runningController) error { return rc.session.Expire() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			c.register(1)
			c.register(2)
			a := c.startController(testConfig(1))
			waitActive(t, a)
			b := c.startController(testConfig(2))
			settleRun(t)
			if b.IsActive() {
				t.Fatal("both controllers are active")
			}
			if a.Epoch() != 1 {
				t.Fatalf("first epoch %d, want 1", a.Epoch())
			}
			if id, ok, _ := c.meta.Controller(context.Background()); !ok || id != 1 {
				t.Fatalf("/controller names %d (%v), want 1", id, ok)
			}
			if err := tc.end(a); err != nil {
				t.Fatal(err)
			}
			waitActive(t, b)
			if b.Epoch() != 2 {
				t.Fatalf("epoch after failover %d, want 2", b.Epoch())
			}
			eventually(t, "old controller resigned", func() error {
				if a.IsActive() {
					return errors.New("still active")
				}
				return nil
			})
			epoch, _, err := c.meta.ControllerEpoch(context.Background())
			if err != nil || epoch != 2 {
				t.Fatalf("/controller_epoch %d (%v), want 2", epoch, err)
			}
			// The new controller told every broker with its epoch.
			eventually(t, "UpdateMetadata from the new controller", func() error {
				for _, id := range []int32{1, 2} {
					found := false
					for _, s := range b.rec.since(0, 6) {
						um := s.req.(*kmsg.UpdateMetadataRequest)
						if s.to == id && um.ControllerEpoch == 2 && um.ControllerID == 2 && um.BrokerEpoch == c.epochs[id] {
							found = true
						}
					}
					if !found {
						return fmt.Errorf("no UpdateMetadata to broker %d", id)
					}
				}
				return nil
			})
		})
	}
}

// settleRun gives a just-started controller time to campaign.
func settleRun(t *testing.T) {
	t.Helper()
	eventually(t, "pause", func() error { return nil })
}

func TestStaleControllerIsFenced(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	a := c.startController(testConfig(1))
	waitActive(t, a)
	// Another controller bumped the epoch behind this one's back (as after
	// a session that a partition hid from it): its next write is fenced.
	if _, err := c.store.Set(context.Background(), zkmeta.ControllerEpochPath, []byte("5"), -1); err != nil {
		t.Fatal(err)
	}
	// The fence itself.
	_, ver, _ := a.meta.ControllerEpoch(context.Background())
	_, err := a.meta.Fenced(ver-1).SetPartitionState(context.Background(), "x", 0, zkmeta.PartitionState{}, -1)
	if !errors.Is(err, zkmeta.ErrControllerMoved) {
		t.Fatalf("stale fenced write: %v, want ErrControllerMoved", err)
	}
	c.createTopic("t", map[int32][]int32{0: {1}}, nil)
	// The write of the partition state fails, the controller resigns and is
	// elected again with a newer epoch, which then writes the state.
	eventually(t, "re-elected after fencing", func() error {
		if e := a.Epoch(); e != 6 {
			return fmt.Errorf("epoch %d, want 6", e)
		}
		return nil
	})
	st := c.wantState("t", 0, 1, []int32{1})
	if st.ControllerEpoch != 6 {
		t.Fatalf("state written by controller epoch %d, want 6", st.ControllerEpoch)
	}
}

func TestNewTopic(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	c.register(2)
	rc := c.startController(testConfig(1))
	waitActive(t, rc)
	mark := rc.rec.mark()
	// Broker 3 is not live: p0 gets the first live replica as leader.
	c.createTopic("orders", map[int32][]int32{0: {3, 1, 2}, 1: {2, 3, 1}}, nil)
	id := c.topicID("orders")
	st0 := c.wantState("orders", 0, 1, []int32{1, 2})
	st1 := c.wantState("orders", 1, 2, []int32{2, 1})
	for _, st := range []zkmeta.PartitionState{st0, st1} {
		if st.LeaderEpoch != 0 || st.ControllerEpoch != 1 {
			t.Fatalf("state %+v: want leader epoch 0, controller epoch 1", st)
		}
	}
	eventually(t, "LeaderAndIsr(isNew) to both live brokers", func() error {
		for _, b := range []int32{1, 2} {
			n := 0
			for _, s := range rc.rec.since(mark, 4) {
				if s.to != b {
					continue
				}
				req := s.req.(*kmsg.LeaderAndISRRequest)
				if req.Version != 6 || req.BrokerEpoch != c.epochs[b] || req.ControllerEpoch != 1 || req.ControllerID != 1 {
					return fmt.Errorf("bad header %+v", req)
				}
				for _, ts := range req.TopicStates {
					if ts.Topic != "orders" || ts.TopicID != id {
						return fmt.Errorf("topic %s id %x", ts.Topic, ts.TopicID)
					}
					for _, ps := range ts.PartitionStates {
						if !ps.IsNew || ps.ZKVersion != 0 || len(ps.Replicas) != 3 {
							return fmt.Errorf("partition state %+v", ps)
						}
						n++
					}
				}
			}
			if n != 2 {
				return fmt.Errorf("broker %d got %d new partitions, want 2", b, n)
			}
		}
		return nil
	})
	eventually(t, "UpdateMetadata with offline replica 3", func() error {
		for _, b := range []int32{1, 2} {
			ok := false
			for _, s := range rc.rec.since(mark, 6) {
				req := s.req.(*kmsg.UpdateMetadataRequest)
				if s.to != b || req.Version != 7 || req.BrokerEpoch != c.epochs[b] || len(req.TopicStates) == 0 {
					continue
				}
				if len(req.LiveBrokers) != 2 || req.LiveBrokers[0].Rack == nil || *req.LiveBrokers[0].Rack != "r1" {
					return fmt.Errorf("live brokers %+v", req.LiveBrokers)
				}
				ps := req.TopicStates[0].PartitionStates
				if req.TopicStates[0].TopicID == id && len(ps) > 0 && fmt.Sprint(ps[0].OfflineReplicas) == "[3]" {
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("broker %d: no UpdateMetadata for orders", b)
			}
		}
		return nil
	})
	for _, s := range rc.rec.since(0, 4) {
		if s.to == 3 {
			t.Fatal("request sent to a broker that is not registered")
		}
	}
	// Partitions added later get states too.
	ta, v, err := c.meta.Topic(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	ta.Partitions[2] = []int32{1, 2, 3}
	if err := c.meta.SetTopicAssignment(context.Background(), ta, v); err != nil {
		t.Fatal(err)
	}
	c.wantState("orders", 2, 1, []int32{1, 2})
}

func TestBrokerLossAndRejoin(t *testing.T) {
	c := newCluster(t)
	for _, id := range []int32{1, 2, 3} {
		c.register(id)
	}
	c.createTopic("t", map[int32][]int32{0: {1, 2, 3}, 1: {2, 1, 3}}, nil)
	c.createTopic("solo", map[int32][]int32{0: {1, 2}}, nil)
	c.createTopic("dirty", map[int32][]int32{0: {1, 2}}, map[string]string{"unclean.leader.election.enable": "true"})
	rc := c.startController(testConfig(3))
	waitActive(t, rc)
	c.wantState("solo", 0, 1, []int32{1, 2})
	// The leader of solo and dirty shrinks their ISR to itself.
	for _, topic := range []string{"solo", "dirty"} {
		resp := rc.AlterPartition(context.Background(), alterReq(c, 1, topic, 0, 0, 0, []int32{1}))
		if code := resp.Topics[0].Partitions[0].ErrorCode; resp.ErrorCode != 0 || code != 0 {
			t.Fatalf("shrinking %s: %d/%d", topic, resp.ErrorCode, code)
		}
	}
	mark := rc.rec.mark()
	c.kill(1)

	// Led by 1: moved to the next live ISR member, epoch + 1.
	st := c.wantState("t", 0, 2, []int32{2, 3})
	if st.LeaderEpoch != 1 {
		t.Fatalf("t-0 leader epoch %d, want 1", st.LeaderEpoch)
	}
	// Followed by 1: ISR shrunk, leader kept, epoch + 1.
	st = c.wantState("t", 1, 2, []int32{2, 3})
	if st.LeaderEpoch != 1 {
		t.Fatalf("t-1 leader epoch %d, want 1", st.LeaderEpoch)
	}
	// No live ISR member: offline, ISR not emptied.
	st = c.wantState("solo", 0, -1, []int32{1})
	if st.LeaderEpoch != 1 {
		t.Fatalf("solo-0 leader epoch %d, want 1", st.LeaderEpoch)
	}
	// Unclean election allowed: the live replica leads, recovering.
	st = c.wantState("dirty", 0, 2, []int32{2})
	if st.LeaderRecoveryState != zkmeta.LeaderRecoveryRecovering {
		t.Fatalf("dirty-0 recovery state %d, want recovering", st.LeaderRecoveryState)
	}
	settle(t, rc)
	for _, s := range rc.rec.since(mark, 4) {
		if s.to == 1 {
			t.Fatal("LeaderAndIsr sent to the dead broker")
		}
		for _, ts := range s.req.(*kmsg.LeaderAndISRRequest).TopicStates {
			for _, ps := range ts.PartitionStates {
				if ts.Topic == "t" && ps.Partition == 0 && (ps.Leader != 2 || ps.LeaderEpoch != 1) {
					t.Fatalf("LeaderAndIsr for t-0: %+v", ps)
				}
			}
		}
	}

	// Broker 1 comes back: the offline partition is elected again, and it
	// gets LeaderAndIsr for its replicas with its new epoch.
	mark = rc.rec.mark()
	epoch := c.register(1)
	st = c.wantState("solo", 0, 1, []int32{1})
	if st.LeaderEpoch != 2 {
		t.Fatalf("solo-0 leader epoch %d, want 2", st.LeaderEpoch)
	}
	eventually(t, "LeaderAndIsr to the returning broker", func() error {
		n := 0
		for _, s := range rc.rec.since(mark, 4) {
			if s.to != 1 {
				continue
			}
			if s.req.(*kmsg.LeaderAndISRRequest).BrokerEpoch != epoch {
				return fmt.Errorf("broker epoch %d, want %d", s.req.(*kmsg.LeaderAndISRRequest).BrokerEpoch, epoch)
			}
			for _, ts := range s.req.(*kmsg.LeaderAndISRRequest).TopicStates {
				n += len(ts.PartitionStates)
			}
		}
		if n < 4 {
			return fmt.Errorf("%d partitions, want 4", n)
		}
		return nil
	})
	// The leaders elected while it was away stay.
	c.wantState("t", 0, 2, []int32{2, 3})
}

func TestBrokerBounce(t *testing.T) {
	c := newCluster(t)
	c.register(1)
	c.register(2)
	c.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	rc := c.startController(testConfig(2))
	waitActive(t, rc)
	c.wantState("t", 0, 1, []int32{1, 2})
	// Broker 1 re-registers under a new session before the controller looks:
	// same id, larger czxid.
	old := c.sessions[1]
	s, err := c.store.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	c.sessions[1] = s
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	epoch, err := zkmeta.NewMetadata(s).RegisterBroker(context.Background(), zkmeta.BrokerInfo{ID: 1, Endpoints: []zkmeta.Endpoint{endpoint(1)}})
	if err != nil {
		t.Fatal(err)
	}
	// A bounce is a loss (leadership moves to 2, 1 leaves the ISR) then a
	// join (LeaderAndIsr to 1 with its new epoch).
	st := c.wantState("t", 0, 2, []int32{2})
	if st.LeaderEpoch != 1 {
		t.Fatalf("leader epoch %d, want 1", st.LeaderEpoch)
	}
	eventually(t, "LeaderAndIsr to the bounced broker", func() error {
		for _, s := range rc.rec.since(0, 4) {
			if s.to == 1 && s.req.(*kmsg.LeaderAndISRRequest).BrokerEpoch == epoch {
				return nil
			}
		}
		return errors.New("none")
	})
}
