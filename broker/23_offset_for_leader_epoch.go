package broker

// OffsetForLeaderEpoch (key 23), versions 0-4: the end offset of a leader epoch on this
// leader, from the log's leader-epoch cache. Followers truncating after a leader change and
// consumers validating their position (KIP-320) ask it.
//
//   - The largest epoch <= the requested one and the start offset of the epoch after it (the
//     log end for the latest epoch); -1/-1 when the epoch is unknown.
//   - v2+ current leader epoch checked like Fetch; v3+ replica id (followers may ask their leader).
//   - Only the leader answers: NOT_LEADER_OR_FOLLOWER elsewhere.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetForLeaderEpoch(rc *requestContext, req *kmsg.OffsetForLeaderEpochRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	clusterOK := req.ReplicaID < 0 || rc.authorizeCluster(opClusterAction)
	for _, rt := range req.Topics {
		topicOK := clusterOK && (req.ReplicaID >= 0 || rc.authorize(opDescribe, resTopic, rt.Topic))
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			if !topicOK {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if err := s.offsetForEpoch(rc.version(), rt.Topic, rp, &sp); err != nil {
				sp.ErrorCode = errorCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (s *Server) offsetForEpoch(version int16, topic string, rp kmsg.OffsetForLeaderEpochRequestTopicPartition, sp *kmsg.OffsetForLeaderEpochResponseTopicPartition) error {
	p, ok := s.rm.get(topic, rp.Partition)
	if !ok || !p.isLeader.Load() {
		if s.knownPartition(topic, rp.Partition) {
			return fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, rp.Partition)
		}
		return fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, rp.Partition)
	}
	if version >= 2 {
		if err := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); err != nil {
			return err
		}
	}
	sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
	return nil
}
