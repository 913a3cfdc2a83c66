package broker

// ConsumerGroupDescribe (key 69), versions 0-1: KIP-848 groups with their epochs, assignor
// and members (current and target assignments, with topic names from the metadata cache).
//
//   - A group that does not exist, or is a classic group, is GROUP_ID_NOT_FOUND with Kafka's
//     message; Kafka's admin client then describes it with DescribeGroups, so
//     kafka-consumer-groups --describe shows both kinds.
//   - DESCRIBE on each group is needed (GROUP_AUTHORIZATION_FAILED for that group otherwise).
//   - v1 member type: 1 for members of the consumer protocol, 0 for classic members of a
//     group that was upgraded online. Authorized operations are not computed (INT32_MIN).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleConsumerGroupDescribe(rc *requestContext, req *kmsg.ConsumerGroupDescribeRequest) (kmsg.Response, error) {
	resp, err := s.groups.ConsumerGroupDescribe(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	for i := range resp.Groups {
		if g := &resp.Groups[i]; !rc.authorize(opDescribe, resGroup, g.Group) {
			*g = kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group, g.ErrorCode = req.Groups[i], kerr.GroupAuthorizationFailed.Code
		}
	}
	return resp, nil
}
