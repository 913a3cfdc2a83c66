package broker

// DeleteTopics (key 20), versions 0-6.
//
//   - Topics by name (v0-5 topic_names; v6 topics[] by name or by topic id).
//   - TOPIC_DELETION_DISABLED when delete.topic.enable is false, UNKNOWN_TOPIC_OR_PARTITION /
//     UNKNOWN_TOPIC_ID for topics that do not exist.
//   - Deletion is complete when the answer is sent: the partitions are closed and their
//     directories removed, and the znodes are gone.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteTopics(rc *requestContext, req *kmsg.DeleteTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	targets := req.Topics
	if rc.version() < 6 {
		targets = make([]kmsg.DeleteTopicsRequestTopic, 0, len(req.TopicNames))
		for _, n := range req.TopicNames {
			n := n
			targets = append(targets, kmsg.DeleteTopicsRequestTopic{Topic: &n})
		}
	}
	for _, rt := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		var name string
		if rt.Topic != nil {
			name = *rt.Topic
		} else if t, ok := s.cache.topicByID(rt.TopicID); ok {
			name = t.name
		} else {
			st.TopicID = rt.TopicID
			st.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		n := name
		st.Topic = &n
		parts := 0
		if t, ok := s.cache.topic(name); ok {
			st.TopicID = t.id
			parts = len(t.partitions)
		}
		err := s.requireController()
		if err == nil && !rc.authorize(opDelete, resTopic, name) {
			err = kerr.TopicAuthorizationFailed
		}
		if err == nil {
			err = s.admitMutation(rc, rc.version() >= 5, parts)
		}
		if err == nil {
			err = s.deleteTopic(rc.ctx(), name)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			if rc.version() >= 5 {
				st.ErrorMessage = errorMessage(err)
			}
			rc.conn.logger.Info().Err(err).Str("topic", name).Msg("delete topic refused")
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
