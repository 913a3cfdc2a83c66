package broker

// CreatePartitions (key 37), versions 0-3.
//
//   - Grows a topic to `count` partitions; a count not above the current one is
//     INVALID_PARTITIONS. An explicit assignment must name one replica list per new partition
//     (INVALID_REPLICA_ASSIGNMENT otherwise). validate_only checks and changes nothing.
//   - A topic named twice in one request gets INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreatePartitions(rc *requestContext, req *kmsg.CreatePartitionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var assignment [][]int32
		if rt.Assignment != nil {
			for _, a := range rt.Assignment {
				assignment = append(assignment, a.Replicas)
			}
		}
		err := s.requireController()
		if err == nil && !rc.authorize(opAlter, resTopic, rt.Topic) {
			err = kerr.TopicAuthorizationFailed
		}
		if err == nil && !req.ValidateOnly {
			added := 0
			if t, ok := s.cache.topic(rt.Topic); ok {
				added = max(int(rt.Count)-len(t.partitions), 0)
			}
			err = s.admitMutation(rc, rc.version() >= 3, added)
		}
		if err == nil {
			err = s.createPartitions(rc.ctx(), rt.Topic, rt.Count, assignment, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			st.ErrorMessage = errorMessage(err)
			rc.conn.logger.Info().Err(err).Str("topic", rt.Topic).Msg("create partitions refused")
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
