package broker

// DescribeProducers (key 61), version 0 (KIP-664, kafka-transactions.sh describe-producers
// and find-hanging): the producers a partition's leader knows, with epoch, last sequence,
// last timestamp, coordinator epoch and the start offset of the open transaction (-1 when
// none). NOT_LEADER_OR_FOLLOWER where this broker does not lead the partition,
// UNKNOWN_TOPIC_OR_PARTITION for an unknown one.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeProducers(rc *requestContext, req *kmsg.DescribeProducersRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, part := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = part
			p, ok := s.rm.get(t.Topic, part)
			switch {
			case !rc.authorize(opRead, resTopic, t.Topic):
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !ok && !s.knownPartition(t.Topic, part):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !ok || !p.isLeader.Load():
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				producers := p.log.Producers()
				sort.Slice(producers, func(i, j int) bool { return producers[i].ProducerID < producers[j].ProducerID })
				for _, pi := range producers {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch = pi.ProducerID, int32(pi.ProducerEpoch)
					ap.LastSequence, ap.LastTimestamp = pi.LastSequence, pi.LastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.CoordinatorEpoch, pi.TxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
