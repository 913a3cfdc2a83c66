package broker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/log"
)

// TestLeaderAndIsrEpochs: a role change needs a newer leader epoch (the same or an older one is
// refused with STALE_CONTROLLER_EPOCH, changing nothing), and a new leader records its epoch's
// start at its log end before any append.
func TestLeaderAndIsrEpochs(t *testing.T) {
	cfg := config.Default()
	cfg.LogDirs = []string{t.TempDir()}
	rm := newReplicaManager(cfg, zerolog.Nop())
	t.Cleanup(func() { _ = rm.close() })
	tc, err := cfg.ResolveTopic(nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := log.TopicPartition{Topic: "t", Partition: 0}
	id := [16]byte{1}
	st := func(leader, epoch int32) leaderState {
		return leaderState{leader: leader, leaderEpoch: epoch, replicas: []int32{0, 1}, isr: []int32{0, 1}}
	}

	p, err := rm.makeLeader(tp, id, tc, st(0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := p.log.LatestEpoch(); !ok || e != 3 {
		t.Fatalf("latest epoch %d %v after becoming leader in epoch 3, want 3", e, ok)
	}
	if e, end := p.log.EndOffsetForEpoch(2); e != 2 || end != 0 {
		t.Fatalf("EndOffsetForEpoch(2) = %d %d on a new leader in epoch 3, want 2 0", e, end)
	}

	for _, tc2 := range []struct {
		name   string
		leader bool
		epoch  int32
		want   error
	}{
		{"same epoch as leader", true, 3, errSameLeaderEpoch},
		{"same epoch as follower", false, 3, errSameLeaderEpoch},
		{"older epoch as follower", false, 2, errStaleLeaderEpoch},
	} {
		var err error
		if tc2.leader {
			_, err = rm.makeLeader(tp, id, tc, st(0, tc2.epoch))
		} else {
			_, err = rm.makeFollower(tp, id, tc, st(1, tc2.epoch))
		}
		if !errors.Is(err, tc2.want) || errorCode(err) != kerr.StaleControllerEpoch.Code {
			t.Errorf("%s: %v, want %v (STALE_CONTROLLER_EPOCH)", tc2.name, err, tc2.want)
		}
		if !p.isLeader.Load() || p.leaderEpoch.Load() != 3 {
			t.Errorf("%s changed the partition: leader %v epoch %d", tc2.name, p.isLeader.Load(), p.leaderEpoch.Load())
		}
	}

	if _, err := rm.makeFollower(tp, id, tc, st(1, 4)); err != nil {
		t.Fatalf("follower in epoch 4: %v", err)
	}
	if p.isLeader.Load() || p.leaderEpoch.Load() != 4 {
		t.Fatalf("after epoch 4: leader %v epoch %d", p.isLeader.Load(), p.leaderEpoch.Load())
	}
}

// TestAlterPartitionRetriedUntilAnswered: a proposal whose request fails (the controller
// unreachable, or not the controller any more) is sent again until answered, and the answer
// is adopted; a refusal holds back the next expansion for a while.
func TestAlterPartitionRetriedUntilAnswered(t *testing.T) {
	cfg := config.Default()
	cfg.LogDirs = []string{t.TempDir()}
	rm := newReplicaManager(cfg, zerolog.Nop())
	t.Cleanup(func() { _ = rm.close() })
	tc, err := cfg.ResolveTopic(nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := log.TopicPartition{Topic: "t", Partition: 0}
	p, err := rm.makeLeader(tp, [16]byte{1}, tc, leaderState{leader: 0, leaderEpoch: 1, partitionEpoch: 5, replicas: []int32{0, 1}, isr: []int32{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	answer := func(code int16, isr []int32, partitionEpoch int32) (kmsg.Response, error) {
		resp := kmsg.NewPtrAlterPartitionResponse()
		rt := kmsg.NewAlterPartitionResponseTopic()
		rp := kmsg.NewAlterPartitionResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.LeaderID, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch = 0, code, 0, 1, isr, partitionEpoch
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil
	}
	c := &isrChanger{self: 0, brokerEpoch: func() int64 { return 7 }, logger: zerolog.Nop(), ctx: context.Background(),
		spawn: func(f func()) { f() },
		send: func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
			calls++
			switch calls {
			case 1:
				return nil, errors.New("connection refused")
			case 2:
				return answer(kerr.NotController.Code, nil, 0)
			case 3:
				return answer(0, []int32{0}, 6)
			default:
				return answer(kerr.InvalidUpdateVersion.Code, nil, 0)
			}
		}}
	rm.isr = c
	rm.proposeISR(p, []int32{0})
	if calls != 3 {
		t.Fatalf("%d AlterPartition requests, want 3 (two unanswered, then the answer)", calls)
	}
	p.mu.Lock()
	isr, pe, inFlight := p.isr, p.partitionEpoch, p.isrInFlight
	p.mu.Unlock()
	if !slices.Equal(isr, []int32{0}) || pe != 6 || inFlight {
		t.Fatalf("after the answer: ISR %v partition epoch %d in flight %v, want [0] 6 false", isr, pe, inFlight)
	}

	rm.proposeISR(p, []int32{0, 1}) // refused
	if _, expand := p.recordFollowerFetch(1, p.log.LogEndOffset(), -1, time.Now()); expand {
		t.Fatal("expansion proposed again right after a refusal")
	}
	if _, expand := p.recordFollowerFetch(1, p.log.LogEndOffset(), -1, time.Now().Add(2*isrRefusedBackoff)); !expand {
		t.Fatal("expansion not proposed once the refusal backoff passed")
	}
}
