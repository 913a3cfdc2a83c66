package zkmeta

// watch is one registered one-shot watch. Its channel has room for the one
// Event it will ever carry, so delivering never blocks.
type watch struct {
	ch   chan Event
	sess *Session
	path string
	kind watchKind
}

type watchKind int

const (
	dataWatch  watchKind = iota // GetW, ExistsW
	childWatch                  // ChildrenW
)

// delivery is an Event due to a watch, handed over once the transaction
// that caused it is durable.
type delivery struct {
	w  *watch
	ev Event
}

func deliver(ds []delivery) {
	for _, d := range ds {
		d.w.ch <- d.ev
		close(d.w.ch)
	}
}

// change is one effect of a transaction on the tree, from which the
// triggered watches are derived.
type change struct {
	typ  EventType // EventNodeCreated, EventNodeDeleted or EventNodeDataChanged
	path string
}

// watches holds the pending watches, keyed by path. Guarded by the store mutex.
type watches struct {
	data  map[string]map[*watch]struct{}
	child map[string]map[*watch]struct{}
}

func newWatches() watches {
	return watches{data: map[string]map[*watch]struct{}{}, child: map[string]map[*watch]struct{}{}}
}

func (ws *watches) table(k watchKind) map[string]map[*watch]struct{} {
	if k == dataWatch {
		return ws.data
	}
	return ws.child
}

func (ws *watches) add(s *Session, path string, k watchKind) <-chan Event {
	w := &watch{ch: make(chan Event, 1), sess: s, path: path, kind: k}
	t := ws.table(k)
	set := t[path]
	if set == nil {
		set = map[*watch]struct{}{}
		t[path] = set
	}
	set[w] = struct{}{}
	s.watches[w] = struct{}{}
	return w.ch
}

func (ws *watches) remove(w *watch) {
	t := ws.table(w.kind)
	delete(t[w.path], w)
	if len(t[w.path]) == 0 {
		delete(t, w.path)
	}
	delete(w.sess.watches, w)
}

// fire removes every watch of kind k on path and queues typ for them.
func (ws *watches) fire(k watchKind, path string, typ EventType, out []delivery) []delivery {
	for w := range ws.table(k)[path] {
		ws.remove(w)
		out = append(out, delivery{w: w, ev: Event{Type: typ, Path: path}})
	}
	return out
}

// trigger turns the changes of a committed transaction into deliveries,
// with ZooKeeper's rules: a create fires data watches on the node and child
// watches on its parent; a delete fires data and child watches on the node
// and child watches on its parent; a data change fires data watches.
func (ws *watches) trigger(changes []change) []delivery {
	var out []delivery
	for _, c := range changes {
		switch c.typ {
		case EventNodeCreated:
			out = ws.fire(dataWatch, c.path, EventNodeCreated, out)
			parent, _ := splitPath(c.path)
			out = ws.fire(childWatch, parent, EventNodeChildrenChanged, out)
		case EventNodeDeleted:
			out = ws.fire(dataWatch, c.path, EventNodeDeleted, out)
			out = ws.fire(childWatch, c.path, EventNodeDeleted, out)
			parent, _ := splitPath(c.path)
			out = ws.fire(childWatch, parent, EventNodeChildrenChanged, out)
		case EventNodeDataChanged:
			out = ws.fire(dataWatch, c.path, EventNodeDataChanged, out)
		}
	}
	return out
}

// expire removes all watches of s and queues EventSessionExpired for them.
func (ws *watches) expire(s *Session) []delivery {
	var out []delivery
	for w := range s.watches {
		ws.remove(w)
		out = append(out, delivery{w: w, ev: Event{Type: EventSessionExpired, Path: w.path}})
	}
	return out
}
