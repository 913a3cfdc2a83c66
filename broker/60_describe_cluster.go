package broker

// DescribeCluster (key 60), versions 0-1.
//
//   - The live brokers, the cluster id and the controller id, from the metadata cache.
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
	resp.ControllerID = s.cache.controller()
	resp.ClusterAuthorizedOperations = authorizedOperationsOmitted
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = 0
		if rc.authorizeCluster(opDescribe) {
			resp.ClusterAuthorizedOperations = rc.authorizedOps(resCluster, clusterResource)
		}
	}
	for _, lb := range s.cache.liveBrokers() {
		host, port, ok := lb.endpoint(rc.conn.lsn.name)
		if !ok {
			continue
		}
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = lb.id, host, port, lb.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp, nil
}
