package broker

// ControlledShutdown (key 7), versions 1-3, served by the active controller: a broker about to
// stop asks for its leadership to be moved (package controller). Other brokers answer
// NOT_CONTROLLER. Version 0 uses request header v0 and is not served.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleControlledShutdown(rc *requestContext, req *kmsg.ControlledShutdownRequest) (kmsg.Response, error) {
	if denied := rc.interBrokerDenied(req); denied != nil {
		return denied, nil
	}
	if s.ctrl == nil {
		resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctrl.ControlledShutdown(rc.ctx(), req), nil
}
