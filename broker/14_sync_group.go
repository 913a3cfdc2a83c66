package broker

// SyncGroup (key 14), versions 0-5.
//
//   - The leader sends the assignment; every member's answer is parked until the leader's
//     assignment is written to __consumer_offsets, then carries its own assignment.
//   - v3+ group.instance.id; v5 protocol type and name, checked against the group's
//     (INCONSISTENT_GROUP_PROTOCOL) and returned in the answer.
//   - While the group's partition loads, REBALANCE_IN_PROGRESS (the member rejoins).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleSyncGroup(rc *requestContext, req *kmsg.SyncGroupRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opRead, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.SyncGroup(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
