package broker

// ACL storage: with authorizer.class.name set, the bindings live in ZooKeeper in Kafka's
// layout (zkmeta/acls.go). They are read at start and again after every change notification
// under /kafka-acl-changes or /kafka-acl-extended-changes, so a change made on any broker
// (or by kafka-acls.sh --authorizer-properties zookeeper.connect=...) applies everywhere on
// the next request.

import (
	"context"
	"errors"
	"time"

	"kbroker/broker/acl"
	"kbroker/zkmeta"
)

// startAuthorizer builds the authorizer and loads the bindings.
func (s *Server) startAuthorizer(ctx context.Context) error {
	if !s.cfg.Security.AuthorizerEnabled() {
		return nil
	}
	if err := s.meta.EnsureACLPaths(ctx); err != nil {
		return err
	}
	s.authz = acl.New(s.cfg.Security.SuperUsers, s.cfg.Security.AllowEveryoneIfNoACLFound, s.logger.With().Str("component", "authorizer").Logger())
	return s.loadACLs(ctx)
}

// loadACLs reads every binding into the authorizer.
func (s *Server) loadACLs(ctx context.Context) error {
	stored, err := s.meta.AllACLs(ctx)
	if err != nil {
		return err
	}
	var bindings []acl.Binding
	for r, entries := range stored {
		for _, e := range entries {
			b, err := acl.FromZK(r, e)
			if err != nil {
				s.logger.Warn().Err(err).Str("resource_type", r.Type).Str("resource", r.Name).Msg("ignoring unreadable ACL")
				continue
			}
			bindings = append(bindings, b)
		}
	}
	s.authz.Load(bindings)
	return nil
}

// aclChangeLoop reloads the bindings on every ACL change notification.
func (s *Server) aclChangeLoop() {
	for s.ctx.Err() == nil {
		_, _, lit, err1 := s.store.ChildrenW(s.ctx, zkmeta.ACLChangesPath)
		_, _, ext, err2 := s.store.ChildrenW(s.ctx, zkmeta.ACLExtendedChangesPath)
		err := errors.Join(err1, err2)
		if err == nil {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			err = s.loadACLs(ctx)
			cancel()
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.logger.Warn().Err(err).Msg("reading ACLs")
		}
		select {
		case <-s.ctx.Done():
			return
		case <-lit:
		case <-ext:
		case <-time.After(time.Minute): // also a retry after an error
		}
	}
}

// changeACLs applies add and remove to the stored bindings of one resource pattern, with
// a conditional write retried on a concurrent change, then reloads the authorizer.
func (s *Server) changeACLs(ctx context.Context, r zkmeta.ACLResource, add, remove []zkmeta.ACLEntry) error {
	for attempt := 0; ; attempt++ {
		cur, version, err := s.meta.ResourceACLs(ctx, r)
		if err != nil {
			return err
		}
		next := make([]zkmeta.ACLEntry, 0, len(cur)+len(add))
		for _, e := range cur {
			drop := false
			for _, d := range remove {
				drop = drop || d == e
			}
			if !drop {
				next = append(next, e)
			}
		}
		for _, a := range add {
			dup := false
			for _, e := range next {
				dup = dup || e == a
			}
			if !dup {
				next = append(next, a)
			}
		}
		err = s.meta.SetResourceACLs(ctx, r, next, version)
		if err == nil {
			return s.loadACLs(ctx)
		}
		if (!errors.Is(err, zkmeta.ErrBadVersion) && !errors.Is(err, zkmeta.ErrNodeExists) && !errors.Is(err, zkmeta.ErrNoNode)) || attempt >= 10 {
			return err
		}
	}
}
