package broker

// DescribeAcls (key 29), versions 0-3.
//
// Needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED). Without an authorizer the
// API is still advertised and answers SECURITY_DISABLED, as Kafka does (MirrorMaker 2 calls
// it at every ACL sync). The bindings matching the filter come grouped by resource pattern.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/acl"
)

func (s *Server) handleDescribeACLs(rc *requestContext, req *kmsg.DescribeACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	switch {
	case s.authz == nil:
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = kmsg.StringPtr("No Authorizer is configured on the broker")
		return resp, nil
	case !rc.authorizeCluster(opDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	case req.ResourcePatternType == kmsg.ACLResourcePatternTypeUnknown || req.ResourceType == kmsg.ACLResourceTypeUnknown ||
		req.Operation == kmsg.ACLOperationUnknown || req.PermissionType == kmsg.ACLPermissionTypeUnknown:
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = kmsg.StringPtr("The filter contains UNKNOWN elements")
		return resp, nil
	}
	f := acl.Filter{ResourceType: req.ResourceType, ResourceName: req.ResourceName, Pattern: req.ResourcePatternType,
		Principal: req.Principal, Host: req.Host, Operation: req.Operation, Permission: req.PermissionType}
	type key struct {
		rt      kmsg.ACLResourceType
		name    string
		pattern kmsg.ACLResourcePatternType
	}
	at := map[key]int{}
	for _, b := range s.authz.Bindings() {
		if !f.Matches(b) {
			continue
		}
		k := key{b.ResourceType, b.ResourceName, b.Pattern}
		i, ok := at[k]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = b.ResourceType, b.ResourceName, b.Pattern
			resp.Resources = append(resp.Resources, r)
			i = len(resp.Resources) - 1
			at[k] = i
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, a)
	}
	return resp, nil
}
