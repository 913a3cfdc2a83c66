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
//   - A topic this broker has from LeaderAndIsr but not yet from UpdateMetadata (no partition
//     states) is not known here yet, as in Kafka, whose metadata cache only UpdateMetadata
//     fills: it is left out of the all-topics list and answered as an unknown topic, an error
//     the clients retry within milliseconds. Answered as a topic without partitions and no
//     error, a client (franz-go) takes the load as complete and asks again only at
//     metadata.max.age.ms, minutes later.
//   - v10+ returns stable topic ids and accepts topics named by id (v12).
//   - Authorization (authorizer on), as KafkaApis: listing all topics leaves out those without
//     DESCRIBE; a named topic without DESCRIBE gets TOPIC_AUTHORIZATION_FAILED; auto-creation
//     needs CREATE on the cluster or the topic (else TOPIC_AUTHORIZATION_FAILED).
//   - Authorized operations (v8+) are computed when asked for (include_*_authorized_operations),
//     else Kafka's "omitted" value (INT32_MIN).

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
	if req.IncludeClusterAuthorizedOperations && rc.version() >= 8 && rc.version() <= 10 {
		resp.AuthorizedOperations = rc.authorizedOps(resCluster, clusterResource)
	}
	withOps := func(mt kmsg.MetadataResponseTopic) kmsg.MetadataResponseTopic {
		if req.IncludeTopicAuthorizedOperations && rc.version() >= 8 && mt.Topic != nil {
			mt.AuthorizedOperations = rc.authorizedOps(resTopic, *mt.Topic)
		}
		return mt
	}

	allTopics := req.Topics == nil || (rc.version() == 0 && len(req.Topics) == 0)
	if allTopics {
		for _, t := range s.cache.all() {
			if len(t.partitions) > 0 && rc.allowed(opDescribe, resTopic, t.name) {
				resp.Topics = append(resp.Topics, withOps(s.metadataTopic(t)))
			}
		}
		return resp, nil
	}
	allowCreate := rc.version() < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		var t *topicMeta
		var ok bool
		if rt.Topic == nil {
			t, ok = s.cache.topicByID(rt.TopicID)
			if !ok || len(t.partitions) == 0 {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = authorizedOperationsOmitted
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		} else {
			t, ok = s.cache.topic(*rt.Topic)
			ok = ok && len(t.partitions) > 0 // see the doc comment: not yet known here
		}
		name := ""
		if ok {
			name = t.name
		} else {
			name = *rt.Topic
		}
		if !rc.authorize(opDescribe, resTopic, name) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			mt.AuthorizedOperations = authorizedOperationsOmitted
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if ok {
			resp.Topics = append(resp.Topics, withOps(s.metadataTopic(t)))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &name
		mt.AuthorizedOperations = authorizedOperationsOmitted
		if allowCreate && s.cfg.AutoCreateTopicsEnable && validateTopicName(name) == nil && !rc.mayCreateTopic(name) {
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		} else {
			mt.ErrorCode = s.autoCreate(rc, name, allowCreate)
		}
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
