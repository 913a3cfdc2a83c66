package broker

import (
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

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
