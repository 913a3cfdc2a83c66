package broker

// AlterPartitionReassignments (key 45), version 0 (kafka-reassign-partitions.sh --execute and
// --cancel, kadm), served by the active controller (broker/controller/reassign.go): moves the
// replicas of partitions to target brokers, replaces an unfinished reassignment, or cancels
// one (null replicas). Other brokers answer NOT_CONTROLLER. A single node has only itself to
// assign: its own id is already the assignment, anything else names brokers that are not
// alive (INVALID_REPLICA_ASSIGNMENT), and there is never a reassignment to cancel.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAlterPartitionReassignments(rc *requestContext, req *kmsg.AlterPartitionAssignmentsRequest) (kmsg.Response, error) {
	if !rc.authorizeCluster(opAlter) {
		return answerWithCode(req, kerr.ClusterAuthorizationFailed.Code), nil
	}
	if s.ctrl != nil {
		return s.ctrl.AlterPartitionReassignments(rc.ctx(), req), nil
	}
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			var msg string
			switch {
			case !s.knownPartition(t.Topic, p.Partition):
				rp.ErrorCode, msg = kerr.UnknownTopicOrPartition.Code, "The partition does not exist."
			case p.Replicas == nil:
				rp.ErrorCode, msg = kerr.NoReassignmentInProgress.Code, "No reassignment in progress for this partition."
			case !slices.Equal(p.Replicas, []int32{s.cfg.BrokerID}):
				rp.ErrorCode = kerr.InvalidReplicaAssignment.Code
				msg = fmt.Sprintf("Replica assignment has brokers that are not alive. Replica list: %v, live broker list: [%d]", p.Replicas, s.cfg.BrokerID)
			}
			if rp.ErrorCode != 0 {
				rp.ErrorMessage = &msg
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
