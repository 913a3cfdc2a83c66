package zkmeta

import (
	"fmt"
	"sync"
)

// SessionState is the state of a store's session, as reported on
// Store.SessionEvents.
type SessionState int

// Session states, after ZooKeeper's KeeperState.
const (
	// SessionConnected: a session is established and usable. It is the
	// first event of every store, and follows a SessionDisconnected (same
	// SessionID: nothing was lost) or a SessionExpired (new SessionID: a new
	// session, without the ephemeral znodes and watches of the old one).
	SessionConnected SessionState = iota + 1
	// SessionDisconnected: the connection to ZooKeeper is lost. The session
	// survives if a connection is made again within the session timeout;
	// calls fail with ErrConnectionLoss meanwhile.
	SessionDisconnected
	// SessionExpired: the session ended without Close (ZooKeeper expired it,
	// or Session.Expire on the embedded store). Its ephemeral znodes are
	// gone and its pending watches received EventSessionExpired. The store
	// goes on with a new session (a SessionConnected follows): ephemeral
	// znodes must be created again and watches set again.
	SessionExpired
)

// String returns the name of the state.
func (s SessionState) String() string {
	switch s {
	case SessionConnected:
		return "Connected"
	case SessionDisconnected:
		return "Disconnected"
	case SessionExpired:
		return "Expired"
	}
	return fmt.Sprintf("SessionState(%d)", int(s))
}

// SessionEvent is one change of a store's session state.
type SessionEvent struct {
	State SessionState
	// SessionID is the session the event is about: the expired one for
	// SessionExpired, the established one for SessionConnected.
	SessionID int64
}

// sessionEventBuffer is how many session events wait for a slow reader
// before the oldest are dropped.
const sessionEventBuffer = 64

// sessionEvents is the channel behind Store.SessionEvents: buffered, never
// blocking the store. When the reader falls behind by sessionEventBuffer
// events the oldest are dropped; the newest state always gets through, and a
// SessionConnected with a SessionID other than the last one seen tells of an
// expiry in between.
type sessionEvents struct {
	mu     sync.Mutex
	ch     chan SessionEvent
	closed bool
}

func newSessionEvents() *sessionEvents {
	return &sessionEvents{ch: make(chan SessionEvent, sessionEventBuffer)}
}

func (q *sessionEvents) push(ev SessionEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	for {
		select {
		case q.ch <- ev:
			return
		default:
		}
		select {
		case <-q.ch: // full: drop the oldest
		default:
		}
	}
}

// close closes the channel once; later pushes are ignored.
func (q *sessionEvents) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}
