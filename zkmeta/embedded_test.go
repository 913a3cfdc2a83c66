package zkmeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type znode struct {
	data string
	stat Stat
}

// dump walks the whole tree through the Store API.
func dump(t *testing.T, s Store) map[string]znode {
	t.Helper()
	out := map[string]znode{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := s.Get(context.Background(), p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		out[p] = znode{string(data), st}
		names, _, err := s.Children(context.Background(), p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, n := range names {
			walk(joinPath(p, n))
		}
	}
	walk("/")
	return out
}

func openT(t *testing.T, dir string, opts EmbeddedOptions) *Embedded {
	t.Helper()
	e, err := OpenEmbeddedWithOptions(dir, zerolog.Nop(), opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return e
}

func closeT(t *testing.T, e *Embedded) {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func maxZxid(tree map[string]znode) int64 {
	var m int64
	for _, n := range tree {
		m = max(m, n.stat.Czxid, n.stat.Mzxid, n.stat.Pzxid)
	}
	return m
}

// populate makes a tree with every kind of change, ending with an ephemeral.
func populate(t *testing.T, s Store, n int) {
	t.Helper()
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := s.Create(ctx, "/brokers", nil, ModePersistent); return err },
		func() error { _, err := s.Create(ctx, "/brokers/topics", []byte{}, ModePersistent); return err },
		func() error { _, err := s.Create(ctx, "/gone", []byte("x"), ModePersistent); return err },
		func() error { return s.Delete(ctx, "/gone", 0) },
		func() error { _, err := s.Create(ctx, "/q", nil, ModePersistent); return err },
		func() error { _, err := s.Create(ctx, "/q/s-", []byte("1"), ModePersistentSequential); return err },
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/brokers/topics/t%d", i)
		steps = append(steps,
			func() error { _, err := s.Create(ctx, p, []byte("v0"), ModePersistent); return err },
			func() error { _, err := s.Set(ctx, p, []byte(fmt.Sprintf("v1-%d", i)), 0); return err },
		)
	}
	steps = append(steps,
		func() error {
			return s.Multi(ctx, CreateOp{Path: "/m", Mode: ModePersistent}, SetOp{Path: "/q", Data: []byte("q"), Version: -1})
		},
		func() error { _, err := s.Create(ctx, "/brokers/eph", []byte("e"), ModeEphemeral); return err },
	)
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// checkRestart checks the tree after a restart against the one before: the
// ephemerals gone and their parents' child version and pzxid moved on,
// everything else identical.
func checkRestart(t *testing.T, before, after map[string]znode) {
	t.Helper()
	for p, n := range before {
		if n.stat.EphemeralOwner != 0 {
			if _, ok := after[p]; ok {
				t.Errorf("ephemeral %s survived a restart", p)
			}
			parent, _ := splitPath(p)
			if a, b := after[parent].stat, before[parent].stat; a.Cversion != b.Cversion+1 || a.Pzxid <= maxZxid(before) {
				t.Errorf("parent %s of dropped ephemeral: %+v (before %+v)", parent, a, b)
			}
			continue
		}
		got, ok := after[p]
		if !ok {
			t.Errorf("%s lost in a restart", p)
			continue
		}
		if got.data != n.data {
			t.Errorf("%s data %q, want %q", p, got.data, n.data)
		}
		if hadEph(before, p) {
			continue // its stat changed with the dropped ephemeral child
		}
		if got.stat != n.stat {
			t.Errorf("%s stat %+v, want %+v", p, got.stat, n.stat)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared in a restart", p)
		}
	}
}

func hadEph(tree map[string]znode, parent string) bool {
	for p, n := range tree {
		if n.stat.EphemeralOwner != 0 && filepath.Dir(p) == parent {
			return true
		}
	}
	return false
}

func TestEmbeddedReopen(t *testing.T) {
	tests := []struct {
		name    string
		opts    EmbeddedOptions
		compact bool // explicit Compact before close
		reopens int
	}{
		{"journal only", EmbeddedOptions{}, false, 2},
		{"explicit snapshot", EmbeddedOptions{}, true, 2},
		{"automatic compaction", EmbeddedOptions{CompactBytes: 2 << 10}, false, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, tc.opts)
			populate(t, e, 50)
			if tc.compact {
				if err := e.Compact(); err != nil {
					t.Fatal(err)
				}
			}
			before := dump(t, e)
			closeT(t, e)
			if tc.opts.CompactBytes > 0 {
				if _, err := os.Stat(filepath.Join(dir, snapshotFile)); err != nil {
					t.Fatalf("no snapshot after automatic compaction: %v", err)
				}
				st, _ := os.Stat(filepath.Join(dir, journalFile))
				if st.Size() > 4*tc.opts.CompactBytes {
					t.Fatalf("journal is %d bytes after compaction at %d", st.Size(), tc.opts.CompactBytes)
				}
			}
			for i := 0; i < tc.reopens; i++ {
				e = openT(t, dir, tc.opts)
				after := dump(t, e)
				if i == 0 {
					checkRestart(t, before, after)
				} else if !reflect.DeepEqual(after, before) {
					t.Fatalf("reopen %d changed the tree", i)
				}
				last := maxZxid(after)
				p, err := e.Create(context.Background(), fmt.Sprintf("/after%d", i), nil, ModePersistent)
				if err != nil {
					t.Fatal(err)
				}
				_, st, _ := e.Get(context.Background(), p)
				if st.Czxid <= last {
					t.Fatalf("zxid went back after reopen: %d <= %d", st.Czxid, last)
				}
				if i == 0 && tc.compact {
					if err := e.Compact(); err != nil {
						t.Fatal(err)
					}
				}
				before = dump(t, e)
				closeT(t, e)
			}
		})
	}
}

func TestEmbeddedTornJournalTail(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(b []byte, lastFrame int) []byte
		keepLast bool // the last record survives the damage
	}{
		{"cut inside last frame", func(b []byte, last int) []byte { return b[:len(b)-3] }, false},
		{"cut inside last header", func(b []byte, last int) []byte { return b[:last+5] }, false},
		{"flipped byte in last frame", func(b []byte, last int) []byte { b[len(b)-2] ^= 0xff; return b }, false},
		{"garbage appended", func(b []byte, last int) []byte { return append(b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) }, true},
		{"huge length appended", func(b []byte, last int) []byte {
			return append(b, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 1, 2)
		}, true},
		{"zeros appended", func(b []byte, last int) []byte { return append(b, make([]byte, 4096)...) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, EmbeddedOptions{})
			ctx := context.Background()
			for i := 0; i < 5; i++ {
				if _, err := e.Create(ctx, fmt.Sprintf("/n%d", i), []byte("data"), ModePersistent); err != nil {
					t.Fatal(err)
				}
			}
			jpath := filepath.Join(dir, journalFile)
			st, _ := os.Stat(jpath)
			lastFrame := st.Size()
			if _, err := e.Create(ctx, "/last", []byte("last"), ModePersistent); err != nil {
				t.Fatal(err)
			}
			closeT(t, e)
			b, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			good := len(b)
			b = tc.damage(b, int(lastFrame))
			if err := os.WriteFile(jpath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			e = openT(t, dir, EmbeddedOptions{})
			st, _ = os.Stat(jpath)
			wantSize := int64(good)
			if !tc.keepLast {
				wantSize = lastFrame
			}
			if st.Size() != wantSize {
				t.Fatalf("journal is %d bytes after open, want %d", st.Size(), wantSize)
			}
			for i := 0; i < 5; i++ {
				if ok, _, _ := e.Exists(ctx, fmt.Sprintf("/n%d", i)); !ok {
					t.Fatalf("/n%d lost", i)
				}
			}
			if ok, _, _ := e.Exists(ctx, "/last"); ok != tc.keepLast {
				t.Fatalf("/last exists=%v, want %v", ok, tc.keepLast)
			}
			// The store goes on appending after the cut, and that survives.
			if _, err := e.Create(ctx, "/again", nil, ModePersistent); err != nil {
				t.Fatal(err)
			}
			closeT(t, e)
			e = openT(t, dir, EmbeddedOptions{})
			defer closeT(t, e)
			if ok, _, _ := e.Exists(ctx, "/again"); !ok {
				t.Fatal("/again lost after reopen")
			}
		})
	}
}

// A crash between writing a snapshot and emptying the journal leaves
// records the snapshot already holds; replay must skip them.
func TestEmbeddedJournalOverlappingSnapshot(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, EmbeddedOptions{})
	populate(t, e, 10)
	jpath := filepath.Join(dir, journalFile)
	old, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Compact(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(jpath); st.Size() != 0 {
		t.Fatalf("journal not emptied by compaction: %d bytes", st.Size())
	}
	if _, err := e.Set(context.Background(), "/q", []byte("post"), -1); err != nil {
		t.Fatal(err)
	}
	before := dump(t, e)
	closeT(t, e)
	post, _ := os.ReadFile(jpath)
	if err := os.WriteFile(jpath, append(old, post...), 0o644); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir, EmbeddedOptions{})
	defer closeT(t, e)
	checkRestart(t, before, dump(t, e))
}

func TestEmbeddedCorruptSnapshotRefused(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, EmbeddedOptions{})
	populate(t, e, 3)
	if err := e.Compact(); err != nil {
		t.Fatal(err)
	}
	closeT(t, e)
	p := filepath.Join(dir, snapshotFile)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if e, err := OpenEmbedded(dir, zerolog.Nop()); err == nil {
		_ = e.Close()
		t.Fatal("opened a store with a corrupt snapshot")
	}
}

func TestEmbeddedLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, EmbeddedOptions{})
	if e2, err := OpenEmbedded(dir, zerolog.Nop()); err == nil {
		_ = e2.Close()
		t.Fatal("opened the same directory twice")
	}
	closeT(t, e)
	closeT(t, openT(t, dir, EmbeddedOptions{}))
}

func TestEmbeddedManyCreatesFast(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, EmbeddedOptions{})
	ctx := context.Background()
	const n = 10000
	start := time.Now()
	if _, err := e.Create(ctx, "/t", nil, ModePersistent); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		data := []byte(`{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}`)
		if _, err := e.Create(ctx, fmt.Sprintf("/t/%d", i), data, ModePersistent); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	closeT(t, e)
	start = time.Now()
	e = openT(t, dir, EmbeddedOptions{})
	reopen := time.Since(start)
	defer closeT(t, e)
	_, st, err := e.Get(ctx, "/t")
	if err != nil || st.NumChildren != n {
		t.Fatalf("after reopen: %d children, %v", st.NumChildren, err)
	}
	t.Logf("%d creates in %v, reopen in %v", n, took, reopen)
	if took > 10*time.Second || reopen > 5*time.Second {
		t.Fatalf("too slow: %d creates in %v, reopen in %v", n, took, reopen)
	}
}

func TestEmbeddedSessions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openT(t, dir, EmbeddedOptions{})
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/eph", nil, ModeEphemeral); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := s.GetW(ctx, "/eph")
	if err != nil {
		t.Fatal(err)
	}
	_, _, other, err := e.ExistsW(ctx, "/eph")
	if err != nil {
		t.Fatal(err)
	}
	oldID := s.SessionID()
	if ev := <-s.SessionEvents(); ev != (SessionEvent{State: SessionConnected, SessionID: oldID}) {
		t.Fatalf("first session event %+v", ev)
	}
	if err := s.Expire(); err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.Type != EventSessionExpired || ev.Path != "/eph" {
		t.Fatalf("own watch got %+v", ev)
	}
	if ev := <-other; ev.Type != EventNodeDeleted {
		t.Fatalf("other session's watch got %+v", ev)
	}
	// The session goes on under a new id, like a ZooKeeper client after expiry.
	newID := s.SessionID()
	if newID == oldID || newID == 0 {
		t.Fatalf("session id %d after expiry of %d", newID, oldID)
	}
	for _, want := range []SessionEvent{{SessionExpired, oldID}, {SessionConnected, newID}} {
		if ev := <-s.SessionEvents(); ev != want {
			t.Fatalf("session event %+v, want %+v", ev, want)
		}
	}
	if _, err := s.Create(ctx, "/eph", nil, ModeEphemeral); err != nil {
		t.Fatalf("create after expiry: %v", err)
	}
	if _, st, err := e.Get(ctx, "/eph"); err != nil || st.EphemeralOwner != newID {
		t.Fatalf("ephemeral after expiry: owner %d, %v", st.EphemeralOwner, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-s.SessionEvents(); ok {
		t.Fatal("session events not closed by Close")
	}
	if err := s.Expire(); err != nil {
		t.Fatalf("expire after close: %v", err)
	}
	if _, _, err := s.Get(ctx, "/"); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed session: %v", err)
	}
	if ok, _, _ := e.Exists(ctx, "/eph"); ok {
		t.Fatal("ephemeral of the new session survived Close")
	}
	// Closing the store ends the remaining sessions.
	s2, _ := e.NewSession()
	if _, err := s2.Create(ctx, "/eph2", nil, ModeEphemeral); err != nil {
		t.Fatal(err)
	}
	closeT(t, e)
	if _, _, err := s2.Get(ctx, "/"); !errors.Is(err, ErrClosed) {
		t.Fatalf("session of a closed store: %v", err)
	}
	if _, err := e.NewSession(); !errors.Is(err, ErrClosed) {
		t.Fatalf("new session on a closed store: %v", err)
	}
	closeT(t, e) // idempotent
	e = openT(t, dir, EmbeddedOptions{})
	defer closeT(t, e)
	if ok, _, _ := e.Exists(ctx, "/eph2"); ok {
		t.Fatal("ephemeral of a closed session survived")
	}
}

func TestEmbeddedBadArguments(t *testing.T) {
	e := openT(t, t.TempDir(), EmbeddedOptions{MaxDataSize: 10})
	defer closeT(t, e)
	ctx := context.Background()
	if _, err := e.Create(ctx, "/a", bytes.Repeat([]byte{1}, 11), ModePersistent); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("create too large: %v", err)
	}
	if _, err := e.Create(ctx, "/a", bytes.Repeat([]byte{1}, 10), ModePersistent); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, "/a", bytes.Repeat([]byte{1}, 11), -1); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("set too large: %v", err)
	}
	if _, err := e.Create(ctx, "/b", nil, CreateMode(9)); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := e.Create(ctx, "/", nil, ModePersistent); !errors.Is(err, ErrNodeExists) {
		t.Fatalf("create root: %v", err)
	}
	if err := e.Delete(ctx, "/", -1); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("delete root: %v", err)
	}
	for _, op := range []Op{nil, (*CreateOp)(nil), (*SetOp)(nil), (*DeleteOp)(nil), (*CheckOp)(nil)} {
		if err := e.Multi(ctx, op); !errors.Is(err, ErrBadArguments) || err.Error() == "" {
			t.Fatalf("nil op %T: %v", op, err)
		}
	}
}

// FuzzScanJournal feeds arbitrary bytes to the journal scanner: it must
// never panic, and the valid prefix must rescan to the same records.
func FuzzScanJournal(f *testing.F) {
	f.Add(encodeRecord(record{zxid: 1, time: 1, muts: []mutation{{kind: mutCreate, path: "/a", data: []byte("x")}}}))
	f.Add(append(encodeRecord(record{zxid: 2, muts: []mutation{{kind: mutDelete, path: "/a"}}}), 0, 0, 0, 1))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, valid, err := scanJournal(b)
		if err != nil {
			return
		}
		if valid < 0 || valid > int64(len(b)) {
			t.Fatalf("valid prefix %d of %d bytes", valid, len(b))
		}
		again, valid2, err := scanJournal(b[:valid])
		if err != nil || valid2 != valid || len(again) != len(recs) {
			t.Fatalf("rescan of the valid prefix: %d records, %d bytes, %v", len(again), valid2, err)
		}
	})
}

// FuzzDecodeSnapshot: arbitrary snapshot bytes never panic.
func FuzzDecodeSnapshot(f *testing.F) {
	var buf bytes.Buffer
	tr := newTree()
	_, _ = tr.create("/a", []byte("x"), 0, 1, 1)
	if _, err := writeSnapshotTo(&buf, tr, 1); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodeSnapshot(b)
	})
}

func TestJournalRecordRoundTrip(t *testing.T) {
	recs := []record{
		{zxid: 1, time: 2, muts: []mutation{{kind: mutCreate, path: "/a", data: nil, owner: 7}}},
		{zxid: 3, time: 4, muts: []mutation{
			{kind: mutCreate, path: "/a/b", data: []byte{}},
			{kind: mutSet, path: "/a", data: []byte("xyz")},
			{kind: mutDelete, path: "/a/b"},
		}},
	}
	var b []byte
	for _, r := range recs {
		b = append(b, encodeRecord(r)...)
	}
	got, valid, err := scanJournal(b)
	if err != nil || valid != int64(len(b)) {
		t.Fatalf("scan: %v, valid %d of %d", err, valid, len(b))
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, recs)
	}
}
