package broker

// UpdateMetadata (key 6), versions 5-8 (the controller sends v7): the live brokers, the
// controller and partition states, which Metadata, FindCoordinator and the replica fetchers
// answer from. A partition with leader -2 belongs to a topic being deleted: the topic leaves
// the cache.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

const leaderDuringDelete = -2

func (s *Server) handleUpdateMetadata(rc *requestContext, req *kmsg.UpdateMetadataRequest) (kmsg.Response, error) {
	if denied := rc.interBrokerDenied(req); denied != nil {
		return denied, nil
	}
	resp := req.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if code := s.checkControllerRequest(req.ControllerEpoch, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	brokers := make([]brokerMeta, 0, len(req.LiveBrokers))
	for _, lb := range req.LiveBrokers {
		b := brokerMeta{id: lb.ID, host: lb.Host, port: lb.Port, rack: lb.Rack}
		for i, e := range lb.Endpoints {
			if i == 0 || e.ListenerName == s.cfg.InterBrokerListenerName {
				b.host, b.port = e.Host, e.Port
			}
			b.eps = append(b.eps, brokerEndpoint{listener: e.ListenerName, host: e.Host, port: e.Port})
		}
		brokers = append(brokers, b)
	}
	s.cache.setBrokers(brokers, req.ControllerID)
	for _, ts := range req.TopicStates {
		deleting := false
		for _, ps := range ts.PartitionStates {
			if ps.Leader == leaderDuringDelete {
				deleting = true
			}
		}
		if deleting {
			s.cache.remove(ts.Topic)
			s.metrics.ForgetTopic(ts.Topic)
			continue
		}
		for {
			var nt topicMeta
			t, ok := s.cache.topic(ts.Topic)
			if ok && t.id == ts.TopicID {
				nt = *t
				nt.partitions = append([]partitionMeta(nil), t.partitions...)
			} else {
				tc, overrides := s.topicConfigFor(rc.ctx(), ts.Topic, ts.TopicID)
				nt = topicMeta{name: ts.Topic, id: ts.TopicID, internal: isInternalTopic(ts.Topic), overrides: overrides, config: tc}
			}
			for _, ps := range ts.PartitionStates {
				for int(ps.Partition) >= len(nt.partitions) {
					nt.partitions = append(nt.partitions, partitionMeta{leader: -1})
				}
				nt.partitions[ps.Partition] = partitionMeta{leader: ps.Leader, leaderEpoch: ps.LeaderEpoch, replicas: ps.Replicas, isr: ps.ISR, offline: ps.OfflineReplicas}
			}
			// A config change or LeaderAndIsr that published the topic since it was
			// read makes this copy stale: read it again.
			if s.cache.swap(t, &nt) {
				break
			}
		}
	}
	return resp, nil
}
