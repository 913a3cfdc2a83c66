package zkmeta

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Session is one session on an Embedded store; it implements Store. Its
// methods are safe for concurrent use.
type Session struct {
	db      *db
	id      atomic.Int64        // changes when Expire starts a new session; written under db.mu
	closed  bool                // guarded by db.mu
	watches map[*watch]struct{} // pending watches; guarded by db.mu
	events  *sessionEvents
}

// lockUsable locks the store and reports why s cannot be used, if so. On
// error the lock is not held.
func (s *Session) lockUsable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.db.mu.Lock()
	if s.closed || s.db.closed {
		s.db.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// write runs fn as one transaction and commits it.
func (s *Session) write(ctx context.Context, fn func(x *txn) error) error {
	if err := s.lockUsable(ctx); err != nil {
		return err
	}
	d := s.db
	x := d.begin()
	if err := fn(x); err != nil {
		x.rollback()
		d.mu.Unlock()
		return err
	}
	end, ds, err := d.commitLocked(x)
	d.mu.Unlock()
	return d.finish(end, ds, err)
}

// SessionID returns the session id, the EphemeralOwner of its ephemeral znodes.
func (s *Session) SessionID() int64 { return s.id.Load() }

// SessionEvents returns the channel of session state changes; see Store.
func (s *Session) SessionEvents() <-chan SessionEvent { return s.events.ch }

// Create creates a znode; see Store.
func (s *Session) Create(ctx context.Context, path string, data []byte, mode CreateMode) (string, error) {
	var created string
	err := s.write(ctx, func(x *txn) error {
		var err error
		created, err = x.create(path, data, mode, s.id.Load())
		return err
	})
	return created, err
}

// Set replaces a znode's data; see Store.
func (s *Session) Set(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	var st Stat
	err := s.write(ctx, func(x *txn) error {
		if err := x.set(path, data, version); err != nil {
			return err
		}
		st = s.db.tree.stat(s.db.tree.nodes[path])
		return nil
	})
	return st, err
}

// Delete deletes a znode; see Store.
func (s *Session) Delete(ctx context.Context, path string, version int32) error {
	return s.write(ctx, func(x *txn) error { return x.del(path, version) })
}

// Multi applies ops atomically; see Store.
func (s *Session) Multi(ctx context.Context, ops ...Op) error {
	return s.write(ctx, func(x *txn) error {
		for i, op := range ops {
			var err error
			switch o := derefOp(op).(type) {
			case CreateOp:
				_, err = x.create(o.Path, o.Data, o.Mode, s.id.Load())
			case SetOp:
				err = x.set(o.Path, o.Data, o.Version)
			case DeleteOp:
				err = x.del(o.Path, o.Version)
			case CheckOp:
				err = x.check(o.Path, o.Version)
			default:
				err = fmt.Errorf("%w: unknown op %T", ErrBadArguments, op)
			}
			if err != nil {
				return &OpError{Index: i, Op: op, Err: err}
			}
		}
		return nil
	})
}

// read runs fn under the store lock.
func (s *Session) read(ctx context.Context, path string, fn func(t *tree) error) error {
	if err := validatePath(path); err != nil {
		return err
	}
	if err := s.lockUsable(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	return fn(s.db.tree)
}

// Get returns a znode's data and Stat; see Store.
func (s *Session) Get(ctx context.Context, path string) ([]byte, Stat, error) {
	data, st, _, err := s.get(ctx, path, false)
	return data, st, err
}

// GetW is Get with a watch; see Store.
func (s *Session) GetW(ctx context.Context, path string) ([]byte, Stat, <-chan Event, error) {
	return s.get(ctx, path, true)
}

func (s *Session) get(ctx context.Context, path string, watch bool) ([]byte, Stat, <-chan Event, error) {
	var (
		data []byte
		st   Stat
		ch   <-chan Event
	)
	err := s.read(ctx, path, func(t *tree) error {
		n, err := t.get(path)
		if err != nil {
			return err
		}
		data, st = cloneBytes(n.data), t.stat(n)
		if watch {
			ch = s.db.watches.add(s, path, dataWatch)
		}
		return nil
	})
	return data, st, ch, err
}

// Exists reports whether a znode exists; see Store.
func (s *Session) Exists(ctx context.Context, path string) (bool, Stat, error) {
	ok, st, _, err := s.exists(ctx, path, false)
	return ok, st, err
}

// ExistsW is Exists with a watch; see Store.
func (s *Session) ExistsW(ctx context.Context, path string) (bool, Stat, <-chan Event, error) {
	return s.exists(ctx, path, true)
}

func (s *Session) exists(ctx context.Context, path string, watch bool) (bool, Stat, <-chan Event, error) {
	var (
		ok bool
		st Stat
		ch <-chan Event
	)
	err := s.read(ctx, path, func(t *tree) error {
		var n *node
		if n, ok = t.nodes[path]; ok {
			st = t.stat(n)
		}
		if watch {
			ch = s.db.watches.add(s, path, dataWatch)
		}
		return nil
	})
	return ok, st, ch, err
}

// Children returns the sorted child names; see Store.
func (s *Session) Children(ctx context.Context, path string) ([]string, Stat, error) {
	names, st, _, err := s.children(ctx, path, false)
	return names, st, err
}

// ChildrenW is Children with a watch; see Store.
func (s *Session) ChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error) {
	return s.children(ctx, path, true)
}

func (s *Session) children(ctx context.Context, path string, watch bool) ([]string, Stat, <-chan Event, error) {
	var (
		names []string
		st    Stat
		ch    <-chan Event
	)
	err := s.read(ctx, path, func(t *tree) error {
		n, err := t.get(path)
		if err != nil {
			return err
		}
		names, st = childrenOf(n), t.stat(n)
		if watch {
			ch = s.db.watches.add(s, path, childWatch)
		}
		return nil
	})
	return names, st, ch, err
}

// Close ends the session: its ephemeral znodes are deleted, its pending
// watches receive EventSessionExpired and its SessionEvents channel is
// closed. Closing twice returns nil.
func (s *Session) Close() error {
	d := s.db
	d.mu.Lock()
	if s.closed {
		d.mu.Unlock()
		return nil
	}
	s.closed = true
	expired, end, ds, err := s.endLocked()
	d.mu.Unlock()
	deliver(expired)
	s.events.close()
	return d.finish(end, ds, err)
}

// Expire ends the session as if ZooKeeper had expired it, and goes on with
// a new one, as the ZooKeeper store does: the ephemeral znodes of the old
// session are deleted, its pending watches receive EventSessionExpired,
// SessionEvents reports SessionExpired (old id) then SessionConnected (new
// id). It lets tests exercise the re-registration paths. On a closed
// session it does nothing.
func (s *Session) Expire() error {
	d := s.db
	d.mu.Lock()
	if s.closed || d.closed {
		d.mu.Unlock()
		return nil
	}
	old := s.id.Load()
	expired, end, ds, err := s.endLocked()
	d.nextSess++
	s.id.Store(d.nextSess)
	d.sessions[d.nextSess] = s
	d.mu.Unlock()
	deliver(expired)
	s.events.push(SessionEvent{State: SessionExpired, SessionID: old})
	err = d.finish(end, ds, err)
	s.events.push(SessionEvent{State: SessionConnected, SessionID: s.id.Load()})
	return err
}

// endLocked unregisters the current session id, takes its watches (to be
// delivered EventSessionExpired) and deletes its ephemeral znodes in one
// transaction, to be finished by the caller. The caller holds db.mu.
func (s *Session) endLocked() (expired []delivery, end int64, ds []delivery, err error) {
	d := s.db
	id := s.id.Load()
	delete(d.sessions, id)
	expired = d.watches.expire(s)
	x := d.begin()
	for _, p := range d.tree.ownedBy(id) {
		if err := x.del(p, -1); err != nil {
			x.rollback()
			return expired, 0, nil, err
		}
	}
	end, ds, err = d.commitLocked(x)
	return expired, end, ds, err
}

// derefOp turns the pointer forms of the ops into values; nil pointers
// become nil, which Multi rejects.
func derefOp(op Op) Op {
	switch o := op.(type) {
	case *CreateOp:
		if o != nil {
			return *o
		}
		return nil
	case *SetOp:
		if o != nil {
			return *o
		}
		return nil
	case *DeleteOp:
		if o != nil {
			return *o
		}
		return nil
	case *CheckOp:
		if o != nil {
			return *o
		}
		return nil
	}
	return op
}
