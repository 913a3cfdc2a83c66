package zkmeta

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Snapshot format (file zkmeta.snapshot, replaced atomically: temp file,
// fsync, rename, fsync of the directory):
//
//	magic "KBZKSNP1" | last zxid i64 | node count i64 | node... | crc32c u32
//	node: path str | data bytes | czxid i64 | mzxid i64 | pzxid i64 |
//	      ctime i64 | mtime i64 | version i32 | cversion i32 | owner i64
//
// The CRC covers every byte before it. Nodes are written in path order, so
// a parent precedes its children.

const snapshotMagic = "KBZKSNP1"

const (
	snapshotFile = "zkmeta.snapshot"
	journalFile  = "zkmeta.journal"
	lockFile     = "zkmeta.lock"
)

// writeSnapshot writes the tree to dir atomically and returns the size.
func writeSnapshot(dir string, t *tree, lastZxid int64) (int64, error) {
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("zkmeta: snapshot: %w", err)
	}
	size, err := writeSnapshotTo(f, t, lastZxid)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, snapshotFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("zkmeta: snapshot: %w", err)
	}
	return size, nil
}

func writeSnapshotTo(w io.Writer, t *tree, lastZxid int64) (int64, error) {
	h := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 64<<10)
	paths := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var size int64
	e := encoder{b: make([]byte, 0, 256)}
	e.b = append(e.b, snapshotMagic...)
	e.i64(lastZxid)
	e.i64(int64(len(paths)))
	for _, p := range paths {
		n := t.nodes[p]
		e.str(p)
		e.bytes(n.data)
		e.i64(n.stat.Czxid)
		e.i64(n.stat.Mzxid)
		e.i64(n.stat.Pzxid)
		e.i64(n.stat.Ctime)
		e.i64(n.stat.Mtime)
		e.i32(n.stat.Version)
		e.i32(n.stat.Cversion)
		e.i64(n.stat.EphemeralOwner)
		if len(e.b) >= 32<<10 {
			if _, err := bw.Write(e.b); err != nil {
				return 0, err
			}
			size += int64(len(e.b))
			e.b = e.b[:0]
		}
	}
	if _, err := bw.Write(e.b); err != nil {
		return 0, err
	}
	size += int64(len(e.b))
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := binary.Write(w, binary.BigEndian, h.Sum32()); err != nil {
		return 0, err
	}
	return size + 4, nil
}

// readSnapshot loads the snapshot in dir. A missing snapshot yields an
// empty tree and zxid 0; a damaged one is an error (it is only ever
// replaced whole, so damage is not a torn write).
func readSnapshot(dir string) (*tree, int64, int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if os.IsNotExist(err) {
		return newTree(), 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("zkmeta: snapshot: %w", err)
	}
	t, zxid, err := decodeSnapshot(b)
	if err != nil {
		return nil, 0, 0, err
	}
	return t, zxid, int64(len(b)), nil
}

func decodeSnapshot(b []byte) (*tree, int64, error) {
	if len(b) < len(snapshotMagic)+4 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, 0, fmt.Errorf("zkmeta: snapshot: bad magic")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, 0, fmt.Errorf("zkmeta: snapshot: checksum mismatch")
	}
	d := decoder{b: body[len(snapshotMagic):]}
	zxid := d.i64()
	count := d.i64()
	if d.err == nil && (count < 1 || count > int64(len(d.b))) {
		return nil, 0, fmt.Errorf("zkmeta: snapshot: bad node count %d", count)
	}
	t := &tree{nodes: make(map[string]*node, count), ephemerals: map[int64]map[string]struct{}{}}
	for i := int64(0); i < count && d.err == nil; i++ {
		p := d.str()
		n := &node{data: d.bytes()}
		n.stat.Czxid = d.i64()
		n.stat.Mzxid = d.i64()
		n.stat.Pzxid = d.i64()
		n.stat.Ctime = d.i64()
		n.stat.Mtime = d.i64()
		n.stat.Version = d.i32()
		n.stat.Cversion = d.i32()
		n.seq = n.stat.Cversion
		n.stat.EphemeralOwner = d.i64()
		if d.err != nil {
			break
		}
		if p != "/" && validatePath(p) != nil {
			return nil, 0, fmt.Errorf("zkmeta: snapshot: invalid path %q", p)
		}
		t.nodes[p] = n
	}
	if d.err != nil {
		return nil, 0, fmt.Errorf("zkmeta: snapshot: %w", d.err)
	}
	if _, ok := t.nodes["/"]; !ok {
		return nil, 0, fmt.Errorf("zkmeta: snapshot: no root")
	}
	for p, n := range t.nodes {
		if p == "/" {
			continue
		}
		parent, name := splitPath(p)
		pn, ok := t.nodes[parent]
		if !ok {
			return nil, 0, fmt.Errorf("zkmeta: snapshot: %s has no parent", p)
		}
		if pn.children == nil {
			pn.children = map[string]struct{}{}
		}
		pn.children[name] = struct{}{}
		if o := n.stat.EphemeralOwner; o != 0 {
			if t.ephemerals[o] == nil {
				t.ephemerals[o] = map[string]struct{}{}
			}
			t.ephemerals[o][p] = struct{}{}
		}
	}
	return t, zxid, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
