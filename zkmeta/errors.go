package zkmeta

import "errors"

// Errors with ZooKeeper's meaning. Returned errors wrap them: test with errors.Is.
var (
	// ErrNoNode: the znode does not exist.
	ErrNoNode = errors.New("zkmeta: node does not exist")
	// ErrNodeExists: the znode already exists.
	ErrNodeExists = errors.New("zkmeta: node already exists")
	// ErrBadVersion: the expected version does not match the znode's.
	ErrBadVersion = errors.New("zkmeta: version conflict")
	// ErrNotEmpty: the znode has children and cannot be deleted.
	ErrNotEmpty = errors.New("zkmeta: node has children")
	// ErrNoParent: the parent of the znode to create does not exist.
	ErrNoParent = errors.New("zkmeta: parent node does not exist")
	// ErrNoChildrenForEphemerals: ephemeral znodes cannot have children.
	ErrNoChildrenForEphemerals = errors.New("zkmeta: ephemeral nodes may not have children")
	// ErrBadArguments: invalid path, create mode or data size.
	ErrBadArguments = errors.New("zkmeta: invalid arguments")
	// ErrClosed: the session was closed.
	ErrClosed = errors.New("zkmeta: session closed")
	// ErrSessionExpired: the session expired while the call was under way;
	// its ephemeral znodes are gone. Whether the call was applied is unknown.
	ErrSessionExpired = errors.New("zkmeta: session expired")
	// ErrConnectionLoss: the connection to ZooKeeper was lost while the call
	// was under way or before it could be sent. Whether a write was applied
	// is unknown; the session may still be alive. The embedded store never
	// returns it.
	ErrConnectionLoss = errors.New("zkmeta: connection to ZooKeeper lost")
)
