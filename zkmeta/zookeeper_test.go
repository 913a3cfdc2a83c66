//go:build unix

package zkmeta_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"kbroker/zkmeta"
	"kbroker/zkmeta/zkmetatest"
)

// chrootSeq numbers the chroots of this test binary's stores; the server's
// data directory is fresh for each binary, so names never collide.
var chrootSeq atomic.Int64

func newChroot(prefix string) string {
	return fmt.Sprintf("/%s/%d", prefix, chrootSeq.Add(1))
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// openZK opens a store on connect and closes it when t ends.
func openZK(t *testing.T, connect string, sessionTimeout time.Duration) *zkmeta.ZooKeeper {
	t.Helper()
	z, err := zkmeta.OpenZooKeeper(ctxFor(t, 20*time.Second), connect, sessionTimeout, testLogger(t))
	if err != nil {
		t.Fatalf("open %s: %v", connect, err)
	}
	t.Cleanup(func() {
		if err := z.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return z
}

// TestZooKeeperConformance runs the Store conformance suite against a real
// ZooKeeper: every subtest gets a chroot of its own, and every open within
// it a new session under that chroot.
func TestZooKeeperConformance(t *testing.T) {
	srv := zooKeeper(t)
	t.Logf("ZooKeeper server %s started in %v", srv.addr, srv.startup)
	var (
		mu    sync.Mutex
		roots = map[*testing.T]string{}
	)
	start := time.Now()
	defer func() { t.Logf("conformance suite against ZooKeeper: %v", time.Since(start)) }()
	zkmetatest.Run(t, func(t *testing.T) zkmeta.Store {
		mu.Lock()
		root, ok := roots[t]
		if !ok {
			root = newChroot("conformance")
			roots[t] = root
		}
		mu.Unlock()
		return openZK(t, srv.addr+root, 6*time.Second)
	})
}

func TestZooKeeperChroot(t *testing.T) {
	srv := zooKeeper(t)
	ctx := ctxFor(t, 30*time.Second)
	root := newChroot("chroot") + "/deep/er"
	plain := openZK(t, srv.addr, 6*time.Second)
	if ok, _, err := plain.Exists(ctx, root); err != nil || ok {
		t.Fatalf("chroot exists before the first open: %v %v", ok, err)
	}
	z := openZK(t, srv.addr+root, 6*time.Second)
	ok, st, err := plain.Exists(ctx, root)
	if err != nil || !ok || st.EphemeralOwner != 0 {
		t.Fatalf("chroot %s not created as a persistent znode: %v %+v %v", root, ok, st, err)
	}

	_, _, ch, err := z.ChildrenW(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create(ctx, "/a", []byte("x"), zkmeta.ModePersistent); err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev != (zkmeta.Event{Type: zkmeta.EventNodeChildrenChanged, Path: "/"}) {
		t.Fatalf("chroot child watch got %+v", ev)
	}
	seq, err := z.Create(ctx, "/a/s-", nil, zkmeta.ModePersistentSequential)
	if err != nil || seq != "/a/s-0000000000" {
		t.Fatalf("sequential create under chroot: %q %v", seq, err)
	}
	_, _, dch, err := z.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Set(ctx, root+"/a", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if ev := <-dch; ev != (zkmeta.Event{Type: zkmeta.EventNodeDataChanged, Path: "/a"}) {
		t.Fatalf("data watch under chroot got %+v", ev)
	}
	if data, _, err := z.Get(ctx, "/a"); err != nil || string(data) != "y" {
		t.Fatalf("get under chroot: %q %v", data, err)
	}
	if names, _, err := z.Children(ctx, "/"); err != nil || !reflect.DeepEqual(names, []string{"a"}) {
		t.Fatalf("children of the chroot: %v %v", names, err)
	}
	err = z.Multi(ctx, zkmeta.CheckOp{Path: "/a", Version: 1}, zkmeta.CreateOp{Path: "/b", Mode: zkmeta.ModePersistent})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := plain.Exists(ctx, root+"/b"); err != nil || !ok {
		t.Fatalf("multi under chroot did not create %s/b: %v", root, err)
	}
	// Opening again with an existing chroot is fine; "/" is no chroot.
	again := openZK(t, srv.addr+root, 6*time.Second)
	if ok, _, err := again.Exists(ctx, "/b"); err != nil || !ok {
		t.Fatalf("second open of the chroot: %v %v", ok, err)
	}
	slash := openZK(t, srv.addr+"/", 6*time.Second)
	if ok, _, err := slash.Exists(ctx, root+"/a"); err != nil || !ok {
		t.Fatalf("chroot / is not the root: %v %v", ok, err)
	}
}

func TestZooKeeperCloseDeletesEphemerals(t *testing.T) {
	srv := zooKeeper(t)
	ctx := ctxFor(t, 30*time.Second)
	root := newChroot("close")
	owner := openZK(t, srv.addr+root, 6*time.Second)
	observer := openZK(t, srv.addr+root, 6*time.Second)
	if _, err := owner.Create(ctx, "/eph", []byte("e"), zkmeta.ModeEphemeral); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create(ctx, "/keep", nil, zkmeta.ModePersistent); err != nil {
		t.Fatal(err)
	}
	ok, st, ch, err := observer.ExistsW(ctx, "/eph")
	if err != nil || !ok || st.EphemeralOwner != owner.SessionID() {
		t.Fatalf("observer sees %v %+v %v (owner session %d)", ok, st, err, owner.SessionID())
	}
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returns once ZooKeeper has ended the session: the ephemeral is
	// already gone for every other session.
	if ok, _, err := observer.Exists(ctx, "/eph"); err != nil || ok {
		t.Fatalf("ephemeral still there right after Close: %v %v", ok, err)
	}
	select {
	case ev := <-ch:
		if ev != (zkmeta.Event{Type: zkmeta.EventNodeDeleted, Path: "/eph"}) {
			t.Fatalf("observer's watch got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("observer's watch did not fire")
	}
	if ok, _, err := observer.Exists(ctx, "/keep"); err != nil || !ok {
		t.Fatalf("persistent znode gone with its creator's session: %v %v", ok, err)
	}
	if _, _, err := owner.Get(ctx, "/keep"); !errors.Is(err, zkmeta.ErrClosed) {
		t.Fatalf("get on a closed store: %v", err)
	}
}

// nextSessionEvent waits for the next session event of s.
func nextSessionEvent(t *testing.T, s zkmeta.Store, within time.Duration) zkmeta.SessionEvent {
	t.Helper()
	select {
	case ev, ok := <-s.SessionEvents():
		if !ok {
			t.Fatal("session events closed")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no session event within %v", within)
	}
	return zkmeta.SessionEvent{}
}

// TestZooKeeperSessionExpiry cuts the network between a store and
// ZooKeeper for longer than the session timeout: ZooKeeper expires the
// session (its ephemeral znode goes, as another session sees), and once the
// network is back the store reports the expiry, its pending watches end
// with EventSessionExpired, and it goes on with a new session in which the
// ephemeral can be registered again.
func TestZooKeeperSessionExpiry(t *testing.T) {
	srv := zooKeeper(t)
	ctx := ctxFor(t, 60*time.Second)
	root := newChroot("expiry")
	proxy := newTCPProxy(t, srv.addr)
	const timeout = time.Second // the server's minSessionTimeout
	z := openZK(t, proxy.addr()+root, timeout)
	observer := openZK(t, srv.addr+root, 6*time.Second)

	oldID := z.SessionID()
	if ev := nextSessionEvent(t, z, time.Second); ev != (zkmeta.SessionEvent{State: zkmeta.SessionConnected, SessionID: oldID}) {
		t.Fatalf("first session event %+v, session %d", ev, oldID)
	}
	if _, err := z.Create(ctx, "/broker", []byte("1"), zkmeta.ModeEphemeral); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create(ctx, "/w", nil, zkmeta.ModePersistent); err != nil {
		t.Fatal(err)
	}
	_, _, pending, err := z.GetW(ctx, "/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, gone, err := observer.ExistsW(ctx, "/broker")
	if err != nil {
		t.Fatal(err)
	}

	cut := time.Now()
	proxy.setCut(true)
	if ev := nextSessionEvent(t, z, 5*time.Second); ev != (zkmeta.SessionEvent{State: zkmeta.SessionDisconnected, SessionID: oldID}) {
		t.Fatalf("after the cut: %+v", ev)
	}
	shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, _, err = z.Get(shortCtx, "/w")
	cancel()
	if !errors.Is(err, zkmeta.ErrConnectionLoss) {
		t.Fatalf("get while cut off: %v, want ErrConnectionLoss", err)
	}
	select {
	case ev := <-gone:
		if ev != (zkmeta.Event{Type: zkmeta.EventNodeDeleted, Path: "/broker"}) {
			t.Fatalf("observer's watch got %+v", ev)
		}
	case <-time.After(10 * timeout):
		t.Fatal("ZooKeeper did not expire the session")
	}
	t.Logf("session expired on the server %v after the cut", time.Since(cut))

	proxy.setCut(false)
	restored := time.Now()
	if ev := nextSessionEvent(t, z, 10*time.Second); ev != (zkmeta.SessionEvent{State: zkmeta.SessionExpired, SessionID: oldID}) {
		t.Fatalf("after the network came back: %+v", ev)
	}
	ev := nextSessionEvent(t, z, 10*time.Second)
	if ev.State != zkmeta.SessionConnected || ev.SessionID == oldID || ev.SessionID == 0 {
		t.Fatalf("after the expiry: %+v (old session %d)", ev, oldID)
	}
	t.Logf("new session %v after the network came back", time.Since(restored))
	if z.SessionID() != ev.SessionID {
		t.Fatalf("SessionID %d, event says %d", z.SessionID(), ev.SessionID)
	}
	select {
	case wev := <-pending:
		if wev != (zkmeta.Event{Type: zkmeta.EventSessionExpired, Path: "/w"}) {
			t.Fatalf("pending watch got %+v", wev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending watch not ended by the expiry")
	}
	// The broker registers again in the new session.
	if _, err := z.Create(ctx, "/broker", []byte("2"), zkmeta.ModeEphemeral); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	ok, st, err := observer.Exists(ctx, "/broker")
	if err != nil || !ok || st.EphemeralOwner != ev.SessionID {
		t.Fatalf("re-registered ephemeral: %v %+v %v", ok, st, err)
	}
}

func TestParseConnect(t *testing.T) {
	tests := []struct {
		connect string
		servers []string
		chroot  string
		err     bool
	}{
		{"127.0.0.1:2181", []string{"127.0.0.1:2181"}, "", false},
		{"a:1,b:2,c:3/kafka", []string{"a:1", "b:2", "c:3"}, "/kafka", false},
		{"a:1/kafka/cluster-1", []string{"a:1"}, "/kafka/cluster-1", false},
		{"a", []string{"a:2181"}, "", false},
		{"a:1,b/x", []string{"a:1", "b:2181"}, "/x", false},
		{" a:1 , b:2 ", []string{"a:1", "b:2"}, "", false},
		{"[::1]:2181/k", []string{"[::1]:2181"}, "/k", false},
		{"a:1/", []string{"a:1"}, "", false},
		{"", nil, "", true},
		{"/kafka", nil, "", true},
		{"a:1/kafka/", nil, "", true},
		{"a:1/ka//fka", nil, "", true},
		{":1", nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.connect, func(t *testing.T) {
			servers, chroot, err := zkmeta.ParseConnect(tc.connect)
			if tc.err {
				if !errors.Is(err, zkmeta.ErrBadArguments) {
					t.Fatalf("got %v %q %v, want ErrBadArguments", servers, chroot, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(servers, tc.servers) || chroot != tc.chroot {
				t.Fatalf("got %v %q %v, want %v %q", servers, chroot, err, tc.servers, tc.chroot)
			}
		})
	}
}
