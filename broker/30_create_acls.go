package broker

// CreateAcls (key 30), versions 0-3.
//
// Needs ALTER on the cluster; each creation is checked as Kafka's AclAuthorizer checks it
// (INVALID_REQUEST with Kafka's message for an empty name, the wrong cluster name, a
// principal without a type, a prefixed wildcard) and stored in ZooKeeper under the
// resource pattern's znode with a change notification. SECURITY_DISABLED without an
// authorizer.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/acl"
)

func (s *Server) handleCreateACLs(rc *requestContext, req *kmsg.CreateACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	authorized := s.authz != nil && rc.authorizeCluster(opAlter)
	for _, c := range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		b := acl.Binding{ResourceType: c.ResourceType, ResourceName: c.ResourceName, Pattern: c.ResourcePatternType,
			Principal: c.Principal, Host: c.Host, Operation: c.Operation, Permission: c.PermissionType}
		var err error
		switch reason := acl.Valid(b); {
		case s.authz == nil:
			err = &apiError{kerr.SecurityDisabled, "No Authorizer is configured on the broker"}
		case !authorized:
			err = kerr.ClusterAuthorizationFailed
		case reason != "":
			err = &apiError{kerr.InvalidRequest, reason}
		default:
			res, entry := acl.ToZK(b)
			err = s.changeACLs(rc.ctx(), res, []zkEntry{entry}, nil)
			if err == nil {
				rc.conn.logger.Info().Str("principal", rc.conn.principal).Str("acl_principal", b.Principal).Str("resource_type", b.ResourceType.String()).
					Str("resource", b.ResourceName).Str("pattern", b.Pattern.String()).Str("operation", b.Operation.String()).
					Str("permission", b.Permission.String()).Str("host", b.Host).Msg("ACL created")
			}
		}
		if err != nil {
			r.ErrorCode, r.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}
