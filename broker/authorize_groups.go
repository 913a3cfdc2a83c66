package broker

// Authorization of the group APIs, as KafkaApis does it; the coordinator itself knows
// nothing of principals. Each function is a no-op without an authorizer.

import (
	"reflect"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setErrorCode sets a response's top-level ErrorCode field; false when it has none.
func setErrorCode(resp kmsg.Response, code int16) bool {
	f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode")
	if !f.IsValid() || f.Kind() != reflect.Int16 || !f.CanSet() {
		return false
	}
	f.SetInt(int64(code))
	return true
}

// groupDenied answers req with GROUP_AUTHORIZATION_FAILED when the principal may not do op
// on the group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup need READ); nil when allowed.
func (rc *requestContext) groupDenied(req kmsg.Request, op kmsg.ACLOperation, group string) kmsg.Response {
	if rc.authorize(op, resGroup, group) {
		return nil
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	setErrorCode(resp, kerr.GroupAuthorizationFailed.Code)
	return resp
}

// authorizeOffsetCommit keeps in req the topics the principal may READ and returns the
// answers of the others (TOPIC_AUTHORIZATION_FAILED); with no READ on the group every
// partition gets GROUP_AUTHORIZATION_FAILED and ok is false.
func (rc *requestContext) authorizeOffsetCommit(req *kmsg.OffsetCommitRequest) (denied []kmsg.OffsetCommitResponseTopic, ok bool) {
	if rc.conn.s.authz == nil {
		return nil, true
	}
	answer := func(t kmsg.OffsetCommitRequestTopic, code int16) kmsg.OffsetCommitResponseTopic {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		return rt
	}
	groupOK := rc.authorize(opRead, resGroup, req.Group)
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		switch {
		case !groupOK:
			denied = append(denied, answer(t, kerr.GroupAuthorizationFailed.Code))
		case !rc.authorize(opRead, resTopic, t.Topic):
			denied = append(denied, answer(t, kerr.TopicAuthorizationFailed.Code))
		default:
			kept = append(kept, t)
		}
	}
	req.Topics = kept
	return denied, groupOK
}

// authorizeOffsetFetch applies DESCRIBE on the groups and topics to an OffsetFetch answer:
// a group without it gets GROUP_AUTHORIZATION_FAILED and nothing else; a named topic without
// it TOPIC_AUTHORIZATION_FAILED; when all topics were asked for, those are left out.
func (rc *requestContext) authorizeOffsetFetch(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	if rc.conn.s.authz == nil {
		return
	}
	filter := func(topics []kmsg.OffsetFetchResponseTopic, all bool) []kmsg.OffsetFetchResponseTopic {
		out := topics[:0]
		for _, t := range topics {
			if rc.allowed(opDescribe, resTopic, t.Topic) {
				out = append(out, t)
				continue
			}
			if all {
				continue
			}
			for i := range t.Partitions {
				t.Partitions[i].ErrorCode, t.Partitions[i].Offset, t.Partitions[i].Metadata = kerr.TopicAuthorizationFailed.Code, -1, nil
			}
			out = append(out, t)
		}
		return out
	}
	if req.GetVersion() < 8 {
		if !rc.authorize(opDescribe, resGroup, req.Group) {
			resp.Topics = nil
			if req.GetVersion() >= 2 {
				resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			}
			return
		}
		resp.Topics = filter(resp.Topics, req.Topics == nil)
		return
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if !rc.authorize(opDescribe, resGroup, g.Group) {
			g.Topics, g.ErrorCode = nil, kerr.GroupAuthorizationFailed.Code
			continue
		}
		all := true
		for _, rg := range req.Groups {
			if rg.Group == g.Group && rg.Topics != nil {
				all = false
			}
		}
		ts := make([]kmsg.OffsetFetchResponseTopic, 0, len(g.Topics))
		for _, t := range g.Topics {
			ts = append(ts, kmsg.OffsetFetchResponseTopic{Topic: t.Topic, Partitions: convertParts(t.Partitions)})
		}
		ts = filter(ts, all)
		g.Topics = g.Topics[:0]
		for _, t := range ts {
			gt := kmsg.NewOffsetFetchResponseGroupTopic()
			gt.Topic = t.Topic
			for _, p := range t.Partitions {
				gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				gt.Partitions = append(gt.Partitions, gp)
			}
			g.Topics = append(g.Topics, gt)
		}
	}
}

func convertParts(ps []kmsg.OffsetFetchResponseGroupTopicPartition) []kmsg.OffsetFetchResponseTopicPartition {
	out := make([]kmsg.OffsetFetchResponseTopicPartition, 0, len(ps))
	for _, p := range ps {
		out = append(out, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
	}
	return out
}

// authorizeDescribeGroups replaces the groups the principal may not DESCRIBE with
// GROUP_AUTHORIZATION_FAILED and fills authorized operations (v3+) when asked for.
func (rc *requestContext) authorizeDescribeGroups(req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) {
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if rc.conn.s.authz != nil && !rc.authorize(opDescribe, resGroup, g.Group) {
			*g = kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode = req.Groups[min(i, len(req.Groups)-1)], kerr.GroupAuthorizationFailed.Code
			g.AuthorizedOperations = authorizedOperationsOmitted
			continue
		}
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = rc.authorizedOps(resGroup, g.Group)
		}
	}
}

// authorizeListGroups keeps the groups the principal may DESCRIBE, unless it may DESCRIBE
// the cluster.
func (rc *requestContext) authorizeListGroups(resp *kmsg.ListGroupsResponse) {
	if rc.conn.s.authz == nil || rc.allowed(opDescribe, resCluster, clusterResource) {
		return
	}
	resp.Groups = slices.DeleteFunc(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool {
		return !rc.allowed(opDescribe, resGroup, g.Group)
	})
}

// authorizeDeleteGroups keeps in req the groups the principal may DELETE and returns the
// answers of the others.
func (rc *requestContext) authorizeDeleteGroups(req *kmsg.DeleteGroupsRequest) []kmsg.DeleteGroupsResponseGroup {
	if rc.conn.s.authz == nil {
		return nil
	}
	var denied []kmsg.DeleteGroupsResponseGroup
	kept := req.Groups[:0:0]
	for _, g := range req.Groups {
		if rc.authorize(opDelete, resGroup, g) {
			kept = append(kept, g)
			continue
		}
		d := kmsg.NewDeleteGroupsResponseGroup()
		d.Group, d.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
		denied = append(denied, d)
	}
	req.Groups = kept
	return denied
}
