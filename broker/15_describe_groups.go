package broker

// DescribeGroups (key 15), versions 0-5.
//
//   - State strings exactly Empty|Stable|PreparingRebalance|CompletingRebalance|Dead; an
//     unknown group, or a KIP-848 consumer group, is Dead with no members and no error, as
//     Kafka 3.9 and Kafka 4 below v6 answer. v6 (Kafka 4.0: GROUP_ID_NOT_FOUND with "Group G
//     not found." or "Group G is not a classic group.") is not advertised; Kafka 4's admin
//     client describes KIP-848 groups with ConsumerGroupDescribe and the others with this.
//   - Member metadata and assignment bytes as the members gave them, for Stable groups only
//     (empty otherwise, as in Kafka).
//   - v3+ authorized operations: INT32_MIN (not computed); v4+ group.instance.id.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeGroups(rc *requestContext, req *kmsg.DescribeGroupsRequest) (kmsg.Response, error) {
	resp, err := s.groups.DescribeGroups(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	if r := resp; r != nil {
		rc.authorizeDescribeGroups(req, r)
	}
	return resp, nil
}
