package broker

// SCRAM credentials: /config/users/<user> holds each user's credentials as Kafka's
// ScramCredentialUtils encodes them. They are read at start and again after every config
// change notification (/config/changes), so a change made on any broker, or by Kafka's
// kafka-configs.sh --zookeeper, applies everywhere without a restart.

import (
	"context"
	"time"

	"kbroker/broker/auth"
	"kbroker/zkmeta"
)

// loadCredentials reads every user's SCRAM credentials into s.creds.
func (s *Server) loadCredentials(ctx context.Context) error {
	users, err := s.meta.Users(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, u := range users {
		seen[u] = true
		if err := s.reloadUser(ctx, u); err != nil {
			return err
		}
	}
	for _, u := range s.creds.Users() {
		if !seen[u] {
			s.creds.SetUser(u, nil)
		}
	}
	return nil
}

// reloadUser reads one user's credentials; a credential that does not parse is left out
// with a warning (naming the user and mechanism only).
func (s *Server) reloadUser(ctx context.Context, user string) error {
	cfg, err := s.meta.UserConfig(ctx, user)
	if err != nil {
		return err
	}
	creds, perr := auth.UserCredentialsFromConfig(cfg)
	if perr != nil {
		s.logger.Warn().Err(perr).Str("user", user).Msg("ignoring unreadable SCRAM credential")
	}
	s.creds.SetUser(user, creds)
	return nil
}

// userChangeLoop reloads the credentials whenever a config change notification appears.
func (s *Server) userChangeLoop() {
	for s.ctx.Err() == nil {
		_, _, ch, err := s.store.ChildrenW(s.ctx, zkmeta.ConfigChangesPath)
		if err == nil {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			err = s.loadCredentials(ctx)
			cancel()
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.logger.Warn().Err(err).Msg("reading SCRAM credentials")
			ch = nil
		}
		select {
		case <-s.ctx.Done():
			return
		case <-ch:
		case <-time.After(time.Minute): // also a retry after an error
		}
	}
}
