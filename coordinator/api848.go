package coordinator

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SetTopics gives the coordinator the source of topics images (the broker's metadata
// cache); requests to KIP-848 groups carry the image current when they arrive. Call it
// before Run.
func (c *Coordinator) SetTopics(fn func() *TopicsImage) { c.topics = fn }

func (c *Coordinator) image() *TopicsImage {
	if c.topics == nil {
		return nil
	}
	return c.topics()
}

// ConsumerGroupHeartbeat answers a ConsumerGroupHeartbeat request (v0-1).
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, version int16, clientID, clientHost string, req *kmsg.ConsumerGroupHeartbeatRequest) (*kmsg.ConsumerGroupHeartbeatResponse, error) {
	ev := &ConsumerGroupHeartbeat{
		Version:              version,
		Group:                req.Group,
		MemberID:             req.MemberID,
		MemberEpoch:          req.MemberEpoch,
		InstanceID:           req.InstanceID,
		RackID:               req.RackID,
		RebalanceTimeoutMs:   req.RebalanceTimeoutMillis,
		ClientID:             clientID,
		ClientHost:           clientHost,
		SubscribedTopicNames: req.SubscribedTopicNames,
		SubscribedTopicRegex: req.SubscribedTopicRegex,
		ServerAssignor:       req.ServerAssignor,
		Image:                c.image(),
	}
	if version < 1 {
		ev.SubscribedTopicRegex = nil // not in v0
	}
	if req.Topics != nil {
		ev.Topics = make([]TopicIDPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			ev.Topics = append(ev.Topics, TopicIDPartitions{ID: t.TopicID, Partitions: t.Partitions})
		}
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(ConsumerGroupHeartbeatResult)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.ErrorCode = res.Err
	if res.Err != 0 {
		resp.ErrorMessage = nullable(res.ErrMsg)
		return resp, nil
	}
	resp.MemberID = strPtr(res.MemberID)
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = res.HeartbeatIntervalMs
	if res.HasAssignment {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = make([]kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic, 0, len(res.Assignment))
		for _, t := range res.Assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.ID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp, nil
}

// ConsumerGroupDescribe answers a ConsumerGroupDescribe request (v0-1).
func (c *Coordinator) ConsumerGroupDescribe(ctx context.Context, req *kmsg.ConsumerGroupDescribeRequest) (*kmsg.ConsumerGroupDescribeResponse, error) {
	ev := &ConsumerGroupDescribe{Groups: req.Groups, Image: c.image()}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, d := range r.(ConsumerGroupDescribeResult).Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group, rg.ErrorCode, rg.ErrorMessage = d.Group, d.Err, nullable(d.ErrMsg)
		rg.AuthorizedOperations = math.MinInt32
		if d.Err == 0 {
			rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		}
		for _, md := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID = md.MemberID, nullable(md.InstanceID), md.RackID
			rm.MemberEpoch, rm.ClientID, rm.ClientHost = md.MemberEpoch, md.ClientID, md.ClientHost
			rm.SubscribedTopics = append([]string{}, md.SubscribedTopics...)
			rm.SubscribedTopicRegex = nullable(md.SubscribedRegex)
			rm.Assignment = describedAssignment(md.Assignment)
			rm.TargetAssignment = describedAssignment(md.TargetAssignment)
			rm.MemberType = 1 // consumer
			if md.Classic {
				rm.MemberType = 0
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

func describedAssignment(tps []CGTopicPartitions) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, tp := range tps {
		at := kmsg.AssignmentTopicPartition{TopicID: tp.ID, Topic: tp.Name, Partitions: tp.Partitions}
		a.TopicPartitions = append(a.TopicPartitions, at)
	}
	return a
}
