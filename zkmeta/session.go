package zkmeta

import (
	"context"
	"fmt"
)

type sessionState int

const (
	sessionOpen sessionState = iota
	sessionClosed
	sessionExpired
)

// Session is one session on an Embedded store; it implements Store. Its
// methods are safe for concurrent use.
type Session struct {
	db      *db
	id      int64
	state   sessionState        // guarded by db.mu
	watches map[*watch]struct{} // pending watches; guarded by db.mu
}

// lockUsable locks the store and reports why s cannot be used, if so. On
// error the lock is not held.
func (s *Session) lockUsable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.db.mu.Lock()
	var err error
	switch {
	case s.state == sessionExpired:
		err = ErrSessionExpired
	case s.state == sessionClosed || s.db.closed:
		err = ErrClosed
	}
	if err != nil {
		s.db.mu.Unlock()
	}
	return err
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
func (s *Session) SessionID() int64 { return s.id }

// Create creates a znode; see Store.
func (s *Session) Create(ctx context.Context, path string, data []byte, mode CreateMode) (string, error) {
	var created string
	err := s.write(ctx, func(x *txn) error {
		var err error
		created, err = x.create(path, data, mode, s.id)
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
				_, err = x.create(o.Path, o.Data, o.Mode, s.id)
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

// Close ends the session: its ephemeral znodes are deleted and its pending
// watches receive EventSessionExpired. Closing twice returns nil.
func (s *Session) Close() error { return s.end(sessionClosed) }

// Expire ends the session as if ZooKeeper had expired it: like Close, but
// later calls return ErrSessionExpired. It lets tests exercise the
// re-registration paths.
func (s *Session) Expire() error { return s.end(sessionExpired) }

func (s *Session) end(state sessionState) error {
	d := s.db
	d.mu.Lock()
	if s.state != sessionOpen {
		d.mu.Unlock()
		return nil
	}
	s.state = state
	delete(d.sessions, s.id)
	expired := d.watches.expire(s)
	x := d.begin()
	for _, p := range d.tree.ownedBy(s.id) {
		if err := x.del(p, -1); err != nil {
			x.rollback()
			d.mu.Unlock()
			deliver(expired)
			return err
		}
	}
	end, ds, err := d.commitLocked(x)
	d.mu.Unlock()
	deliver(expired)
	return d.finish(end, ds, err)
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
