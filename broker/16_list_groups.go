package broker

// ListGroups (key 16), versions 0-4.
//
//   - Every group of the __consumer_offsets partitions this broker coordinates, with its
//     protocol type (v0+) and state (v4+); v4 states filter, case-insensitive.
//   - COORDINATOR_LOAD_IN_PROGRESS (with the groups loaded so far) while a partition loads.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleListGroups(rc *requestContext, req *kmsg.ListGroupsRequest) (kmsg.Response, error) {
	resp, err := s.groups.ListGroups(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	if r := resp; r != nil {
		rc.authorizeListGroups(r)
	}
	return resp, nil
}
