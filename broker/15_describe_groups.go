package broker

// DescribeGroups (key 15), versions 0-5.
//
//   - State strings exactly Empty|Stable|PreparingRebalance|CompletingRebalance|Dead; an
//     unknown group is Dead with no error and no members (Kafka 3.9; v6 is not advertised).
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
