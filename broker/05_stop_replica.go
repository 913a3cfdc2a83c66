package broker

// StopReplica (key 5), versions 1-4 (the controller sends v3): stop following or leading
// partitions; with delete set (topic deletion, epoch -2) their data is removed.
//
//   - Fenced like LeaderAndIsr (STALE_CONTROLLER_EPOCH, STALE_BROKER_EPOCH). A partition whose
//     leader epoch in the request (v3+) is older than the one held gets FENCED_LEADER_EPOCH
//     and stays; -2 (topic deletion) and -1 (no epoch) always apply, as in Kafka.
//   - Without delete the partition stays on disk and stops serving (NOT_LEADER_OR_FOLLOWER)
//     until a LeaderAndIsr gives it a role again.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
)

// Leader epochs of StopReplica that bypass the epoch check (Kafka's LeaderAndIsr sentinels).
const (
	epochDuringDelete int32 = -2
	noLeaderEpoch     int32 = -1
)

func (s *Server) handleStopReplica(rc *requestContext, req *kmsg.StopReplicaRequest) (kmsg.Response, error) {
	if denied := rc.interBrokerDenied(req); denied != nil {
		return denied, nil
	}
	resp := req.ResponseKind().(*kmsg.StopReplicaResponse)
	if code := s.checkControllerRequest(req.ControllerEpoch, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	stop := func(topic string, partition int32, del bool, epoch int32) {
		tp := log.TopicPartition{Topic: topic, Partition: partition}
		rp := kmsg.NewStopReplicaResponsePartition()
		rp.Topic, rp.Partition = topic, partition
		if p, ok := s.rm.get(topic, partition); ok && epoch != epochDuringDelete && epoch != noLeaderEpoch && epoch < p.leaderEpoch.Load() {
			rp.ErrorCode = kerr.FencedLeaderEpoch.Code
			rc.conn.logger.Info().Str("topic", topic).Int32("partition", partition).Int32("epoch", epoch).
				Int32("current_epoch", p.leaderEpoch.Load()).Msg("StopReplica with an older leader epoch ignored")
			resp.Partitions = append(resp.Partitions, rp)
			return
		}
		if s.rm.fetchers != nil {
			s.rm.fetchers.unfollow(tp)
		}
		if topic == offsetsTopic && s.groups != nil {
			s.groups.Resign(partition)
		}
		if topic == txnTopic && s.txns != nil {
			s.txns.Resign(partition)
		}
		if del {
			if err := s.rm.removePartition(tp); err != nil {
				rp.ErrorCode = errorCode(err)
				rc.conn.logger.Error().Err(err).Str("topic", topic).Int32("partition", partition).Msg("deleting partition")
			}
		} else if p, ok := s.rm.get(topic, partition); ok {
			p.becomeFollower(leaderState{leader: -1, leaderEpoch: p.leaderEpoch.Load(), partitionEpoch: p.partitionEpoch})
		}
		resp.Partitions = append(resp.Partitions, rp)
	}
	for _, t := range req.Topics {
		if rc.version() >= 3 {
			for _, ps := range t.PartitionStates {
				stop(t.Topic, ps.Partition, ps.Delete, ps.LeaderEpoch)
			}
		} else {
			for _, p := range t.Partitions {
				stop(t.Topic, p, req.DeletePartitions, noLeaderEpoch)
			}
		}
	}
	return resp, nil
}
