package zkmeta

import (
	"context"
	"fmt"
)

// CreateMode says how long a znode lives and whether its name gets a
// sequence suffix, exactly as ZooKeeper's CreateMode.
type CreateMode int

// The four ZooKeeper create modes used by Kafka.
const (
	// ModePersistent znodes live until deleted.
	ModePersistent CreateMode = iota
	// ModeEphemeral znodes are deleted when the session that created them ends.
	ModeEphemeral
	// ModePersistentSequential znodes get the parent's child version appended as %010d.
	ModePersistentSequential
	// ModeEphemeralSequential combines ModeEphemeral and the sequence suffix.
	ModeEphemeralSequential
)

func (m CreateMode) valid() bool { return m >= ModePersistent && m <= ModeEphemeralSequential }

// Ephemeral reports whether znodes created with m end with their session.
func (m CreateMode) Ephemeral() bool { return m == ModeEphemeral || m == ModeEphemeralSequential }

// Sequential reports whether znodes created with m get a sequence suffix.
func (m CreateMode) Sequential() bool {
	return m == ModePersistentSequential || m == ModeEphemeralSequential
}

// String returns the ZooKeeper name of the mode.
func (m CreateMode) String() string {
	switch m {
	case ModePersistent:
		return "PERSISTENT"
	case ModeEphemeral:
		return "EPHEMERAL"
	case ModePersistentSequential:
		return "PERSISTENT_SEQUENTIAL"
	case ModeEphemeralSequential:
		return "EPHEMERAL_SEQUENTIAL"
	}
	return fmt.Sprintf("CreateMode(%d)", int(m))
}

// Stat is a znode's metadata, field for field ZooKeeper's Stat (without the ACL version).
type Stat struct {
	Czxid          int64 // zxid of the transaction that created the znode
	Mzxid          int64 // zxid of the last data change (the create counts)
	Pzxid          int64 // zxid of the last change to the children list
	Ctime          int64 // creation time, milliseconds since the epoch
	Mtime          int64 // last data change time, milliseconds since the epoch
	Version        int32 // number of data changes
	Cversion       int32 // number of changes to the children list
	EphemeralOwner int64 // session id of the owner, 0 for persistent znodes
	DataLength     int32
	NumChildren    int32
}

// EventType says what made a watch fire.
type EventType int

// Watch event types, named as ZooKeeper's.
const (
	EventNodeCreated EventType = iota + 1
	EventNodeDeleted
	EventNodeDataChanged
	EventNodeChildrenChanged
	// EventSessionExpired is delivered to every pending watch of a session
	// that ends (closed or expired); the watch will not fire otherwise.
	EventSessionExpired
)

// String returns the ZooKeeper name of the event type.
func (t EventType) String() string {
	switch t {
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case EventSessionExpired:
		return "SessionExpired"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is what a watch delivers: one Event, after which its channel is closed.
type Event struct {
	Type EventType
	Path string
}

// Op is one operation of a Multi transaction: CreateOp, SetOp, DeleteOp or CheckOp.
type Op interface {
	opPath() string
}

// CreateOp creates a znode (see Store.Create).
type CreateOp struct {
	Path string
	Data []byte
	Mode CreateMode
}

// SetOp replaces a znode's data if its version matches (-1 matches any).
type SetOp struct {
	Path    string
	Data    []byte
	Version int32
}

// DeleteOp deletes a childless znode if its version matches (-1 matches any).
type DeleteOp struct {
	Path    string
	Version int32
}

// CheckOp fails the transaction unless the znode exists with the given
// version (-1: exists with any version). It changes nothing.
type CheckOp struct {
	Path    string
	Version int32
}

func (o CreateOp) opPath() string { return o.Path }
func (o SetOp) opPath() string    { return o.Path }
func (o DeleteOp) opPath() string { return o.Path }
func (o CheckOp) opPath() string  { return o.Path }

// OpError is returned by Multi when one operation fails; nothing of the
// transaction was applied. errors.Is sees through it to the cause
// (ErrBadVersion, ErrNoNode, ...).
type OpError struct {
	Index int // position of the failing operation in the Multi call
	Op    Op
	Err   error
}

func (e *OpError) Error() string {
	if e.Op == nil || derefOp(e.Op) == nil {
		return fmt.Sprintf("zkmeta: multi op %d (nil): %v", e.Index, e.Err)
	}
	return fmt.Sprintf("zkmeta: multi op %d (%T %s): %v", e.Index, e.Op, e.Op.opPath(), e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Store is a ZooKeeper session: every method maps onto one ZooKeeper call.
// When the session expires, the store goes on with a new session, as
// reported on SessionEvents.
// Implementations are safe for concurrent use. Watch channels are buffered,
// receive exactly one Event and are then closed; they never block the store.
type Store interface {
	// Create creates path (its parent must exist) and returns the created
	// path, which for sequential modes ends with a %010d sequence number.
	Create(ctx context.Context, path string, data []byte, mode CreateMode) (string, error)
	// Get returns a znode's data and Stat.
	Get(ctx context.Context, path string) ([]byte, Stat, error)
	// GetW is Get plus a one-shot watch for the znode's next data change or deletion.
	GetW(ctx context.Context, path string) ([]byte, Stat, <-chan Event, error)
	// Exists reports whether path exists, with its Stat when it does.
	Exists(ctx context.Context, path string) (bool, Stat, error)
	// ExistsW is Exists plus a one-shot watch: creation if absent, data change or deletion if present.
	ExistsW(ctx context.Context, path string) (bool, Stat, <-chan Event, error)
	// Set replaces the data if the version matches (-1 matches any) and returns the new Stat.
	Set(ctx context.Context, path string, data []byte, version int32) (Stat, error)
	// Delete deletes a znode without children if the version matches (-1 matches any).
	Delete(ctx context.Context, path string, version int32) error
	// Children returns the sorted names (not paths) of path's children.
	Children(ctx context.Context, path string) ([]string, Stat, error)
	// ChildrenW is Children plus a one-shot watch for a child change or the znode's deletion.
	ChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error)
	// Multi applies all ops atomically, in order, or none of them (error *OpError).
	Multi(ctx context.Context, ops ...Op) error
	// SessionID is the id of the current session, the EphemeralOwner of its
	// ephemeral znodes. It changes when a session expires and a new one
	// takes its place.
	SessionID() int64
	// SessionEvents returns the channel of session state changes (the same
	// channel on every call). It is buffered and never blocks the store;
	// a reader that falls far behind loses the oldest events. It starts with
	// SessionConnected and is closed by Close. On SessionExpired the
	// ephemeral znodes and watches of the session are gone: create and set
	// them again once SessionConnected follows.
	SessionEvents() <-chan SessionEvent
	// Close ends the session: its ephemeral znodes are deleted (other sessions'
	// watches fire) and its pending watches receive EventSessionExpired.
	Close() error
}
