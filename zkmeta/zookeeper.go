package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// ZooKeeper is a Store over a ZooKeeper ensemble (github.com/go-zookeeper/zk):
// one client connection and its session. Every method is one ZooKeeper
// request; paths are relative to the chroot of the connect string. When the
// session expires the client opens a new one and the store goes on with it
// (SessionEvents tells). Safe for concurrent use.
type ZooKeeper struct {
	conn   *zk.Conn
	zkEvts <-chan zk.Event // closed when the client's loop has ended
	root   chrooted
	log    zerolog.Logger
	events *sessionEvents

	mu        sync.Mutex // guards the fields below, and conn while OpenZooKeeper sets it
	closed    bool
	state     SessionState  // last state reported on events; 0 before the first session
	sessionID int64         // id of the session last reported
	ready     chan struct{} // closed at the first session (set once, before the client starts)
	isReady   bool
}

var _ Store = (*ZooKeeper)(nil)

// maxDataSize is ZooKeeper's default jute.maxbuffer: larger znode data is
// refused by the server (which drops the connection), so it is refused here.
const maxDataSize = 1<<20 - 1

// OpenZooKeeper connects to the ensemble of a zookeeper.connect string
// ("host:port,host:port/chroot") with the given session timeout
// (zookeeper.session.timeout.ms), waits for the session, and creates the
// chroot path if it is missing, as Kafka does. ctx bounds the wait.
func OpenZooKeeper(ctx context.Context, connect string, sessionTimeout time.Duration, logger zerolog.Logger) (*ZooKeeper, error) {
	servers, chroot, err := ParseConnect(connect)
	if err != nil {
		return nil, err
	}
	if sessionTimeout <= 0 {
		return nil, fmt.Errorf("%w: session timeout %v", ErrBadArguments, sessionTimeout)
	}
	z := &ZooKeeper{
		root:   chrooted(chroot),
		log:    logger.With().Str("component", "zkmeta").Str("zookeeper", connect).Logger(),
		events: newSessionEvents(),
		ready:  make(chan struct{}),
	}
	z.mu.Lock()
	conn, evts, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(zkLogger{z.log}),
		zk.WithEventCallback(z.onEvent))
	if err != nil {
		z.mu.Unlock()
		return nil, fmt.Errorf("zkmeta: connecting to %s: %w", connect, err)
	}
	z.conn, z.zkEvts = conn, evts
	z.mu.Unlock()

	select {
	case <-z.ready:
	case <-ctx.Done():
		_ = z.Close()
		return nil, fmt.Errorf("zkmeta: no ZooKeeper session with %s: %w", connect, ctx.Err())
	}
	if err := z.createChroot(ctx, chroot); err != nil {
		_ = z.Close()
		return nil, err
	}
	return z, nil
}

// createChroot creates every missing znode of the chroot path.
func (z *ZooKeeper) createChroot(ctx context.Context, chroot string) error {
	if chroot == "" {
		return nil
	}
	for i := 1; i <= len(chroot); i++ {
		if i < len(chroot) && chroot[i] != '/' {
			continue
		}
		p := chroot[:i]
		_, err := call(ctx, z, func() (string, error) {
			return z.conn.Create(p, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zkmeta: creating chroot %s: %w", p, z.translate(err, false))
		}
	}
	z.log.Debug().Str("chroot", chroot).Msg("chroot ready")
	return nil
}

// onEvent receives the client's session state changes (never blocking:
// it runs on the client's goroutine).
func (z *ZooKeeper) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed || z.conn == nil {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		id := z.conn.SessionID()
		if z.state == SessionConnected && id == z.sessionID {
			return
		}
		if z.sessionID != 0 && id != z.sessionID && z.state != SessionExpired {
			// Expired without the client saying so first (it never does
			// today, but a new id means the old session is gone).
			z.setState(SessionExpired, z.sessionID)
		}
		z.setState(SessionConnected, id)
		if !z.isReady {
			z.isReady = true
			close(z.ready)
		}
	case zk.StateDisconnected:
		if z.state == SessionConnected {
			z.setState(SessionDisconnected, z.sessionID)
		}
	case zk.StateExpired:
		if z.state != SessionExpired && z.sessionID != 0 {
			z.setState(SessionExpired, z.sessionID)
		}
	}
}

// setState records and reports a session state change. z.mu is held.
func (z *ZooKeeper) setState(s SessionState, id int64) {
	z.state, z.sessionID = s, id
	switch s {
	case SessionConnected:
		z.log.Info().Int64("session", id).Msg("ZooKeeper session established")
	case SessionDisconnected:
		z.log.Warn().Int64("session", id).Msg("ZooKeeper connection lost")
	case SessionExpired:
		z.log.Warn().Int64("session", id).Msg("ZooKeeper session expired")
	}
	z.events.push(SessionEvent{State: s, SessionID: id})
}

// SessionID returns the id of the current session (0 while a new one is
// being established after an expiry).
func (z *ZooKeeper) SessionID() int64 { return z.conn.SessionID() }

// SessionEvents returns the channel of session state changes; see Store.
func (z *ZooKeeper) SessionEvents() <-chan SessionEvent { return z.events.ch }

// Close ends the session: ZooKeeper deletes its ephemeral znodes before
// answering; pending watches receive EventSessionExpired and the
// SessionEvents channel is closed. Closing twice returns nil.
func (z *ZooKeeper) Close() error {
	z.mu.Lock()
	if z.closed {
		z.mu.Unlock()
		return nil
	}
	z.closed = true
	z.mu.Unlock()
	z.conn.Close()
	// The client's event channel is closed once its loop has ended and
	// every watch has been told; bounded in case the ensemble is gone.
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
drain:
	for {
		select {
		case _, ok := <-z.zkEvts:
			if !ok {
				break drain
			}
		case <-timeout.C:
			z.log.Warn().Msg("ZooKeeper client did not stop within 5s")
			break drain
		}
	}
	z.events.close()
	z.log.Info().Msg("ZooKeeper session closed")
	return nil
}

func (z *ZooKeeper) isClosed() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.closed
}

// call runs one request of the client, giving up when ctx is done (the
// request may still be applied then, as with a lost connection).
func call[T any](ctx context.Context, z *ZooKeeper, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if z.isClosed() {
		return zero, ErrClosed
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Create creates a znode; see Store.
func (z *ZooKeeper) Create(ctx context.Context, path string, data []byte, mode CreateMode) (string, error) {
	flags, err := checkCreate(path, data, mode)
	if err != nil {
		return "", err
	}
	created, err := call(ctx, z, func() (string, error) {
		return z.conn.Create(z.root.server(path), data, flags, zk.WorldACL(zk.PermAll))
	})
	if err != nil {
		return "", z.translate(err, true)
	}
	return z.root.client(created), nil
}

// checkCreate validates a create and returns its ZooKeeper flags.
func checkCreate(path string, data []byte, mode CreateMode) (int32, error) {
	var flags int32
	switch mode {
	case ModePersistent:
		flags = zk.FlagPersistent
	case ModeEphemeral:
		flags = zk.FlagEphemeral
	case ModePersistentSequential:
		flags = zk.FlagSequence
	case ModeEphemeralSequential:
		flags = zk.FlagEphemeralSequential
	default:
		return 0, fmt.Errorf("%w: create mode %d", ErrBadArguments, mode)
	}
	check := path
	if mode.Sequential() {
		check = path + "0000000000"
	}
	if err := validatePath(check); err != nil {
		return 0, err
	}
	if path == "/" {
		return 0, fmt.Errorf("%w: /", ErrNodeExists)
	}
	return flags, checkData(data)
}

func checkData(data []byte) error {
	if len(data) > maxDataSize {
		return fmt.Errorf("%w: %d bytes of data exceed the limit of %d", ErrBadArguments, len(data), maxDataSize)
	}
	return nil
}

type getResult struct {
	data []byte
	st   *zk.Stat
	ch   <-chan zk.Event
}

// Get returns a znode's data and Stat; see Store.
func (z *ZooKeeper) Get(ctx context.Context, path string) ([]byte, Stat, error) {
	data, st, _, err := z.get(ctx, path, false)
	return data, st, err
}

// GetW is Get with a watch; see Store.
func (z *ZooKeeper) GetW(ctx context.Context, path string) ([]byte, Stat, <-chan Event, error) {
	return z.get(ctx, path, true)
}

func (z *ZooKeeper) get(ctx context.Context, path string, watch bool) ([]byte, Stat, <-chan Event, error) {
	if err := validatePath(path); err != nil {
		return nil, Stat{}, nil, err
	}
	r, err := call(ctx, z, func() (r getResult, err error) {
		if watch {
			r.data, r.st, r.ch, err = z.conn.GetW(z.root.server(path))
		} else {
			r.data, r.st, err = z.conn.Get(z.root.server(path))
		}
		return r, err
	})
	if err != nil {
		return nil, Stat{}, nil, z.translate(err, false)
	}
	return r.data, statOf(r.st), z.watch(r.ch), nil
}

type existsResult struct {
	ok bool
	st *zk.Stat
	ch <-chan zk.Event
}

// Exists reports whether a znode exists; see Store.
func (z *ZooKeeper) Exists(ctx context.Context, path string) (bool, Stat, error) {
	ok, st, _, err := z.exists(ctx, path, false)
	return ok, st, err
}

// ExistsW is Exists with a watch; see Store.
func (z *ZooKeeper) ExistsW(ctx context.Context, path string) (bool, Stat, <-chan Event, error) {
	return z.exists(ctx, path, true)
}

func (z *ZooKeeper) exists(ctx context.Context, path string, watch bool) (bool, Stat, <-chan Event, error) {
	if err := validatePath(path); err != nil {
		return false, Stat{}, nil, err
	}
	r, err := call(ctx, z, func() (r existsResult, err error) {
		if watch {
			r.ok, r.st, r.ch, err = z.conn.ExistsW(z.root.server(path))
		} else {
			r.ok, r.st, err = z.conn.Exists(z.root.server(path))
		}
		return r, err
	})
	if err != nil {
		return false, Stat{}, nil, z.translate(err, false)
	}
	var st Stat
	if r.ok {
		st = statOf(r.st)
	}
	return r.ok, st, z.watch(r.ch), nil
}

// Set replaces a znode's data; see Store.
func (z *ZooKeeper) Set(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	if err := validatePath(path); err != nil {
		return Stat{}, err
	}
	if err := checkData(data); err != nil {
		return Stat{}, err
	}
	st, err := call(ctx, z, func() (*zk.Stat, error) {
		return z.conn.Set(z.root.server(path), data, version)
	})
	if err != nil {
		return Stat{}, z.translate(err, false)
	}
	return statOf(st), nil
}

// Delete deletes a znode; see Store.
func (z *ZooKeeper) Delete(ctx context.Context, path string, version int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	_, err := call(ctx, z, func() (struct{}, error) {
		return struct{}{}, z.conn.Delete(z.root.server(path), version)
	})
	return z.translate(err, false)
}

type childrenResult struct {
	names []string
	st    *zk.Stat
	ch    <-chan zk.Event
}

// Children returns the sorted child names; see Store.
func (z *ZooKeeper) Children(ctx context.Context, path string) ([]string, Stat, error) {
	names, st, _, err := z.children(ctx, path, false)
	return names, st, err
}

// ChildrenW is Children with a watch; see Store.
func (z *ZooKeeper) ChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error) {
	return z.children(ctx, path, true)
}

func (z *ZooKeeper) children(ctx context.Context, path string, watch bool) ([]string, Stat, <-chan Event, error) {
	if err := validatePath(path); err != nil {
		return nil, Stat{}, nil, err
	}
	r, err := call(ctx, z, func() (r childrenResult, err error) {
		if watch {
			r.names, r.st, r.ch, err = z.conn.ChildrenW(z.root.server(path))
		} else {
			r.names, r.st, err = z.conn.Children(z.root.server(path))
		}
		return r, err
	})
	if err != nil {
		return nil, Stat{}, nil, z.translate(err, false)
	}
	names := append([]string{}, r.names...)
	sortStrings(names)
	return names, statOf(r.st), z.watch(r.ch), nil
}

// Multi applies ops atomically; see Store.
func (z *ZooKeeper) Multi(ctx context.Context, ops ...Op) error {
	reqs := make([]any, len(ops))
	for i, op := range ops {
		req, err := z.multiRequest(derefOp(op))
		if err != nil {
			return &OpError{Index: i, Op: op, Err: err}
		}
		reqs[i] = req
	}
	if len(ops) == 0 {
		// ZooKeeper answers an empty multi with nothing to do; so does the store.
		_, err := call(ctx, z, func() (struct{}, error) { return struct{}{}, nil })
		return err
	}
	res, err := call(ctx, z, func() ([]zk.MultiResponse, error) { return z.conn.Multi(reqs...) })
	for i, r := range res {
		if r.Error != nil {
			_, isCreate := derefOp(ops[i]).(CreateOp)
			return &OpError{Index: i, Op: ops[i], Err: z.translate(r.Error, isCreate)}
		}
	}
	return z.translate(err, false)
}

func (z *ZooKeeper) multiRequest(op Op) (any, error) {
	switch o := op.(type) {
	case CreateOp:
		flags, err := checkCreate(o.Path, o.Data, o.Mode)
		if err != nil {
			return nil, err
		}
		return &zk.CreateRequest{Path: z.root.server(o.Path), Data: o.Data, Acl: zk.WorldACL(zk.PermAll), Flags: flags}, nil
	case SetOp:
		if err := validatePath(o.Path); err != nil {
			return nil, err
		}
		if err := checkData(o.Data); err != nil {
			return nil, err
		}
		return &zk.SetDataRequest{Path: z.root.server(o.Path), Data: o.Data, Version: o.Version}, nil
	case DeleteOp:
		if err := validatePath(o.Path); err != nil {
			return nil, err
		}
		return &zk.DeleteRequest{Path: z.root.server(o.Path), Version: o.Version}, nil
	case CheckOp:
		if err := validatePath(o.Path); err != nil {
			return nil, err
		}
		return &zk.CheckVersionRequest{Path: z.root.server(o.Path), Version: o.Version}, nil
	}
	return nil, fmt.Errorf("%w: unknown op %T", ErrBadArguments, op)
}
