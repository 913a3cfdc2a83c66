package broker

// DeleteAcls (key 31), versions 0-3.
//
// Needs ALTER on the cluster. Each filter removes the bindings it matches (MATCH patterns
// included) and lists them in its result. SECURITY_DISABLED without an authorizer.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/acl"
	"kbroker/zkmeta"
)

type zkEntry = zkmeta.ACLEntry

func (s *Server) handleDeleteACLs(rc *requestContext, req *kmsg.DeleteACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	authorized := s.authz != nil && rc.authorizeCluster(opAlter)
	for _, rf := range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		switch {
		case s.authz == nil:
			r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, kmsg.StringPtr("No Authorizer is configured on the broker")
		case !authorized:
			r.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		default:
			f := acl.Filter{ResourceType: rf.ResourceType, ResourceName: rf.ResourceName, Pattern: rf.ResourcePatternType,
				Principal: rf.Principal, Host: rf.Host, Operation: rf.Operation, Permission: rf.PermissionType}
			byResource := map[zkmeta.ACLResource][]zkEntry{}
			var matched []acl.Binding
			for _, b := range s.authz.Bindings() {
				if f.Matches(b) {
					res, e := acl.ToZK(b)
					byResource[res] = append(byResource[res], e)
					matched = append(matched, b)
				}
			}
			failed := map[zkmeta.ACLResource]error{}
			for res, entries := range byResource {
				if err := s.changeACLs(rc.ctx(), res, nil, entries); err != nil {
					failed[res] = err
				}
			}
			for _, b := range matched {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = b.ResourceType, b.ResourceName, b.Pattern
				m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
				res, _ := acl.ToZK(b)
				if err := failed[res]; err != nil {
					m.ErrorCode, m.ErrorMessage = errorCode(err), errorMessage(err)
				}
				r.MatchingACLs = append(r.MatchingACLs, m)
			}
			if len(matched) > 0 {
				rc.conn.logger.Info().Str("principal", rc.conn.principal).Int("acls", len(matched)).Msg("ACLs deleted")
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}
