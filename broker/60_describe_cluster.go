package broker

// DescribeCluster (key 60), versions 0-1.
//
//   - The live brokers, the cluster id and the controller id (this broker in single-node mode).
//   - v1 endpoint_type: 1 (brokers) is answered; 2 (controllers) gets UNSUPPORTED_ENDPOINT_TYPE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeCluster(rc *requestContext, req *kmsg.DescribeClusterRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = 1
	if rc.version() >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp, nil
	}
	resp.ClusterID = s.clusterID
	resp.ControllerID = s.cfg.BrokerID
	resp.ClusterAuthorizedOperations = authorizedOperationsOmitted
	host, port := s.advertised()
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.BrokerID, host, port
	if s.cfg.BrokerRack != "" {
		rack := s.cfg.BrokerRack
		b.Rack = &rack
	}
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	return resp, nil
}
