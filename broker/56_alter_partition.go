package broker

// AlterPartition (key 56), versions 0-3, served by the active controller: a partition leader
// proposes a new ISR (package controller checks and writes it). Other brokers answer
// NOT_CONTROLLER.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAlterPartition(rc *requestContext, req *kmsg.AlterPartitionRequest) (kmsg.Response, error) {
	if denied := rc.interBrokerDenied(req); denied != nil {
		return denied, nil
	}
	if s.ctrl == nil {
		resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctrl.AlterPartition(rc.ctx(), req), nil
}
