package broker

// Metadata (key 3), versions 0-12.
//
//   - All topics: an empty list in v0, a null list in v1+.
//   - Auto-creation: an unknown topic is created with the broker defaults when
//     auto.create.topics.enable is set and the request allows it (always in v0-3,
//     allow_auto_topic_creation in v4+), and answered LEADER_NOT_AVAILABLE in that response, as
//     Kafka does; the next request sees it. A bad name gets INVALID_TOPIC_EXCEPTION.
//   - Brokers and the controller id come from the metadata cache (the controller's
//     UpdateMetadata in cluster mode; this broker on a single node), so the controller is a live
//     broker in the list and admin clients send CreateTopics and friends there; the cluster id
//     comes from the metadata store.
//   - v10+ returns stable topic ids and accepts topics named by id (v12).
//   - Authorized operations are not computed: Kafka's "omitted" value (INT32_MIN).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const authorizedOperationsOmitted = -2147483648

func (s *Server) handleMetadata(rc *requestContext, req *kmsg.MetadataRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, lb := range s.cache.liveBrokers() {
		host, port, ok := lb.endpoint(rc.conn.lsn.name)
		if !ok {
			continue
		}
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = lb.id, host, port, lb.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	clusterID := s.clusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = s.cache.controller()
	resp.AuthorizedOperations = authorizedOperationsOmitted

	allTopics := req.Topics == nil || (rc.version() == 0 && len(req.Topics) == 0)
	if allTopics {
		for _, t := range s.cache.all() {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
		}
		return resp, nil
	}
	allowCreate := rc.version() < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		var t *topicMeta
		var ok bool
		if rt.Topic == nil {
			t, ok = s.cache.topicByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = authorizedOperationsOmitted
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		} else {
			t, ok = s.cache.topic(*rt.Topic)
		}
		if ok {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
			continue
		}
		name := *rt.Topic
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &name
		mt.AuthorizedOperations = authorizedOperationsOmitted
		mt.ErrorCode = s.autoCreate(rc, name, allowCreate)
		resp.Topics = append(resp.Topics, mt)
	}
	return resp, nil
}

// autoCreate creates an unknown topic when allowed and returns the error code to answer.
func (s *Server) autoCreate(rc *requestContext, name string, allowed bool) int16 {
	if err := validateTopicName(name); err != nil {
		return kerr.InvalidTopicException.Code
	}
	if !allowed || !s.cfg.AutoCreateTopicsEnable {
		return kerr.UnknownTopicOrPartition.Code
	}
	_, err := s.createTopic(rc.ctx(), topicSpec{name: name, partitions: -1, replicationFactor: -1}, false)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		return kerr.LeaderNotAvailable.Code
	default:
		rc.conn.logger.Warn().Err(err).Str("topic", name).Msg("auto-creating topic failed")
		if code := errorCode(err); code != kerr.UnknownServerError.Code {
			return code
		}
		return kerr.LeaderNotAvailable.Code
	}
}

func (s *Server) metadataTopic(t *topicMeta) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	mt.IsInternal = t.internal
	mt.AuthorizedOperations = authorizedOperationsOmitted
	for i, pm := range t.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = pm.leader
		mp.LeaderEpoch = pm.leaderEpoch
		mp.Replicas = pm.replicas
		mp.ISR = pm.isr
		mp.OfflineReplicas = pm.offline
		if mp.OfflineReplicas == nil {
			mp.OfflineReplicas = []int32{}
		}
		if pm.leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
