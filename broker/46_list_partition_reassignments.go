package broker

// ListPartitionReassignments (key 46), version 0 (kafka-reassign-partitions.sh --verify,
// kadm), served by the active controller: the partitions being reassigned, with their full
// replica set and the replicas being added and removed, of the named topics or of all.
// Other brokers answer NOT_CONTROLLER; a single node has none.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleListPartitionReassignments(rc *requestContext, req *kmsg.ListPartitionReassignmentsRequest) (kmsg.Response, error) {
	if !rc.authorizeCluster(opDescribe) {
		return answerWithCode(req, kerr.ClusterAuthorizationFailed.Code), nil
	}
	if s.ctrl != nil {
		return s.ctrl.ListPartitionReassignments(rc.ctx(), req), nil
	}
	return req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse), nil
}
