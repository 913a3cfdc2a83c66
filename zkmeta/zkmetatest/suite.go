package zkmetatest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"kbroker/zkmeta"
)

// eventWait bounds how long the suite waits for a watch to fire; quiet is
// how long it watches for events that must not come.
const (
	eventWait = 5 * time.Second
	quiet     = 50 * time.Millisecond
)

// Run runs the conformance suite against the store returned by open.
func Run(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) zkmeta.Store)
	}{
		{"CreatePersistent", testCreatePersistent},
		{"CreateEphemeral", testCreateEphemeral},
		{"CreateSequential", testCreateSequential},
		{"CreateErrors", testCreateErrors},
		{"GetSetVersions", testGetSetVersions},
		{"Delete", testDelete},
		{"ChildrenSorted", testChildrenSorted},
		{"Watches", testWatches},
		{"WatchNotFiredByOtherChanges", testWatchNotFiredByOtherChanges},
		{"MultiCommits", testMultiCommits},
		{"MultiAtomic", testMultiAtomic},
		{"EphemeralsEndWithSession", testEphemeralsEndWithSession},
		{"ContextCanceled", testContextCanceled},
		{"ConcurrentSequential", testConcurrentSequential},
		{"SessionEvents", testSessionEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must checks results that come in pairs: must(t).path(s.Create(...)).
type checker struct{ t *testing.T }

func must(t *testing.T) checker { return checker{t} }

func (c checker) path(p string, err error) string {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("unexpected error: %v", err)
	}
	return p
}

func (c checker) stat(st zkmeta.Stat, err error) zkmeta.Stat {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("unexpected error: %v", err)
	}
	return st
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func create(t *testing.T, s zkmeta.Store, path, data string, mode zkmeta.CreateMode) string {
	t.Helper()
	return must(t).path(s.Create(ctxT(t), path, []byte(data), mode))
}

func expectEvent(t *testing.T, ch <-chan zkmeta.Event, typ zkmeta.EventType, path string) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed without an event, want %v %s", typ, path)
		}
		if ev.Type != typ || ev.Path != path {
			t.Fatalf("got event %v %s, want %v %s", ev.Type, ev.Path, typ, path)
		}
	case <-time.After(eventWait):
		t.Fatalf("no event after %v, want %v %s", eventWait, typ, path)
	}
}

// expectClosed checks that a watch that fired delivers nothing more.
func expectClosed(t *testing.T, ch <-chan zkmeta.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("watch fired twice: second event %v %s", ev.Type, ev.Path)
		}
	case <-time.After(eventWait):
		t.Fatalf("watch channel not closed after its event")
	}
}

func expectQuiet(t *testing.T, ch <-chan zkmeta.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		t.Fatalf("unexpected watch delivery %v %s (open=%v)", ev.Type, ev.Path, ok)
	case <-time.After(quiet):
	}
}

func testCreatePersistent(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	if got := create(t, s, "/a", "hello", zkmeta.ModePersistent); got != "/a" {
		t.Fatalf("created %q, want /a", got)
	}
	data, st := must2(t, s.Get, ctx, "/a")
	if string(data) != "hello" {
		t.Fatalf("data %q, want hello", data)
	}
	if st.Version != 0 || st.Cversion != 0 || st.DataLength != 5 || st.NumChildren != 0 || st.EphemeralOwner != 0 {
		t.Fatalf("fresh stat %+v", st)
	}
	if st.Czxid == 0 || st.Mzxid != st.Czxid || st.Pzxid != st.Czxid || st.Ctime == 0 || st.Mtime != st.Ctime {
		t.Fatalf("fresh stat zxids/times %+v", st)
	}
	create(t, s, "/a/b", "", zkmeta.ModePersistent)
	_, st2 := must2(t, s.Get, ctx, "/a")
	if st2.NumChildren != 1 || st2.Cversion != 1 || st2.Pzxid <= st.Pzxid || st2.Version != 0 || st2.Mzxid != st.Mzxid {
		t.Fatalf("parent stat after child create %+v (before %+v)", st2, st)
	}
	_, bst := must2(t, s.Get, ctx, "/a/b")
	if bst.Czxid <= st.Czxid {
		t.Fatalf("child czxid %d not after parent's %d", bst.Czxid, st.Czxid)
	}
	// Null data reads back as empty.
	must(t).path(s.Create(ctx, "/null", nil, zkmeta.ModePersistent))
	data, st = must2(t, s.Get, ctx, "/null")
	if len(data) != 0 || st.DataLength != 0 {
		t.Fatalf("null data read back as %q (%d)", data, st.DataLength)
	}
	// The caller's buffer is not retained.
	buf := []byte("abc")
	must(t).path(s.Create(ctx, "/copy", buf, zkmeta.ModePersistent))
	buf[0] = 'X'
	if data, _ = must2(t, s.Get, ctx, "/copy"); string(data) != "abc" {
		t.Fatalf("store kept the caller's buffer: %q", data)
	}
	data[0] = 'Y'
	if data, _ = must2(t, s.Get, ctx, "/copy"); string(data) != "abc" {
		t.Fatalf("store handed out its own buffer: %q", data)
	}
}

func must2(t *testing.T, get func(context.Context, string) ([]byte, zkmeta.Stat, error), ctx context.Context, path string) ([]byte, zkmeta.Stat) {
	t.Helper()
	data, st, err := get(ctx, path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return data, st
}

func testCreateEphemeral(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/eph", "x", zkmeta.ModeEphemeral)
	ok, st, err := s.Exists(ctx, "/eph")
	noErr(t, err)
	if !ok || st.EphemeralOwner != s.SessionID() || s.SessionID() == 0 {
		t.Fatalf("ephemeral owner %d, session %d, exists %v", st.EphemeralOwner, s.SessionID(), ok)
	}
	_, err = s.Create(ctx, "/eph/child", nil, zkmeta.ModePersistent)
	wantErr(t, err, zkmeta.ErrNoChildrenForEphemerals)
	other := open(t)
	if other.SessionID() == s.SessionID() {
		t.Fatalf("two sessions share id %d", s.SessionID())
	}
	ok, st, err = other.Exists(ctx, "/eph")
	noErr(t, err)
	if !ok || st.EphemeralOwner != s.SessionID() {
		t.Fatalf("other session sees exists=%v owner=%d", ok, st.EphemeralOwner)
	}
}

func testCreateSequential(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/q", "", zkmeta.ModePersistent)
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, create(t, s, "/q/item-", fmt.Sprint(i), zkmeta.ModePersistentSequential))
	}
	want := []string{"/q/item-0000000000", "/q/item-0000000001", "/q/item-0000000002"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sequential names %v, want %v", got, want)
	}
	// The sequence counts the parent's child creations: other children
	// count, deletes do not (though they count in Cversion), as in ZooKeeper 3.8.
	noErr(t, s.Delete(ctx, "/q/item-0000000002", -1))
	create(t, s, "/q/plain", "", zkmeta.ModePersistent)
	if p := create(t, s, "/q/e-", "", zkmeta.ModeEphemeralSequential); p != "/q/e-0000000004" {
		t.Fatalf("ephemeral sequential %q, want /q/e-0000000004", p)
	}
	if _, qst := must2(t, s.Get, ctx, "/q"); qst.Cversion != 6 {
		t.Fatalf("cversion %d after 5 creates and 1 delete, want 6", qst.Cversion)
	}
	ok, st, err := s.Exists(ctx, "/q/e-0000000004")
	noErr(t, err)
	if !ok || st.EphemeralOwner != s.SessionID() {
		t.Fatalf("ephemeral sequential exists=%v owner=%d", ok, st.EphemeralOwner)
	}
	// A sequential name may be just the suffix.
	if p := create(t, s, "/q/", "", zkmeta.ModePersistentSequential); p != "/q/0000000005" {
		t.Fatalf("bare sequential %q, want /q/0000000005", p)
	}
}

func testCreateErrors(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/exists", "", zkmeta.ModePersistent)
	tests := []struct {
		path string
		mode zkmeta.CreateMode
		want error
	}{
		{"/missing/child", zkmeta.ModePersistent, zkmeta.ErrNoParent},
		{"/missing/child", zkmeta.ModeEphemeral, zkmeta.ErrNoParent},
		{"/missing/child-", zkmeta.ModePersistentSequential, zkmeta.ErrNoParent},
		{"/exists", zkmeta.ModePersistent, zkmeta.ErrNodeExists},
		{"/exists", zkmeta.ModeEphemeral, zkmeta.ErrNodeExists},
		{"relative", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"/trailing/", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"//double", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"/exists/./x", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"/exists/../x", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
		{"/bad\x00char", zkmeta.ModePersistent, zkmeta.ErrBadArguments},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q_%v", tc.path, tc.mode), func(t *testing.T) {
			_, err := s.Create(ctx, tc.path, nil, tc.mode)
			wantErr(t, err, tc.want)
		})
	}
	ok, _, err := s.Exists(ctx, "/missing")
	noErr(t, err)
	if ok {
		t.Fatal("a failed create left /missing behind")
	}
}

func testGetSetVersions(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/v", "0", zkmeta.ModePersistent)
	_, st0 := must2(t, s.Get, ctx, "/v")
	steps := []struct {
		data    string
		version int32
		want    error
		wantVer int32
	}{
		{"1", 0, nil, 1},
		{"x", 0, zkmeta.ErrBadVersion, 1},
		{"x", 5, zkmeta.ErrBadVersion, 1},
		{"2", 1, nil, 2},
		{"3", -1, nil, 3},
		{"", 3, nil, 4},
	}
	last := st0
	for i, step := range steps {
		st, err := s.Set(ctx, "/v", []byte(step.data), step.version)
		if step.want != nil {
			wantErr(t, err, step.want)
		} else {
			noErr(t, err)
			if st.Version != step.wantVer || st.DataLength != int32(len(step.data)) {
				t.Fatalf("step %d: stat %+v, want version %d", i, st, step.wantVer)
			}
			if st.Mzxid <= last.Mzxid || st.Czxid != st0.Czxid || st.Mtime < last.Mtime {
				t.Fatalf("step %d: stat %+v after %+v", i, st, last)
			}
			last = st
		}
		data, got := must2(t, s.Get, ctx, "/v")
		if got.Version != step.wantVer {
			t.Fatalf("step %d: get version %d, want %d", i, got.Version, step.wantVer)
		}
		if got != last {
			t.Fatalf("step %d: get stat %+v, set returned %+v", i, got, last)
		}
		if step.want == nil && string(data) != step.data {
			t.Fatalf("step %d: data %q, want %q", i, data, step.data)
		}
	}
	_, _, err := s.Get(ctx, "/nope")
	wantErr(t, err, zkmeta.ErrNoNode)
	_, err = s.Set(ctx, "/nope", nil, -1)
	wantErr(t, err, zkmeta.ErrNoNode)
	ok, st, err := s.Exists(ctx, "/nope")
	noErr(t, err)
	if ok || st != (zkmeta.Stat{}) {
		t.Fatalf("exists of a missing node: %v %+v", ok, st)
	}
}

func testDelete(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/d", "", zkmeta.ModePersistent)
	create(t, s, "/d/c", "", zkmeta.ModePersistent)
	must(t).stat(s.Set(ctx, "/d/c", []byte("x"), -1))
	_, before := must2(t, s.Get, ctx, "/d")
	tests := []struct {
		path    string
		version int32
		want    error
	}{
		{"/d", -1, zkmeta.ErrNotEmpty},
		{"/d/c", 0, zkmeta.ErrBadVersion},
		{"/d/c", 1, nil},
		{"/d/c", -1, zkmeta.ErrNoNode},
		{"/d/", -1, zkmeta.ErrBadArguments},
		{"/d", 0, nil},
	}
	for i, tc := range tests {
		err := s.Delete(ctx, tc.path, tc.version)
		if tc.want == nil {
			noErr(t, err)
			if i == 2 {
				_, after := must2(t, s.Get, ctx, "/d")
				if after.NumChildren != 0 || after.Cversion != before.Cversion+1 || after.Pzxid <= before.Pzxid {
					t.Fatalf("parent stat after delete %+v (before %+v)", after, before)
				}
			}
		} else {
			wantErr(t, err, tc.want)
		}
	}
	ok, _, err := s.Exists(ctx, "/d")
	noErr(t, err)
	if ok {
		t.Fatal("/d still exists")
	}
}

func testChildrenSorted(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/p", "", zkmeta.ModePersistent)
	names, st, err := s.Children(ctx, "/p")
	noErr(t, err)
	if len(names) != 0 || st.NumChildren != 0 {
		t.Fatalf("children of an empty node: %v %+v", names, st)
	}
	for _, n := range []string{"c", "a", "b10", "aa", "b2", "B"} {
		create(t, s, "/p/"+n, "", zkmeta.ModePersistent)
	}
	create(t, s, "/p/a/deep", "", zkmeta.ModePersistent)
	names, st, err = s.Children(ctx, "/p")
	noErr(t, err)
	want := []string{"B", "a", "aa", "b10", "b2", "c"}
	if !reflect.DeepEqual(names, want) || st.NumChildren != 6 {
		t.Fatalf("children %v (%d), want %v", names, st.NumChildren, want)
	}
	_, _, err = s.Children(ctx, "/nope")
	wantErr(t, err, zkmeta.ErrNoNode)
}

func testWatches(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	type watchFn func(s zkmeta.Store) (<-chan zkmeta.Event, error)
	getW := func(p string) watchFn {
		return func(s zkmeta.Store) (<-chan zkmeta.Event, error) {
			_, _, ch, err := s.GetW(context.Background(), p)
			return ch, err
		}
	}
	existsW := func(p string) watchFn {
		return func(s zkmeta.Store) (<-chan zkmeta.Event, error) {
			_, _, ch, err := s.ExistsW(context.Background(), p)
			return ch, err
		}
	}
	childrenW := func(p string) watchFn {
		return func(s zkmeta.Store) (<-chan zkmeta.Event, error) {
			_, _, ch, err := s.ChildrenW(context.Background(), p)
			return ch, err
		}
	}
	type action func(t *testing.T, s zkmeta.Store)
	setA := func(p string) action {
		return func(t *testing.T, s zkmeta.Store) { must(t).stat(s.Set(ctxT(t), p, []byte("new"), -1)) }
	}
	createA := func(p string) action {
		return func(t *testing.T, s zkmeta.Store) { create(t, s, p, "", zkmeta.ModePersistent) }
	}
	deleteA := func(p string) action {
		return func(t *testing.T, s zkmeta.Store) { noErr(t, s.Delete(ctxT(t), p, -1)) }
	}
	tests := []struct {
		name     string
		setup    []string // persistent nodes to create first
		watch    watchFn
		act      action
		wantType zkmeta.EventType
		wantPath string
		again    action // a second change the spent watch must not report
	}{
		{"GetW/set", []string{"/w"}, getW("/w"), setA("/w"), zkmeta.EventNodeDataChanged, "/w", setA("/w")},
		{"GetW/delete", []string{"/w"}, getW("/w"), deleteA("/w"), zkmeta.EventNodeDeleted, "/w", createA("/w")},
		{"ExistsW/create", nil, existsW("/w"), createA("/w"), zkmeta.EventNodeCreated, "/w", setA("/w")},
		{"ExistsW/set", []string{"/w"}, existsW("/w"), setA("/w"), zkmeta.EventNodeDataChanged, "/w", deleteA("/w")},
		{"ExistsW/delete", []string{"/w"}, existsW("/w"), deleteA("/w"), zkmeta.EventNodeDeleted, "/w", createA("/w")},
		{"ChildrenW/create child", []string{"/w"}, childrenW("/w"), createA("/w/c"), zkmeta.EventNodeChildrenChanged, "/w", createA("/w/d")},
		{"ChildrenW/delete child", []string{"/w", "/w/c"}, childrenW("/w"), deleteA("/w/c"), zkmeta.EventNodeChildrenChanged, "/w", createA("/w/d")},
		{"ChildrenW/delete node", []string{"/w"}, childrenW("/w"), deleteA("/w"), zkmeta.EventNodeDeleted, "/w", createA("/w")},
		{"GetW ignores children", []string{"/w"}, getW("/w"), func(t *testing.T, s zkmeta.Store) {
			createA("/w/c")(t, s)
			setA("/w")(t, s)
		}, zkmeta.EventNodeDataChanged, "/w", setA("/w")},
		{"ChildrenW ignores data", []string{"/w"}, childrenW("/w"), func(t *testing.T, s zkmeta.Store) {
			setA("/w")(t, s)
			createA("/w/c")(t, s)
		}, zkmeta.EventNodeChildrenChanged, "/w", deleteA("/w/c")},
		{"ChildrenW ignores grandchildren", []string{"/w", "/w/c"}, childrenW("/w"), func(t *testing.T, s zkmeta.Store) {
			createA("/w/c/g")(t, s)
			deleteA("/w/c/g")(t, s)
			deleteA("/w/c")(t, s)
		}, zkmeta.EventNodeChildrenChanged, "/w", createA("/w/c")},
	}
	for _, tc := range tests {
		for _, actor := range []string{"same session", "other session"} {
			t.Run(tc.name+"/"+actor, func(t *testing.T) {
				watcher := open(t)
				for _, p := range tc.setup {
					create(t, watcher, p, "", zkmeta.ModePersistent)
				}
				ch, err := tc.watch(watcher)
				noErr(t, err)
				expectQuiet(t, ch)
				doer := watcher
				if actor == "other session" {
					doer = open(t)
				}
				tc.act(t, doer)
				expectEvent(t, ch, tc.wantType, tc.wantPath)
				tc.again(t, doer)
				expectClosed(t, ch)
			})
		}
	}
	t.Run("GetW on a missing node sets no watch", func(t *testing.T) {
		s := open(t)
		_, _, _, err := s.GetW(ctxT(t), "/none")
		wantErr(t, err, zkmeta.ErrNoNode)
		_, _, _, err = s.ChildrenW(ctxT(t), "/none")
		wantErr(t, err, zkmeta.ErrNoNode)
	})
	t.Run("every call registers its own watch", func(t *testing.T) {
		s := open(t)
		create(t, s, "/w", "", zkmeta.ModePersistent)
		var chans []<-chan zkmeta.Event
		for i := 0; i < 3; i++ {
			_, _, ch, err := s.GetW(ctxT(t), "/w")
			noErr(t, err)
			chans = append(chans, ch)
		}
		must(t).stat(s.Set(ctxT(t), "/w", nil, -1))
		for _, ch := range chans {
			expectEvent(t, ch, zkmeta.EventNodeDataChanged, "/w")
		}
	})
	t.Run("unread watches never block writers", func(t *testing.T) {
		s := open(t)
		create(t, s, "/w", "", zkmeta.ModePersistent)
		for i := 0; i < 100; i++ {
			_, _, _, err := s.GetW(ctxT(t), "/w")
			noErr(t, err)
			must(t).stat(s.Set(ctxT(t), "/w", []byte{byte(i)}, -1))
		}
	})
}

func testWatchNotFiredByOtherChanges(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	create(t, s, "/a", "", zkmeta.ModePersistent)
	create(t, s, "/ab", "", zkmeta.ModePersistent)
	_, _, ch, err := s.GetW(ctxT(t), "/a")
	noErr(t, err)
	_, _, ech, err := s.ExistsW(ctxT(t), "/a/x")
	noErr(t, err)
	must(t).stat(s.Set(ctxT(t), "/ab", []byte("1"), -1))
	create(t, s, "/a/y", "", zkmeta.ModePersistent)
	create(t, s, "/b", "", zkmeta.ModePersistent)
	expectQuiet(t, ch)
	expectQuiet(t, ech)
}

func testMultiCommits(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	ctx := ctxT(t)
	create(t, s, "/old", "v0", zkmeta.ModePersistent)
	create(t, s, "/gone", "", zkmeta.ModePersistent)
	_, _, ch, err := s.ChildrenW(ctx, "/")
	noErr(t, err)
	err = s.Multi(ctx,
		zkmeta.CheckOp{Path: "/old", Version: 0},
		zkmeta.CreateOp{Path: "/m", Data: []byte("parent"), Mode: zkmeta.ModePersistent},
		zkmeta.CreateOp{Path: "/m/c", Data: []byte("child"), Mode: zkmeta.ModePersistent},
		zkmeta.SetOp{Path: "/m/c", Data: []byte("child2"), Version: 0},
		zkmeta.SetOp{Path: "/old", Data: []byte("v1"), Version: 0},
		&zkmeta.DeleteOp{Path: "/gone", Version: 0},
		&zkmeta.CheckOp{Path: "/old", Version: 1},
	)
	noErr(t, err)
	expectEvent(t, ch, zkmeta.EventNodeChildrenChanged, "/")
	data, st := must2(t, s.Get, ctx, "/m/c")
	if string(data) != "child2" || st.Version != 1 {
		t.Fatalf("/m/c = %q %+v", data, st)
	}
	_, mst := must2(t, s.Get, ctx, "/m")
	if st.Mzxid != st.Czxid || st.Czxid != mst.Czxid {
		t.Fatalf("a multi is one transaction with one zxid: /m %+v, /m/c %+v", mst, st)
	}
	if data, st = must2(t, s.Get, ctx, "/old"); string(data) != "v1" || st.Version != 1 {
		t.Fatalf("/old = %q %+v", data, st)
	}
	if ok, _, _ := s.Exists(ctx, "/gone"); ok {
		t.Fatal("/gone survived the multi")
	}
	noErr(t, s.Multi(ctx)) // empty multi
}

func testMultiAtomic(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	tests := []struct {
		name      string
		failing   zkmeta.Op
		wantErr   error
		wantIndex int
	}{
		{"check bad version", zkmeta.CheckOp{Path: "/fence", Version: 7}, zkmeta.ErrBadVersion, 4},
		{"check missing", zkmeta.CheckOp{Path: "/none", Version: -1}, zkmeta.ErrNoNode, 4},
		{"create exists", zkmeta.CreateOp{Path: "/fence", Mode: zkmeta.ModePersistent}, zkmeta.ErrNodeExists, 4},
		{"set bad version", zkmeta.SetOp{Path: "/fence", Version: 3}, zkmeta.ErrBadVersion, 4},
		{"delete not empty", zkmeta.DeleteOp{Path: "/new", Version: -1}, zkmeta.ErrNotEmpty, 4},
		{"delete missing", zkmeta.DeleteOp{Path: "/none", Version: -1}, zkmeta.ErrNoNode, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := ctxT(t)
			create(t, s, "/fence", "f", zkmeta.ModePersistent)
			create(t, s, "/victim", "v", zkmeta.ModePersistent)
			create(t, s, "/q", "", zkmeta.ModePersistent)
			_, _, dch, err := s.GetW(ctx, "/victim")
			noErr(t, err)
			_, _, ech, err := s.ExistsW(ctx, "/new")
			noErr(t, err)
			err = s.Multi(ctx,
				zkmeta.CreateOp{Path: "/new", Data: []byte("n"), Mode: zkmeta.ModePersistent},
				zkmeta.CreateOp{Path: "/new/child", Mode: zkmeta.ModePersistent},
				zkmeta.SetOp{Path: "/victim", Data: []byte("changed"), Version: -1},
				zkmeta.CreateOp{Path: "/q/s-", Mode: zkmeta.ModePersistentSequential},
				tc.failing,
				zkmeta.DeleteOp{Path: "/fence", Version: -1},
			)
			wantErr(t, err, tc.wantErr)
			var opErr *zkmeta.OpError
			if !errors.As(err, &opErr) || opErr.Index != tc.wantIndex {
				t.Fatalf("error %v is not an *OpError at index %d", err, tc.wantIndex)
			}
			if ok, _, _ := s.Exists(ctx, "/new"); ok {
				t.Fatal("/new created by an aborted multi")
			}
			data, st := must2(t, s.Get, ctx, "/victim")
			if string(data) != "v" || st.Version != 0 {
				t.Fatalf("/victim changed by an aborted multi: %q %+v", data, st)
			}
			if ok, _, _ := s.Exists(ctx, "/fence"); !ok {
				t.Fatal("/fence deleted by an aborted multi")
			}
			names, qst, err := s.Children(ctx, "/q")
			noErr(t, err)
			if len(names) != 0 || qst.Cversion != 0 {
				t.Fatalf("aborted sequential create left %v (cversion %d)", names, qst.Cversion)
			}
			expectQuiet(t, dch)
			expectQuiet(t, ech)
			// The sequence counter did not move either.
			if p := create(t, s, "/q/s-", "", zkmeta.ModePersistentSequential); p != "/q/s-0000000000" {
				t.Fatalf("sequential after aborted multi %q", p)
			}
		})
	}
}

func testEphemeralsEndWithSession(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	owner := open(t)
	observer := open(t)
	ctx := ctxT(t)
	create(t, owner, "/dir", "", zkmeta.ModePersistent)
	create(t, owner, "/dir/eph", "e", zkmeta.ModeEphemeral)
	seq := create(t, owner, "/dir/seq-", "s", zkmeta.ModeEphemeralSequential)
	create(t, owner, "/dir/keep", "k", zkmeta.ModePersistent)
	create(t, observer, "/dir/mine", "m", zkmeta.ModeEphemeral)
	ok, _, ech, err := observer.ExistsW(ctx, "/dir/eph")
	noErr(t, err)
	if !ok {
		t.Fatal("observer does not see the ephemeral node")
	}
	_, _, cch, err := observer.ChildrenW(ctx, "/dir")
	noErr(t, err)
	_, _, own, err := owner.GetW(ctx, "/dir/keep")
	noErr(t, err)

	noErr(t, owner.Close())
	expectEvent(t, ech, zkmeta.EventNodeDeleted, "/dir/eph")
	expectEvent(t, cch, zkmeta.EventNodeChildrenChanged, "/dir")
	expectEvent(t, own, zkmeta.EventSessionExpired, "/dir/keep")
	names, _, err := observer.Children(ctx, "/dir")
	noErr(t, err)
	if want := []string{"keep", "mine"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("children after the owner closed: %v, want %v (sequential was %s)", names, want, seq)
	}
	_, _, err = owner.Get(ctx, "/dir/keep")
	wantErr(t, err, zkmeta.ErrClosed)
	_, err = owner.Create(ctx, "/x", nil, zkmeta.ModePersistent)
	wantErr(t, err, zkmeta.ErrClosed)
	noErr(t, owner.Close())
}

func testContextCanceled(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	create(t, s, "/c", "", zkmeta.ModePersistent)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := s.Create(ctx, "/new", nil, zkmeta.ModePersistent); return err }},
		{"Get", func() error { _, _, err := s.Get(ctx, "/c"); return err }},
		{"GetW", func() error { _, _, _, err := s.GetW(ctx, "/c"); return err }},
		{"Exists", func() error { _, _, err := s.Exists(ctx, "/c"); return err }},
		{"ExistsW", func() error { _, _, _, err := s.ExistsW(ctx, "/c"); return err }},
		{"Set", func() error { _, err := s.Set(ctx, "/c", []byte("x"), -1); return err }},
		{"Delete", func() error { return s.Delete(ctx, "/c", -1) }},
		{"Children", func() error { _, _, err := s.Children(ctx, "/c"); return err }},
		{"ChildrenW", func() error { _, _, _, err := s.ChildrenW(ctx, "/c"); return err }},
		{"Multi", func() error {
			return s.Multi(ctx, zkmeta.CreateOp{Path: "/new", Mode: zkmeta.ModePersistent})
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.call(), context.Canceled) })
	}
	data, st := must2(t, s.Get, ctxT(t), "/c")
	if len(data) != 0 || st.Version != 0 {
		t.Fatalf("a canceled call changed /c: %q %+v", data, st)
	}
	if ok, _, _ := s.Exists(ctxT(t), "/new"); ok {
		t.Fatal("a canceled call created /new")
	}
}

func testConcurrentSequential(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	a, b := open(t), open(t)
	create(t, a, "/seq", "", zkmeta.ModePersistent)
	const perWorker = 25
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
		errs = make(chan error, 4*perWorker)
	)
	for w, s := range []zkmeta.Store{a, b, a, b} {
		wg.Add(1)
		go func(w int, s zkmeta.Store) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				p, err := s.Create(context.Background(), "/seq/n-", []byte(fmt.Sprint(w)), zkmeta.ModePersistentSequential)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[p] {
					errs <- fmt.Errorf("duplicate sequential name %s", p)
				}
				seen[p] = true
				mu.Unlock()
			}
		}(w, s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	names, _, err := b.Children(ctxT(t), "/seq")
	noErr(t, err)
	if len(names) != 4*perWorker {
		t.Fatalf("%d children, want %d", len(names), 4*perWorker)
	}
	for i, n := range names {
		if want := fmt.Sprintf("n-%010d", i); n != want {
			t.Fatalf("child %d is %s, want %s", i, n, want)
		}
	}
}

func testSessionEvents(t *testing.T, open func(t *testing.T) zkmeta.Store) {
	s := open(t)
	if s.SessionEvents() != s.SessionEvents() {
		t.Fatal("SessionEvents returns a new channel on each call")
	}
	select {
	case ev := <-s.SessionEvents():
		if ev.State != zkmeta.SessionConnected || ev.SessionID != s.SessionID() || ev.SessionID == 0 {
			t.Fatalf("first session event %+v, session %d", ev, s.SessionID())
		}
	case <-time.After(eventWait):
		t.Fatal("no first session event")
	}
	noErr(t, s.Close())
	deadline := time.After(eventWait)
	for {
		select {
		case ev, ok := <-s.SessionEvents():
			if !ok {
				return
			}
			if ev.State == zkmeta.SessionExpired {
				t.Fatalf("Close reported as %+v", ev)
			}
		case <-deadline:
			t.Fatal("session events not closed by Close")
		}
	}
}
