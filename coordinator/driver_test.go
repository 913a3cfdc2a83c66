package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator/driver/drivertest"
)

func startCoordinator(t *testing.T, l Log) *Coordinator {
	t.Helper()
	cfg := testConfig()
	cfg.Partitions = 3
	cfg.InitialRebalanceDelayMs = 0
	c := New(cfg, l, 0, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for p := int32(0); p < 3; p++ {
		select {
		case <-c.BecomeLeader(p):
		case <-time.After(5 * time.Second):
			t.Fatalf("partition %d did not load", p)
		}
		if c.Status(p) != 0 {
			t.Fatalf("partition %d status %d after loading", p, c.Status(p))
		}
	}
	return c
}

func TestDriverEndToEnd(t *testing.T) {
	l := drivertest.NewMemLog()
	c := startCoordinator(t, l)
	ctx := context.Background()

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "g", 10000, 10000, "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{1}
	join.Protocols = append(join.Protocols, p)

	resp, err := c.JoinGroup(ctx, 4, "cl", "/1.2.3.4", join)
	if err != nil || resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		t.Fatalf("v4 join: %v %+v", err, resp)
	}
	join.MemberID = resp.MemberID
	resp, err = c.JoinGroup(ctx, 4, "cl", "/1.2.3.4", join)
	if err != nil || resp.ErrorCode != 0 || resp.Generation != 1 || resp.LeaderID != join.MemberID || len(resp.Members) != 1 {
		t.Fatalf("rejoin: %v %+v", err, resp)
	}

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", join.MemberID, 1
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = join.MemberID, []byte("assigned")
	sync.GroupAssignment = append(sync.GroupAssignment, a)
	sresp, err := c.SyncGroup(ctx, 5, sync)
	if err != nil || sresp.ErrorCode != 0 || string(sresp.MemberAssignment) != "assigned" || sresp.Protocol == nil || *sresp.Protocol != "range" {
		t.Fatalf("sync: %v %+v", err, sresp)
	}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "g", join.MemberID, 1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "t"
	for i := int32(0); i < 2; i++ {
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset = i, int64(100+i)
		ct.Partitions = append(ct.Partitions, cp)
	}
	commit.Topics = append(commit.Topics, ct)
	known := func(topic string, p int32) bool { return topic == "t" && p == 0 }
	cresp, err := c.OffsetCommit(ctx, 8, commit, known)
	if err != nil || cresp.Topics[0].Partitions[0].ErrorCode != 0 || cresp.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit: %v %+v", err, cresp)
	}

	// A second coordinator over the same log rebuilds the group and its offsets.
	c2 := startCoordinator(t, l)
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group = "g"
	fetch.Groups = append(fetch.Groups, fg)
	fresp, err := c2.OffsetFetch(ctx, 8, fetch)
	if err != nil || len(fresp.Groups) != 1 || len(fresp.Groups[0].Topics) != 1 || fresp.Groups[0].Topics[0].Partitions[0].Offset != 100 {
		t.Fatalf("fetch after reload: %v %+v", err, fresp)
	}
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"g"}
	dresp, err := c2.DescribeGroups(ctx, desc)
	if err != nil || dresp.Groups[0].State != "Stable" || len(dresp.Groups[0].Members) != 1 || string(dresp.Groups[0].Members[0].MemberAssignment) != "assigned" {
		t.Fatalf("describe after reload: %v %+v", err, dresp)
	}
}

func TestDriverParkedJoinEndsWithContext(t *testing.T) {
	c := startCoordinator(t, drivertest.NewMemLog())
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "g", 10000, 10000, "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	join.Protocols = append(join.Protocols, p)
	first, err := c.JoinGroup(context.Background(), 3, "a", "/h", join)
	if err != nil || first.ErrorCode != 0 {
		t.Fatalf("first join: %v %+v", err, first)
	}
	// A second member parks the rebalance; the first never rejoins within the test.
	join2 := *join
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.JoinGroup(ctx, 3, "b", "/h", &join2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("parked join ended with %v, want the context's error", err)
	}
}
