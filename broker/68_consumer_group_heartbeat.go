package broker

// ConsumerGroupHeartbeat (key 68), versions 0-1: the KIP-848 consumer group protocol, which
// Apache Kafka serves only in KRaft mode (package coordinator, Kafka 4.0's behaviour).
//
//   - Joining (epoch 0), heartbeating, leaving (-1) and a static member's temporary leave
//     (-2) in one request; the coordinator computes the assignment (group.consumer.assignors,
//     uniform by default) and hands it out step by step, revoking before assigning.
//   - v0: an empty member id on join gets one from the coordinator; v1 (Kafka 4.0) requires
//     the client's own member id and adds SubscribedTopicRegex (RE2 syntax, whole-name match;
//     INVALID_REGULAR_EXPRESSION when it does not compile).
//   - Errors as Kafka: INVALID_REQUEST (with its message), UNSUPPORTED_ASSIGNOR,
//     FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND, UNRELEASED_INSTANCE_ID,
//     FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, NOT_COORDINATOR and
//     COORDINATOR_LOAD_IN_PROGRESS. Only advertised when group.coordinator.rebalance.protocols
//     has "consumer".
//   - READ on the group is needed (GROUP_AUTHORIZATION_FAILED otherwise), as in KafkaApis.
//   - Topics are named by id: the member's subscriptions are resolved against the broker's
//     metadata cache, so the group sees topics as soon as this broker knows them.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleConsumerGroupHeartbeat(rc *requestContext, req *kmsg.ConsumerGroupHeartbeatRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opRead, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.ConsumerGroupHeartbeat(rc.ctx(), rc.version(), clientID(rc.hdr), rc.clientHost(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
