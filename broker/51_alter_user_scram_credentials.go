package broker

// AlterUserScramCredentials (key 51), version 0.
//
// Upsertions carry the salt and the salted password (the client ran PBKDF2); the broker
// derives StoredKey and ServerKey and writes /config/users/<user> with a change
// notification, keeping the user's other (quota) entries. Per user, as Kafka's
// ZkAdminManager: a user altered twice (same mechanism twice, or both deleted and upserted)
// DUPLICATE_RESOURCE; an unknown mechanism UNSUPPORTED_SASL_MECHANISM; fewer than 4096 or
// more than 16384 iterations, an empty name, salt or salted password
// UNACCEPTABLE_CREDENTIAL; deleting a credential that does not exist RESOURCE_NOT_FOUND.
// Needs ALTER on the cluster when the authorizer is on.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth"
)

func (s *Server) handleAlterUserSCRAMCredentials(rc *requestContext, req *kmsg.AlterUserSCRAMCredentialsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type change struct {
		upserts map[string]auth.ScramCredential
		deletes []string
		err     error
	}
	var order []string
	changes := map[string]*change{}
	get := func(user string) *change {
		c, ok := changes[user]
		if !ok {
			c = &change{upserts: map[string]auth.ScramCredential{}}
			changes[user] = c
			order = append(order, user)
		}
		return c
	}
	seen := map[[2]string]bool{}
	dup := func(user, mech string) bool {
		k := [2]string{user, mech}
		d := seen[k]
		seen[k] = true
		return d
	}
	fail := func(c *change, e *kerr.Error, msg string) {
		if c.err == nil {
			c.err = &apiError{e, msg}
		}
	}
	// check validates what deletions and upsertions share: the name, the mechanism, and
	// that the user's mechanism is altered once.
	check := func(c *change, name string, mechType int8) (string, bool) {
		mech, ok := auth.ScramMechanismByType(mechType)
		switch {
		case name == "":
			fail(c, kerr.UnacceptableCredential, "Username must not be empty")
		case !ok:
			fail(c, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		case dup(name, mech):
			fail(c, kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
		default:
			return mech, true
		}
		return "", false
	}
	for _, d := range req.Deletions {
		c := get(d.Name)
		if mech, ok := check(c, d.Name, d.Mechanism); ok {
			c.deletes = append(c.deletes, mech)
		}
	}
	for _, u := range req.Upsertions {
		c := get(u.Name)
		mech, ok := check(c, u.Name, u.Mechanism)
		switch {
		case !ok:
		case u.Iterations < auth.ScramMinIterations:
			fail(c, kerr.UnacceptableCredential, "Too few iterations")
		case u.Iterations > auth.ScramMaxIterations:
			fail(c, kerr.UnacceptableCredential, "Too many iterations")
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			fail(c, kerr.UnacceptableCredential, "Salt and salted password must not be empty")
		default:
			cred, err := auth.CredentialFromSalted(mech, u.SaltedPassword, u.Salt, int(u.Iterations))
			if err != nil {
				fail(c, kerr.UnacceptableCredential, err.Error())
				continue
			}
			c.upserts[mech] = cred
		}
	}
	authorized := rc.authorizeCluster(opAlter)
	for _, user := range order {
		c := changes[user]
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		err := c.err
		switch {
		case !authorized:
			err = kerr.ClusterAuthorizationFailed
		case err == nil:
			err = s.alterUserCredentials(rc, user, c.upserts, c.deletes)
		}
		if err != nil {
			r.ErrorCode, r.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

// alterUserCredentials applies one user's changes to /config/users/<user>.
func (s *Server) alterUserCredentials(rc *requestContext, user string, upserts map[string]auth.ScramCredential, deletes []string) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	ctx := rc.ctx()
	cfg, err := s.meta.UserConfig(ctx, user)
	if err != nil {
		return err
	}
	for _, m := range deletes {
		if _, ok := cfg[m]; !ok {
			return &apiError{kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist"}
		}
		delete(cfg, m)
	}
	for m, c := range upserts {
		cfg[m] = c.String()
	}
	if err := s.meta.SetUserConfig(ctx, user, cfg); err != nil {
		return err
	}
	rc.conn.logger.Info().Str("user", user).Int("upserted", len(upserts)).Int("deleted", len(deletes)).
		Str("principal", rc.conn.principal).Msg("SCRAM credentials changed")
	return s.reloadUser(ctx, user)
}
