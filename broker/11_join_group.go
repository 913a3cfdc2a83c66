package broker

// JoinGroup (key 11), versions 0-9.
//
//   - The classic rebalance protocol of Kafka 3.9 (package coordinator): the answer is
//     parked until the group completes its join phase (the connection's context ends the
//     wait; no broker lock is held meanwhile).
//   - v0 has no rebalance timeout: the session timeout serves as one.
//   - v4+: an empty member id is answered MEMBER_ID_REQUIRED with the id to rejoin with;
//     v0-3 get a member id directly (kafka-go cannot handle MEMBER_ID_REQUIRED).
//   - v5+ group.instance.id (static membership, KIP-345); v7+ protocol type/name in the
//     answer; v8 reason; v9 skip_assignment for a replaced static leader (KIP-814).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleJoinGroup(rc *requestContext, req *kmsg.JoinGroupRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opRead, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.JoinGroup(rc.ctx(), rc.version(), clientID(rc.hdr), rc.clientHost(), req)
	if err == nil && resp.ErrorCode == 0 {
		s.metrics.GroupGeneration(req.Group, resp.Generation)
	}
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
