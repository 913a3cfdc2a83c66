package broker

// LeaveGroup (key 13), versions 0-5.
//
//   - v0-2: one member id; its error is the top-level error.
//   - v3+: a batch of members, by member id or, for administrative removal of static
//     members, by group.instance.id with an empty member id; one error per member.
//   - v5 reason (logged by Kafka, ignored here).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleLeaveGroup(rc *requestContext, req *kmsg.LeaveGroupRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opRead, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.LeaveGroup(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
