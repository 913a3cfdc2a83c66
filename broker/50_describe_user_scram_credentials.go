package broker

// DescribeUserScramCredentials (key 50), version 0.
//
// As Kafka's ZkAdminManager: no users (null or empty) lists every user with a credential;
// a named user without one is RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE.
// Only the mechanism and iterations are told, never salt or keys. Needs DESCRIBE on the
// cluster when the authorizer is on (CLUSTER_AUTHORIZATION_FAILED otherwise).

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth"
)

func (s *Server) handleDescribeUserSCRAMCredentials(rc *requestContext, req *kmsg.DescribeUserSCRAMCredentialsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !rc.authorizeCluster(opDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	var users []string
	if len(req.Users) == 0 {
		users = s.creds.Users()
		sort.Strings(users)
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
		if count[u.Name] == 1 {
			users = append(users, u.Name)
		}
	}
	for _, u := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		creds := s.creds.User(u)
		switch {
		case count[u] > 1:
			r.ErrorCode = kerr.DuplicateResource.Code
			r.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
		case len(creds) == 0:
			r.ErrorCode = kerr.ResourceNotFound.Code
			r.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + u)
		}
		if r.ErrorCode == 0 {
			for _, m := range auth.ScramMechanisms {
				if c, ok := creds[m]; ok {
					ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
					ci.Mechanism, ci.Iterations = auth.ScramMechanismType(m), int32(c.Iterations)
					r.CredentialInfos = append(r.CredentialInfos, ci)
				}
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}
