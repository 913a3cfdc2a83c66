package broker

// OffsetDelete (key 47), version 0.
//
//   - Deletes committed offsets of a group (tombstones). An Empty group: any partition. A
//     consumer group with members: partitions of topics no member subscribes to (decoded
//     from the consumer-protocol subscriptions); others get GROUP_SUBSCRIBED_TO_TOPIC. Other
//     non-empty groups: NON_EMPTY_GROUP. Unknown group: GROUP_ID_NOT_FOUND; unknown topic or
//     partition: UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetDelete(rc *requestContext, req *kmsg.OffsetDeleteRequest) (kmsg.Response, error) {
	if denied := rc.groupDenied(req, opDelete, req.Group); denied != nil {
		return denied, nil
	}
	resp, err := s.groups.OffsetDelete(rc.ctx(), req, s.knownPartition)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
