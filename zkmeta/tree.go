package zkmeta

import (
	"fmt"
	"sort"
)

// node is one znode held in memory.
type node struct {
	data     []byte
	stat     Stat
	children map[string]struct{}
	// seq is the next sequence suffix for a child: the number of children
	// ever created. ZooKeeper (3.8) counts creates only here, while its
	// Cversion also counts deletes. Not in the snapshot: loading one sets
	// it to Cversion, which is never smaller, so names stay unique and
	// increasing.
	seq int32
}

// tree is the in-memory znode tree. It is not safe for concurrent use; the
// embedded store guards it with its mutex. Every mutating method applies
// its change and returns an undo function, so that a Multi transaction
// whose later operation fails can be rolled back.
type tree struct {
	nodes      map[string]*node
	ephemerals map[int64]map[string]struct{} // session id -> paths it owns
}

func newTree() *tree {
	return &tree{
		nodes:      map[string]*node{"/": {}},
		ephemerals: map[int64]map[string]struct{}{},
	}
}

func (t *tree) stat(n *node) Stat {
	st := n.stat
	st.DataLength = int32(len(n.data))
	st.NumChildren = int32(len(n.children))
	return st
}

func (t *tree) get(path string) (*node, error) {
	n, ok := t.nodes[path]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoNode, path)
	}
	return n, nil
}

// childrenOf returns the sorted child names of n.
func childrenOf(n *node) []string {
	out := make([]string, 0, len(n.children))
	for name := range n.children {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// sequentialPath resolves the name a sequential create of path gets: the
// parent's count of child creations as %010d, as ZooKeeper does.
func (t *tree) sequentialPath(path string) (string, error) {
	parent, _ := splitPath(path)
	p, ok := t.nodes[parent]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNoParent, path)
	}
	return sequentialName(path, p.seq), nil
}

func (t *tree) create(path string, data []byte, owner, zxid, now int64) (func(), error) {
	if _, ok := t.nodes[path]; ok {
		return nil, fmt.Errorf("%w: %s", ErrNodeExists, path)
	}
	parentPath, name := splitPath(path)
	p, ok := t.nodes[parentPath]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoParent, path)
	}
	if p.stat.EphemeralOwner != 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoChildrenForEphemerals, path)
	}
	oldParent, oldSeq := p.stat, p.seq
	t.nodes[path] = &node{
		data: data,
		stat: Stat{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now, EphemeralOwner: owner},
	}
	if p.children == nil {
		p.children = map[string]struct{}{}
	}
	p.children[name] = struct{}{}
	p.stat.Cversion++
	p.seq++
	p.stat.Pzxid = zxid
	if owner != 0 {
		set := t.ephemerals[owner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	}
	return func() {
		delete(t.nodes, path)
		delete(p.children, name)
		p.stat, p.seq = oldParent, oldSeq
		if owner != 0 {
			delete(t.ephemerals[owner], path)
			if len(t.ephemerals[owner]) == 0 {
				delete(t.ephemerals, owner)
			}
		}
	}, nil
}

func checkVersion(path string, want, have int32) error {
	if want != -1 && want != have {
		return fmt.Errorf("%w: %s has version %d, expected %d", ErrBadVersion, path, have, want)
	}
	return nil
}

func (t *tree) set(path string, data []byte, version int32, zxid, now int64) (func(), error) {
	n, err := t.get(path)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(path, version, n.stat.Version); err != nil {
		return nil, err
	}
	oldData, oldStat := n.data, n.stat
	n.data = data
	n.stat.Version++
	n.stat.Mzxid = zxid
	n.stat.Mtime = now
	return func() { n.data, n.stat = oldData, oldStat }, nil
}

func (t *tree) delete(path string, version int32, zxid int64) (func(), error) {
	if path == "/" {
		return nil, fmt.Errorf("%w: the root cannot be deleted", ErrBadArguments)
	}
	n, err := t.get(path)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(path, version, n.stat.Version); err != nil {
		return nil, err
	}
	if len(n.children) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotEmpty, path)
	}
	parentPath, name := splitPath(path)
	p := t.nodes[parentPath]
	oldParent := p.stat
	delete(t.nodes, path)
	delete(p.children, name)
	p.stat.Cversion++
	p.stat.Pzxid = zxid
	owner := n.stat.EphemeralOwner
	if owner != 0 {
		delete(t.ephemerals[owner], path)
		if len(t.ephemerals[owner]) == 0 {
			delete(t.ephemerals, owner)
		}
	}
	return func() {
		t.nodes[path] = n
		p.children[name] = struct{}{}
		p.stat = oldParent
		if owner != 0 {
			set := t.ephemerals[owner]
			if set == nil {
				set = map[string]struct{}{}
				t.ephemerals[owner] = set
			}
			set[path] = struct{}{}
		}
	}, nil
}

func (t *tree) check(path string, version int32) error {
	n, err := t.get(path)
	if err != nil {
		return err
	}
	return checkVersion(path, version, n.stat.Version)
}

// ownedBy returns the sorted paths of the ephemeral znodes of a session.
func (t *tree) ownedBy(session int64) []string {
	out := make([]string, 0, len(t.ephemerals[session]))
	for p := range t.ephemerals[session] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
