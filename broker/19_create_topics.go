package broker

// CreateTopics (key 19), versions 0-7.
//
//   - num_partitions / replication_factor -1 take num.partitions / default.replication.factor
//     (v4+ semantics, accepted at every version). An explicit replica assignment is checked for
//     consecutive partitions, equal sizes and live, distinct brokers.
//   - Errors per topic: TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
//     INVALID_REPLICA_ASSIGNMENT, INVALID_TOPIC_EXCEPTION, INVALID_CONFIG, and INVALID_REQUEST for
//     a topic named twice in one request.
//   - validate_only (v1+) checks everything and creates nothing.
//   - v5+ answers with the resolved partitions, replication factor and configs; v7 with the id.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreateTopics(rc *requestContext, req *kmsg.CreateTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			msg := "topic " + rt.Topic + " is named more than once in the request"
			st.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		spec := topicSpec{name: rt.Topic, partitions: rt.NumPartitions, replicationFactor: rt.ReplicationFactor}
		if len(rt.ReplicaAssignment) > 0 {
			spec.assignment = make(map[int32][]int32, len(rt.ReplicaAssignment))
			for _, a := range rt.ReplicaAssignment {
				spec.assignment[a.Partition] = a.Replicas
			}
		}
		if len(rt.Configs) > 0 {
			spec.configs = make(map[string]string, len(rt.Configs))
			for _, c := range rt.Configs {
				if c.Value != nil {
					spec.configs[c.Name] = *c.Value
				}
			}
		}
		t, err := (*topicMeta)(nil), s.requireController()
		if err == nil && !rc.mayCreateTopic(rt.Topic) {
			err = kerr.TopicAuthorizationFailed
		}
		if err == nil && !req.ValidateOnly {
			parts := int(spec.partitions)
			switch {
			case len(spec.assignment) > 0:
				parts = len(spec.assignment)
			case parts < 0:
				parts = int(s.cfg.NumPartitions)
			}
			err = s.admitMutation(rc, rc.version() >= 6, parts)
		}
		if err == nil {
			t, err = s.createTopic(rc.ctx(), spec, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			if rc.version() >= 1 {
				st.ErrorMessage = errorMessage(err)
			}
			ev := rc.conn.logger.Info()
			if isUnexpected(err) {
				ev = rc.conn.logger.Error()
			}
			ev.Err(err).Str("topic", rt.Topic).Msg("create topic refused")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.id
		st.NumPartitions = int32(len(t.partitions))
		if len(t.partitions) > 0 && t.partitions[0].replicas != nil {
			st.ReplicationFactor = int16(len(t.partitions[0].replicas))
		} else {
			st.ReplicationFactor = spec.replicationFactor
		}
		for _, e := range s.config().DescribeTopic(t.overrides) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Source, e.Sensitive
			st.Configs = append(st.Configs, c)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
