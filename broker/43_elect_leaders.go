package broker

// ElectLeaders (key 43), versions 0-2 (kafka-leader-election.sh, kadm), served by the active
// controller: preferred (0) or unclean (1, v1+) elections. Other brokers answer
// NOT_CONTROLLER; a single node (no controller campaign) has nothing to elect and answers
// ELECTION_NOT_NEEDED for every named partition.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleElectLeaders(rc *requestContext, req *kmsg.ElectLeadersRequest) (kmsg.Response, error) {
	if !rc.authorizeCluster(opAlter) {
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	if s.ctrl != nil {
		return s.ctrl.ElectLeaders(rc.ctx(), req), nil
	}
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p
			rp.ErrorCode = kerr.ElectionNotNeeded.Code
			if !s.knownPartition(t.Topic, p) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
