package broker

// Heartbeat (key 12), versions 0-4.
//
//   - Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin,
//     ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID (v3+ static members) fence
//     stale members. While the group's partition loads, the answer is NONE, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleHeartbeat(rc *requestContext, req *kmsg.HeartbeatRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opRead, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.Heartbeat(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
