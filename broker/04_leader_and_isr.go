package broker

// LeaderAndIsr (key 4), versions 2-7: the controller tells this broker which partitions it
// leads and which it follows (cluster mode; the controller sends v6).
//
//   - A request from an older controller epoch than one already seen gets
//     STALE_CONTROLLER_EPOCH; one addressed to an older broker epoch (a previous registration
//     of this broker) gets STALE_BROKER_EPOCH. A partition state whose leader epoch is not
//     newer than the one this broker holds is refused for that partition with
//     STALE_CONTROLLER_EPOCH and changes nothing, as Kafka's ReplicaManager refuses it (a
//     controller failover resends every state with the same epochs).
//   - Leader: the partition's log is opened (created when new), the new epoch is recorded at
//     its log end, and it serves produce and fetch from now on; its follower fetcher stops.
//     Follower: the replica fetcher for the leader takes it, reconciling its log with the
//     leader's before it fetches (replica_fetcher.go). For __consumer_offsets, the group
//     coordinator loads or resigns the partition; for __transaction_state, the transaction
//     coordinator (with the leader epoch as its coordinator epoch).

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/log"
)

func (s *Server) handleLeaderAndISR(rc *requestContext, req *kmsg.LeaderAndISRRequest) (kmsg.Response, error) {
	if denied := rc.interBrokerDenied(req); denied != nil {
		return denied, nil
	}
	resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)
	if code := s.checkControllerRequest(req.ControllerEpoch, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	for _, ll := range req.LiveLeaders {
		s.cache.addBroker(brokerMeta{id: ll.BrokerID, host: ll.Host, port: ll.Port})
	}
	for _, ts := range req.TopicStates {
		rt := kmsg.NewLeaderAndISRResponseTopic()
		rt.TopicID = ts.TopicID
		tc, overrides := s.topicConfigFor(rc.ctx(), ts.Topic, ts.TopicID)
		for _, ps := range ts.PartitionStates {
			rp := kmsg.NewLeaderAndISRResponseTopicPartition()
			rp.Topic, rp.Partition = ts.Topic, ps.Partition
			if err := s.applyLeaderAndISR(ts.Topic, ts.TopicID, tc, ps); err != nil {
				rp.ErrorCode = errorCode(err)
				ev := rc.conn.logger.Error()
				switch rp.ErrorCode {
				case kerr.UnknownServerError.Code:
					rp.ErrorCode = kerr.KafkaStorageError.Code
				case kerr.StaleControllerEpoch.Code:
					ev = rc.conn.logger.Warn()
					if errors.Is(err, errSameLeaderEpoch) {
						ev = rc.conn.logger.Debug()
					}
				}
				ev.Err(err).Str("topic", ts.Topic).Int32("partition", ps.Partition).Int32("epoch", ps.LeaderEpoch).
					Int32("controller_epoch", req.ControllerEpoch).Msg("applying LeaderAndIsr")
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		s.ensureTopicInCache(ts.Topic, ts.TopicID, overrides, tc)
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// checkControllerRequest fences requests from stale controllers or for a stale registration.
// A single node runs no controller and takes none of its requests.
func (s *Server) checkControllerRequest(controllerEpoch int32, brokerEpoch int64) int16 {
	if !s.clustered() {
		s.logger.Warn().Msg("controller request refused: this broker runs without zookeeper.connect")
		return kerr.StaleControllerEpoch.Code
	}
	for {
		seen := s.ctrlEpochSeen.Load()
		if controllerEpoch < seen {
			return kerr.StaleControllerEpoch.Code
		}
		if s.ctrlEpochSeen.CompareAndSwap(seen, controllerEpoch) {
			break
		}
	}
	if brokerEpoch != -1 && brokerEpoch < s.brokerEpoch.Load() {
		return kerr.StaleBrokerEpoch.Code
	}
	return 0
}

// applyLeaderAndISR makes this broker leader or follower of one partition.
func (s *Server) applyLeaderAndISR(topic string, id [16]byte, tc config.TopicConfig, ps kmsg.LeaderAndISRRequestTopicPartition) error {
	tp := log.TopicPartition{Topic: topic, Partition: ps.Partition}
	if !slices.Contains(ps.Replicas, s.cfg.BrokerID) {
		return fmt.Errorf("%w: broker %d is not a replica of %s-%d", kerr.UnknownTopicOrPartition, s.cfg.BrokerID, topic, ps.Partition)
	}
	st := leaderState{leader: ps.Leader, leaderEpoch: ps.LeaderEpoch, partitionEpoch: ps.ZKVersion, replicas: ps.Replicas, isr: ps.ISR}
	if ps.Leader == s.cfg.BrokerID {
		if _, err := s.rm.makeLeader(tp, id, tc, st); err != nil {
			return err
		}
		s.rm.fetchers.unfollow(tp) // an answer still in flight finds the partition leading and is dropped
		if topic == offsetsTopic && s.groups != nil {
			s.groups.BecomeLeader(ps.Partition)
		}
		if topic == txnTopic && s.txns != nil {
			s.txns.BecomeLeader(ps.Partition, ps.LeaderEpoch)
		}
		return nil
	}
	p, err := s.rm.makeFollower(tp, id, tc, st)
	if err != nil {
		return err
	}
	if topic == offsetsTopic && s.groups != nil {
		s.groups.Resign(ps.Partition)
	}
	if topic == txnTopic && s.txns != nil {
		s.txns.Resign(ps.Partition)
	}
	if ps.Leader >= 0 {
		s.rm.fetchers.follow(ps.Leader, p)
	} else {
		s.rm.fetchers.unfollow(tp)
	}
	return nil
}

// topicConfigFor returns the effective config of topic id: from the cache, else from
// ZooKeeper. A cached topic of the same name but another id is one deleted since and
// created again; its overrides are not the new topic's.
func (s *Server) topicConfigFor(ctx context.Context, topic string, id [16]byte) (config.TopicConfig, map[string]string) {
	if t, ok := s.cache.topic(topic); ok && t.id == id {
		return t.config, t.overrides
	}
	overrides, err := s.meta.TopicConfig(ctx, topic)
	if err != nil {
		overrides = nil
	}
	tc, err := s.config().ResolveTopic(overrides)
	if err != nil {
		s.logger.Warn().Err(err).Str("topic", topic).Msg("stored topic config is invalid; using broker defaults")
		tc, _ = s.config().ResolveTopic(nil)
	}
	return tc, overrides
}

// ensureTopicInCache adds a topic the controller told us about before UpdateMetadata did.
func (s *Server) ensureTopicInCache(topic string, id [16]byte, overrides map[string]string, tc config.TopicConfig) {
	s.cache.swap(nil, &topicMeta{name: topic, id: id, internal: isInternalTopic(topic), overrides: overrides, config: tc})
}
