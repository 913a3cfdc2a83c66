package coordinator

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The request methods below translate kmsg requests (of the given version) into machine
// events and the answers back into kmsg responses. An error means the caller's context
// ended or the coordinator stopped: no answer is to be sent.

func strPtr(s string) *string { return &s }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// JoinGroup answers a JoinGroup request (v0-9); it blocks until the rebalance completes.
func (c *Coordinator) JoinGroup(ctx context.Context, version int16, clientID, clientHost string, req *kmsg.JoinGroupRequest) (*kmsg.JoinGroupResponse, error) {
	ev := &JoinGroup{
		Group:                     req.Group,
		MemberID:                  req.MemberID,
		InstanceID:                deref(req.InstanceID),
		ClientID:                  clientID,
		ClientHost:                clientHost,
		RebalanceTimeoutMs:        req.RebalanceTimeoutMillis,
		SessionTimeoutMs:          req.SessionTimeoutMillis,
		ProtocolType:              req.ProtocolType,
		RequireKnownMemberID:      version >= 4,
		SupportSkippingAssignment: version >= 9,
		Image:                     c.image(),
	}
	if version == 0 {
		ev.RebalanceTimeoutMs = req.SessionTimeoutMillis
	}
	for _, p := range req.Protocols {
		ev.Protocols = append(ev.Protocols, Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(JoinResult)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = res.Err
	resp.Generation = res.Generation
	resp.MemberID = res.MemberID
	resp.LeaderID = res.Leader
	resp.SkipAssignment = res.SkipAssignment
	if res.Err == 0 {
		resp.ProtocolType = strPtr(res.ProtocolType)
		resp.Protocol = strPtr(res.Protocol)
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID = m.MemberID
		rm.InstanceID = nullable(m.InstanceID)
		rm.ProtocolMetadata = nonNil(m.Metadata)
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

// SyncGroup answers a SyncGroup request (v0-5); followers wait for the leader's assignment.
func (c *Coordinator) SyncGroup(ctx context.Context, version int16, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, error) {
	ev := &SyncGroup{
		Group:       req.Group,
		MemberID:    req.MemberID,
		InstanceID:  deref(req.InstanceID),
		Generation:  req.Generation,
		Assignments: make(map[string][]byte, len(req.GroupAssignment)),
		Image:       c.image(),
	}
	if version >= 5 {
		ev.ProtocolType, ev.Protocol = req.ProtocolType, req.Protocol
	}
	for _, a := range req.GroupAssignment {
		ev.Assignments[a.MemberID] = a.MemberAssignment
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(SyncResult)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = res.Err
	resp.MemberAssignment = nonNil(res.Assignment)
	if res.Err == 0 {
		resp.ProtocolType = strPtr(res.ProtocolType)
		resp.Protocol = strPtr(res.Protocol)
	}
	return resp, nil
}

// Heartbeat answers a Heartbeat request (v0-4).
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) (*kmsg.HeartbeatResponse, error) {
	ev := &Heartbeat{Group: req.Group, MemberID: req.MemberID, InstanceID: deref(req.InstanceID), Generation: req.Generation}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = r.(ErrResult).Err
	return resp, nil
}

// LeaveGroup answers a LeaveGroup request (v0-2 one member, v3+ a batch).
func (c *Coordinator) LeaveGroup(ctx context.Context, version int16, req *kmsg.LeaveGroupRequest) (*kmsg.LeaveGroupResponse, error) {
	ev := &LeaveGroup{Group: req.Group}
	if version < 3 {
		ev.Members = []LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			ev.Members = append(ev.Members, LeaveMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID)})
		}
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(LeaveResult)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.ErrorCode = res.Err
	if version < 3 {
		if resp.ErrorCode == 0 && len(res.Members) > 0 {
			resp.ErrorCode = res.Members[0]
		}
		return resp, nil
	}
	for i, code := range res.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = ev.Members[i].MemberID
		rm.InstanceID = nullable(ev.Members[i].InstanceID)
		rm.ErrorCode = code
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

// OffsetCommit answers an OffsetCommit request (v0-9). known tells whether a partition
// exists; others are answered UNKNOWN_TOPIC_OR_PARTITION.
func (c *Coordinator) OffsetCommit(ctx context.Context, version int16, req *kmsg.OffsetCommitRequest, known func(topic string, partition int32) bool) (*kmsg.OffsetCommitResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	now := time.Now().UnixMilli()
	ev := &CommitOffsets{Version: version, Group: req.Group, MemberID: req.MemberID, InstanceID: deref(req.InstanceID), Generation: req.Generation}
	if version == 0 {
		ev.Generation, ev.MemberID = -1, ""
	}
	type slot struct{ t, p, idx int }
	var slots []slot
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
			if !known(t.Topic, p.Partition) {
				rt.Partitions[pi].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			co := CommitOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: -1, Metadata: deref(p.Metadata), CommitTs: now, ExpireTs: -1}
			if version >= 6 && p.LeaderEpoch >= 0 {
				co.LeaderEpoch = p.LeaderEpoch
			}
			if version == 1 && p.Timestamp != -1 {
				co.CommitTs = p.Timestamp
			}
			if version >= 2 && version <= 4 && req.RetentionTimeMillis != -1 {
				co.ExpireTs = now + req.RetentionTimeMillis
			}
			slots = append(slots, slot{ti, pi, len(ev.Offsets)})
			ev.Offsets = append(ev.Offsets, co)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(ev.Offsets) == 0 {
		return resp, nil
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	errs := r.(CommitResult).Errs
	for _, s := range slots {
		resp.Topics[s.t].Partitions[s.p].ErrorCode = errs[s.idx]
	}
	return resp, nil
}

// OffsetFetch answers an OffsetFetch request (v1-7 one group, v8+ several groups).
func (c *Coordinator) OffsetFetch(ctx context.Context, version int16, req *kmsg.OffsetFetchRequest) (*kmsg.OffsetFetchResponse, error) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if version < 8 {
		var topics []TopicPartitions
		if req.Topics != nil || version < 2 {
			topics = make([]TopicPartitions, 0, len(req.Topics))
			for _, t := range req.Topics {
				topics = append(topics, TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		res, err := c.fetchOffsets(ctx, &FetchOffsets{Group: req.Group, Topics: topics, MemberEpoch: -1, RequireStable: version >= 7 && req.RequireStable})
		if err != nil {
			return nil, err
		}
		if res.Err != 0 {
			if version >= 2 {
				resp.ErrorCode = res.Err
				return resp, nil
			}
			// v0-1 have no top-level error: every requested partition carries it.
			res.Offsets = nil
			for _, t := range topics {
				for _, p := range t.Partitions {
					res.Offsets = append(res.Offsets, FetchedOffset{Topic: t.Topic, Partition: p, Offset: -1, LeaderEpoch: -1})
				}
			}
		}
		for _, o := range groupByTopic(res.Offsets) {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = o[0].Topic
			for _, fo := range o {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = fo.Partition, fo.Offset, fo.LeaderEpoch, strPtr(fo.Metadata)
				rp.ErrorCode = res.Err
				if rp.ErrorCode == 0 {
					rp.ErrorCode = fo.Err
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	for _, g := range req.Groups {
		var topics []TopicPartitions
		if g.Topics != nil {
			topics = make([]TopicPartitions, 0, len(g.Topics))
			for _, t := range g.Topics {
				topics = append(topics, TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		ev := &FetchOffsets{Group: g.Group, Topics: topics, MemberEpoch: -1, RequireStable: req.RequireStable}
		if version >= 9 {
			ev.MemberID, ev.MemberEpoch = g.MemberID, g.MemberEpoch // checked for KIP-848 groups
		}
		res, err := c.fetchOffsets(ctx, ev)
		if err != nil {
			return nil, err
		}
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g.Group
		rg.ErrorCode = res.Err
		for _, o := range groupByTopic(res.Offsets) {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = o[0].Topic
			for _, fo := range o {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = fo.Partition, fo.Offset, fo.LeaderEpoch, strPtr(fo.Metadata)
				rp.ErrorCode = fo.Err
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

func (c *Coordinator) fetchOffsets(ctx context.Context, ev *FetchOffsets) (FetchResult, error) {
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return FetchResult{}, err
	}
	return r.(FetchResult), nil
}

// groupByTopic splits offsets into runs of the same topic, keeping their order.
func groupByTopic(offsets []FetchedOffset) [][]FetchedOffset {
	var out [][]FetchedOffset
	for _, o := range offsets {
		if n := len(out); n > 0 && out[n-1][0].Topic == o.Topic {
			out[n-1] = append(out[n-1], o)
			continue
		}
		out = append(out, []FetchedOffset{o})
	}
	return out
}

// DescribeGroups answers a DescribeGroups request (v0-6). Groups that are not classic
// groups (and unknown ones) are Dead; v6 (not advertised by the broker) adds
// GROUP_ID_NOT_FOUND with Kafka's message.
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) (*kmsg.DescribeGroupsResponse, error) {
	ev := &DescribeGroups{Groups: req.Groups}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, d := range r.(DescribeResult).Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = d.Group
		if d.Err == kerr.GroupIDNotFound.Code && req.Version < 6 {
			d.Err, d.ErrMsg = 0, ""
		}
		rg.ErrorCode = d.Err
		rg.ErrorMessage = nullable(d.ErrMsg)
		rg.State = d.State
		rg.ProtocolType = d.ProtocolType
		rg.Protocol = d.Protocol
		rg.AuthorizedOperations = math.MinInt32
		for _, md := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID = md.MemberID
			rm.InstanceID = nullable(md.InstanceID)
			rm.ClientID = md.ClientID
			rm.ClientHost = md.ClientHost
			rm.ProtocolMetadata = md.Metadata
			rm.MemberAssignment = md.Assignment
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

// ListGroups answers a ListGroups request (v0-5; states filter from v4, types from v5).
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) (*kmsg.ListGroupsResponse, error) {
	ev := &ListGroups{States: req.StatesFilter, Types: req.TypesFilter}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(ListResult)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.ErrorCode = res.Err
	for _, g := range res.Groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

// DeleteGroups answers a DeleteGroups request (v0-2).
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) (*kmsg.DeleteGroupsResponse, error) {
	ev := &DeleteGroups{Groups: req.Groups}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for i, code := range r.(DeleteGroupsResult).Errs {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = req.Groups[i], code
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

// OffsetDelete answers an OffsetDelete request (v0). known tells whether a partition exists.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest, known func(topic string, partition int32) bool) (*kmsg.OffsetDeleteResponse, error) {
	ev := &DeleteOffsets{Group: req.Group}
	type slot struct{ t, p int }
	var slots [][]slot
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		tp := TopicPartitions{Topic: t.Topic}
		var ss []slot
		for pi, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
			if !known(t.Topic, p.Partition) {
				rt.Partitions[pi].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			ss = append(ss, slot{ti, pi})
			tp.Partitions = append(tp.Partitions, p.Partition)
		}
		ev.Partitions = append(ev.Partitions, tp)
		slots = append(slots, ss)
		resp.Topics = append(resp.Topics, rt)
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(DeleteOffsetsResult)
	if res.Err != 0 {
		resp.ErrorCode = res.Err
		resp.Topics = nil
		return resp, nil
	}
	for i, ss := range slots {
		for j, s := range ss {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = res.Errs[i][j]
		}
	}
	return resp, nil
}

// TxnOffsetCommit answers a TxnOffsetCommit request (v0-4) whose transaction check passed.
// known tells whether a partition exists; others are answered UNKNOWN_TOPIC_OR_PARTITION.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, version int16, req *kmsg.TxnOffsetCommitRequest, known func(topic string, partition int32) bool) (*kmsg.TxnOffsetCommitResponse, error) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	now := time.Now().UnixMilli()
	ev := &TxnCommitOffsets{Group: req.Group, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Generation: -1}
	if version >= 3 {
		ev.MemberID, ev.InstanceID, ev.Generation = req.MemberID, deref(req.InstanceID), req.Generation
	}
	type slot struct{ t, p, idx int }
	var slots []slot
	for ti, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
			if !known(t.Topic, p.Partition) {
				rt.Partitions[pi].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			co := CommitOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: -1, Metadata: deref(p.Metadata), CommitTs: now, ExpireTs: -1}
			if version >= 2 && p.LeaderEpoch >= 0 {
				co.LeaderEpoch = p.LeaderEpoch
			}
			slots = append(slots, slot{ti, pi, len(ev.Offsets)})
			ev.Offsets = append(ev.Offsets, co)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(ev.Offsets) == 0 {
		return resp, nil
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	errs := r.(CommitResult).Errs
	for _, s := range slots {
		code := errs[s.idx]
		if version < 2 && code == kerr.CoordinatorLoadInProgress.Code {
			code = kerr.CoordinatorNotAvailable.Code // clients before 2.0 do not expect it
		}
		resp.Topics[s.t].Partitions[s.p].ErrorCode = code
	}
	return resp, nil
}

// CompleteTxn tells the coordinator that a transaction marker of the producer was written
// to a __consumer_offsets partition (WriteTxnMarkers). It does not wait.
func (c *Coordinator) CompleteTxn(producerID int64, partition int32, commit bool) {
	c.loop.Post(TxnCompleted{ProducerID: producerID, Partition: partition, Commit: commit})
}
