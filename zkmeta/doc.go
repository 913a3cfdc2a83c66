// Package zkmeta holds the cluster metadata of the broker with ZooKeeper's
// semantics and Kafka's znode layout.
//
// # Store
//
// Store is one ZooKeeper session: Create (persistent, ephemeral, sequential),
// Get/Set with versions, Delete, Children, one-shot watches (GetW, ExistsW,
// ChildrenW) and atomic Multi transactions. Each method maps onto exactly one
// ZooKeeper call, so a ZooKeeper-backed implementation is a thin adapter; the
// conformance suite in zkmeta/zkmetatest holds every implementation to the
// same behaviour. Errors wrap ErrNoNode, ErrNodeExists, ErrBadVersion, ... and
// are tested with errors.Is. Every call takes a context and returns its error
// when it is already done.
//
// Watches: every W call registers a new watch and returns its channel. The
// channel is buffered; it receives exactly one Event and is then closed, so
// the store never blocks on a slow reader. Rules are ZooKeeper's: a data watch
// (GetW, ExistsW) fires on the znode's creation, data change or deletion; a
// child watch (ChildrenW) fires on a child's creation or deletion, or the
// znode's deletion. When the session ends, its pending watches receive
// EventSessionExpired.
//
// Sessions: SessionEvents reports SessionConnected, SessionDisconnected and
// SessionExpired on a buffered channel that never blocks the store. After
// SessionExpired the store goes on with a new session (a new SessionID):
// the old session's ephemeral znodes and watches are gone, and the owner
// (the broker) registers again. Sequential names take the parent's count of
// child creations (deletes do not count, as in ZooKeeper 3.8).
//
// # ZooKeeper store
//
// ZooKeeper (OpenZooKeeper) is a Store over a real ensemble through
// github.com/go-zookeeper/zk. The connect string is Kafka's
// zookeeper.connect, "host:port,host:port/chroot": the chroot is created if
// missing and every path is relative to it (the store maps paths both ways
// itself). The session timeout is zookeeper.session.timeout.ms. Requests run
// on the client's connection; a call gives up when its context is done (the
// request may still be applied, as with a lost connection). Errors wrap
// zkmeta's Err* value and the client's error; a lost connection is
// ErrConnectionLoss, a request cut by an expiry ErrSessionExpired. After an
// expiry the client opens a new session by itself. One goroutine per pending
// watch translates the client's event; the client's log goes to zerolog at
// debug level, session changes are logged at info/warn.
//
// # Embedded store
//
// Embedded (OpenEmbedded) is a single-node store for running without a
// ZooKeeper ensemble. It keeps the tree in memory and persists it under one
// directory:
//
//	zkmeta.journal   append-only journal, one CRC-framed record per transaction
//	zkmeta.snapshot  the whole tree at a zxid (written to a temp file, fsynced, renamed)
//	zkmeta.lock      flock'ed so that one process at a time opens the directory
//
// A write applies to the tree and appends its record under the store mutex
// (so records are in zxid order), then waits for an fsync outside the mutex:
// one fsync covers every record appended before it started (group commit).
// The call returns, and its watches fire, once the record is durable.
// Readers of the same process may see a write a moment before it is durable;
// a crash in that window takes those readers down too.
//
// When the journal outgrows both a threshold and the last snapshot, the tree
// is written to a new snapshot and the journal emptied, so the total work is
// linear in the number of writes. At open, the snapshot is loaded, journal
// records with a newer zxid are replayed, a torn or corrupt journal tail is
// cut, and the ephemeral znodes of the previous run's sessions are deleted.
// zxids keep increasing across restarts.
//
// Embedded is a Store for its own session; NewSession opens more sessions on
// the same tree (every in-process broker, or tests that need two clients).
//
// # Kafka helpers
//
// Metadata wraps any Store with Kafka's ZooKeeper-mode operations: broker
// registration, controller election with the /controller_epoch fence, topic
// assignments, partition state, configs with change notifications, topic
// deletion markers and producer id blocks. Every znode path and JSON payload
// is in paths.go; the payloads are read field by field, in any key order.
//
// zkmeta imports no other package of the broker.
package zkmeta
