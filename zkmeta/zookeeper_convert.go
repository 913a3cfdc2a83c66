package zkmeta

import (
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// translate turns an error of the ZooKeeper client into the store's: the
// result wraps both zkmeta's Err* value and the client's error, so
// errors.Is works with either. NoNode on a create means a missing parent.
func (z *ZooKeeper) translate(err error, create bool) error {
	if err == nil {
		return nil
	}
	var to error
	switch {
	case errors.Is(err, zk.ErrNoNode):
		to = ErrNoNode
		if create {
			to = ErrNoParent
		}
	case errors.Is(err, zk.ErrNodeExists):
		to = ErrNodeExists
	case errors.Is(err, zk.ErrBadVersion):
		to = ErrBadVersion
	case errors.Is(err, zk.ErrNotEmpty):
		to = ErrNotEmpty
	case errors.Is(err, zk.ErrNoChildrenForEphemerals):
		to = ErrNoChildrenForEphemerals
	case errors.Is(err, zk.ErrInvalidPath), errors.Is(err, zk.ErrBadArguments), errors.Is(err, zk.ErrInvalidFlags):
		to = ErrBadArguments
	case errors.Is(err, zk.ErrSessionExpired):
		to = ErrSessionExpired
	case errors.Is(err, zk.ErrClosing), errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer):
		if z.isClosed() {
			to = ErrClosed
		} else {
			to = ErrConnectionLoss
		}
	default:
		return fmt.Errorf("zkmeta: zookeeper: %w", err)
	}
	return fmt.Errorf("%w (%w)", to, err)
}

func statOf(s *zk.Stat) Stat {
	if s == nil {
		return Stat{}
	}
	return Stat{
		Czxid:          s.Czxid,
		Mzxid:          s.Mzxid,
		Pzxid:          s.Pzxid,
		Ctime:          s.Ctime,
		Mtime:          s.Mtime,
		Version:        s.Version,
		Cversion:       s.Cversion,
		EphemeralOwner: s.EphemeralOwner,
		DataLength:     s.DataLength,
		NumChildren:    s.NumChildren,
	}
}

func sortStrings(s []string) { sort.Strings(s) }

// watch translates a one-shot watch of the client into the store's: one
// Event on a buffered channel, then closed. A watch the client drops
// (session expired or closed) becomes EventSessionExpired.
func (z *ZooKeeper) watch(in <-chan zk.Event) <-chan Event {
	if in == nil {
		return nil
	}
	out := make(chan Event, 1)
	go func() {
		defer close(out)
		ev, ok := <-in
		if !ok {
			return
		}
		var t EventType
		switch ev.Type {
		case zk.EventNodeCreated:
			t = EventNodeCreated
		case zk.EventNodeDeleted:
			t = EventNodeDeleted
		case zk.EventNodeDataChanged:
			t = EventNodeDataChanged
		case zk.EventNodeChildrenChanged:
			t = EventNodeChildrenChanged
		default: // EventNotWatching: the client gave the watch up with its session
			t = EventSessionExpired
		}
		out <- Event{Type: t, Path: z.root.client(ev.Path)}
	}()
	return out
}

// zkLogger routes the client's log lines to zerolog at debug level; the
// store logs session changes itself.
type zkLogger struct{ log zerolog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug().Msgf("zk client: "+format, args...)
}
