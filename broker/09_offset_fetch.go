package broker

// OffsetFetch (key 9), versions 0-9.
//
//   - Committed offsets of a group; -1 (with empty metadata) for partitions without one.
//     Null topics (v2+) return every committed offset of the group.
//   - v0 was ZooKeeper-backed in Kafka; here it reads the same offsets as v1.
//   - v0-1 have no top-level error code: a group-level error goes to each partition.
//   - v8+ several groups per request. require_stable (v7+) needs no wait: there are no
//     pending transactional offsets. v9 member id/epoch only matter to KIP-848 groups.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetFetch(rc *requestContext, req *kmsg.OffsetFetchRequest) (kmsg.Response, error) {
	resp, err := s.groups.OffsetFetch(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	if r := resp; r != nil {
		rc.authorizeOffsetFetch(req, r)
	}
	return resp, nil
}
