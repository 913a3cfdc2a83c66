package integration

// Cluster harness: a real ZooKeeper process (the launcher that
// scripts/install-zookeeper.sh puts in .cache/zookeeper) and three broker
// processes on 127.0.0.1 with their own log directories, plus helpers that
// ask a chosen live broker for metadata, kill -9 / SIGSTOP / SIGCONT /
// restart brokers, restart ZooKeeper and wait for leaders, controllers and
// ISRs. Cluster tests are not parallel: they share two cores with everything
// else and measure failover times.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// clusterSessionTimeout is zookeeper.session.timeout.ms of cluster
	// brokers: how long ZooKeeper keeps a dead broker's ephemeral znodes.
	clusterSessionTimeout = 6 * time.Second
	// clusterElectionSlack is what a failover may take beyond the session
	// timeout: ZooKeeper's expiry tick, the controller's watch, the election
	// and the LeaderAndIsr/UpdateMetadata round, on two busy cores.
	clusterElectionSlack = 4 * time.Second
	// zkReadyTimeout bounds a ZooKeeper (JVM) start.
	zkReadyTimeout = 60 * time.Second
	// zkChroot is the chroot of cluster brokers in zookeeper.connect.
	zkChroot = "/kbroker"
)

// zkProcess is a standalone ZooKeeper server child process; it can be
// killed and restarted on the same port and data directory.
type zkProcess struct {
	t        testing.TB
	launcher string
	port     int
	dataDir  string
	out      *syncBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// zkLauncher is the path of the ZooKeeper launcher; the test fails when it
// has not been installed.
func zkLauncher(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, ".cache", "zookeeper", "bin", "zk-server")
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("ZooKeeper launcher %s is missing (%v): run make deps (scripts/install-zookeeper.sh)", p, err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is not installed, ZooKeeper cannot run: run make deps")
	}
	return p
}

// startZooKeeper starts a ZooKeeper server on a free port with a fresh data
// directory, waits until it serves, and kills it at cleanup.
func startZooKeeper(t testing.TB) *zkProcess {
	t.Helper()
	z := &zkProcess{t: t, launcher: zkLauncher(t), port: freePort(t), dataDir: t.TempDir(), out: &syncBuffer{}}
	t.Cleanup(func() {
		z.Kill()
		if t.Failed() {
			t.Logf("zookeeper output (port %d):\n%s", z.port, z.out.String())
		}
	})
	if err := z.start(); err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	if err := z.waitReady(zkReadyTimeout); err != nil {
		t.Fatalf("zookeeper not ready: %v", err)
	}
	return z
}

// Addr is ZooKeeper's client address.
func (z *zkProcess) Addr() string { return "127.0.0.1:" + strconv.Itoa(z.port) }

func (z *zkProcess) start() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd != nil {
		select {
		case <-z.exited:
		default:
			return errors.New("zookeeper already running")
		}
	}
	z.starts++
	fmt.Fprintf(z.out, "----- start #%d: %s %d %s\n", z.starts, z.launcher, z.port, z.dataDir)
	cmd := exec.Command(z.launcher, strconv.Itoa(z.port), z.dataDir)
	cmd.Stdout, cmd.Stderr = z.out, z.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", z.launcher, err)
	}
	exited := make(chan struct{})
	z.cmd, z.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

// fourLetter sends a ZooKeeper four-letter command and returns the answer.
func (z *zkProcess) fourLetter(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", z.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// waitReady polls `srvr` until the server reports it is serving.
func (z *zkProcess) waitReady(timeout time.Duration) error {
	z.mu.Lock()
	exited := z.exited
	z.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("zookeeper exited before serving")
		default:
		}
		out, err := z.fourLetter("srvr")
		if err == nil && strings.Contains(out, "Mode: standalone") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper on %s not serving after %v: %v %q", z.Addr(), timeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the JVM to be reaped.
func (z *zkProcess) Kill() {
	z.mu.Lock()
	cmd, exited := z.cmd, z.exited
	z.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(exitTimeout):
		z.t.Errorf("zookeeper still running %v after SIGKILL", exitTimeout)
	}
}

// Restart starts the killed server again on the same port and data.
func (z *zkProcess) Restart(t testing.TB) {
	t.Helper()
	if err := z.start(); err != nil {
		t.Fatalf("restart zookeeper: %v", err)
	}
	if err := z.waitReady(zkReadyTimeout); err != nil {
		t.Fatalf("restart zookeeper: %v", err)
	}
}

// ephemerals lists the ephemeral znodes ZooKeeper holds (`dump`).
func (z *zkProcess) ephemerals() ([]string, error) {
	out, err := z.fourLetter("dump")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, line := range strings.Split(out, "\n") {
		if p := strings.TrimSpace(line); strings.HasPrefix(p, "/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// testCluster is ZooKeeper plus brokers with ids 1..n, each with a probe
// client that talks to that broker only.
type testCluster struct {
	t         testing.TB
	zk        *zkProcess
	ids       []int32
	brokers   map[int32]*Broker
	overrides []string // the test's overrides, for brokers added later
	listener  string   // the name of each broker's one listener ("" = PLAINTEXT)

	mu     sync.Mutex
	probes map[int32]*kgo.Client
	down   map[int32]string // id -> "killed" or "frozen"

	clientOpts []kgo.Opt // TLS and SASL of a secure cluster's clients
}

// clusterOverrides are the settings of every cluster broker besides its id,
// listener and log.dirs; test overrides come after them and win.
func clusterOverrides(zk *zkProcess) []string {
	return []string{
		"zookeeper.connect=" + zk.Addr() + zkChroot,
		"zookeeper.session.timeout.ms=" + strconv.Itoa(int(clusterSessionTimeout/time.Millisecond)),
		"default.replication.factor=3",
		"min.insync.replicas=2",
		"offsets.topic.replication.factor=3",
		"offsets.topic.num.partitions=10",
		"replica.lag.time.max.ms=10000",
		"group.initial.rebalance.delay.ms=0",
	}
}

// startCluster starts ZooKeeper and three brokers (ids 1, 2, 3) with
// clusterOverrides then overrides, and waits until every broker is in the
// cluster's metadata and a controller is elected.
func startCluster(t testing.TB, overrides ...string) *testCluster {
	t.Helper()
	return startClusterOn(t, startZooKeeper(t), "", nil, overrides...)
}

// startClusterOn is startCluster on a running ZooKeeper, each broker's one listener named
// listener (PLAINTEXT when empty), and clientOpts (TLS, SASL) in every client the harness
// makes.
func startClusterOn(t testing.TB, zk *zkProcess, listener string, clientOpts []kgo.Opt, overrides ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, zk: zk, brokers: map[int32]*Broker{}, overrides: overrides, listener: listener, probes: map[int32]*kgo.Client{},
		down: map[int32]string{}, clientOpts: clientOpts}
	for id := int32(1); id <= 3; id++ {
		ov := append([]string{"broker.id=" + strconv.Itoa(int(id))}, clusterOverrides(zk)...)
		b := newBroker(t, brokerOpts{listener: listener, overrides: append(ov, overrides...)})
		// A broker left frozen by a failed test is continued before the
		// harness kills it (cleanups run last-registered first).
		t.Cleanup(func() { b.signal(syscall.SIGCONT) })
		c.ids = append(c.ids, id)
		c.brokers[id] = b
	}
	for _, id := range c.ids {
		if err := c.brokers[id].launch(); err != nil {
			t.Fatalf("start broker %d: %v", id, err)
		}
	}
	for _, id := range c.ids {
		if err := c.brokers[id].waitReady(readyTimeout); err != nil {
			t.Fatalf("broker %d not ready: %v", id, err)
		}
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.probes {
			p.Close()
		}
	})
	c.waitFormed(t, 30*time.Second)
	return c
}

// addBroker starts one more broker, id, with the cluster's settings and waits until the
// cluster lists it (a broker joining a running cluster holds no partitions until some are
// assigned or reassigned to it).
func (c *testCluster) addBroker(t testing.TB, id int32) {
	t.Helper()
	if _, ok := c.brokers[id]; ok {
		t.Fatalf("broker %d is already in the cluster", id)
	}
	ov := append([]string{"broker.id=" + strconv.Itoa(int(id))}, clusterOverrides(c.zk)...)
	b := newBroker(t, brokerOpts{listener: c.listener, overrides: append(ov, c.overrides...)})
	t.Cleanup(func() { b.signal(syscall.SIGCONT) })
	if err := b.launch(); err != nil {
		t.Fatalf("start broker %d: %v", id, err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatalf("broker %d not ready: %v", id, err)
	}
	c.mu.Lock()
	c.ids = append(c.ids, id)
	c.brokers[id] = b
	c.mu.Unlock()
	c.waitFormed(t, 30*time.Second)
}

// broker is the process of broker id.
func (c *testCluster) broker(id int32) *Broker {
	b, ok := c.brokers[id]
	if !ok {
		c.t.Fatalf("no broker %d in the cluster", id)
	}
	return b
}

// seeds are the addresses of every broker.
func (c *testCluster) seeds() []string {
	var s []string
	for _, id := range c.ids {
		s = append(s, c.brokers[id].Addr())
	}
	return s
}

// client is a kgo client seeded with every broker, closed at cleanup.
func (c *testCluster) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, c.broker(c.ids[0]), append(append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...)}, c.clientOpts...), opts...)...)
}

// up lists the brokers neither killed nor frozen by the test.
func (c *testCluster) up() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int32
	for _, id := range c.ids {
		if _, gone := c.down[id]; !gone {
			out = append(out, id)
		}
	}
	return out
}

// probe is a client whose seed connection goes to broker id only.
func (c *testCluster) probe(id int32) *kgo.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.probes[id]
	if !ok {
		var err error
		p, err = kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(c.brokers[id].Addr()),
			kgo.ClientID("kbroker-it-probe"),
			kgo.DialTimeout(2 * time.Second),
			kgo.RequestTimeoutOverhead(5 * time.Second),
		}, c.clientOpts...)...)
		if err != nil {
			c.t.Fatalf("probe client for broker %d: %v", id, err)
		}
		c.probes[id] = p
	}
	return p.SeedBrokers()[0]
}

// request sends req to broker id alone, bounded by timeout. A request
// that fails on a connection the broker has closed (after a restart, or
// idle) is sent again on a new connection, up to three times.
func (c *testCluster) request(id int32, req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var resp kmsg.Response
		resp, err = c.probe(id).Request(ctx, req)
		if err == nil || ctx.Err() != nil {
			return resp, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, err
}

// partitionView is one partition in a broker's Metadata answer.
type partitionView struct {
	leader      int32
	leaderEpoch int32
	replicas    []int32
	isr         []int32
	err         error
}

// clusterView is a broker's Metadata answer, reduced.
type clusterView struct {
	from       int32
	controller int32
	brokers    []int32
	partitions map[string]map[int32]partitionView
}

// metadata asks broker id for the cluster and the given topics.
func (c *testCluster) metadata(id int32, topics ...string) (clusterView, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := c.request(id, req, 5*time.Second)
	if err != nil {
		return clusterView{}, fmt.Errorf("metadata from broker %d: %w", id, err)
	}
	mr := resp.(*kmsg.MetadataResponse)
	v := clusterView{from: id, controller: mr.ControllerID, partitions: map[string]map[int32]partitionView{}}
	for _, b := range mr.Brokers {
		v.brokers = append(v.brokers, b.NodeID)
	}
	slices.Sort(v.brokers)
	for _, tp := range mr.Topics {
		name := ""
		if tp.Topic != nil {
			name = *tp.Topic
		}
		if err := kerr.ErrorForCode(tp.ErrorCode); err != nil {
			return v, fmt.Errorf("metadata from broker %d: topic %s: %w", id, name, err)
		}
		ps := map[int32]partitionView{}
		for _, p := range tp.Partitions {
			ps[p.Partition] = partitionView{
				leader: p.Leader, leaderEpoch: p.LeaderEpoch,
				replicas: p.Replicas, isr: p.ISR, err: kerr.ErrorForCode(p.ErrorCode),
			}
		}
		v.partitions[name] = ps
	}
	return v, nil
}

// anyMetadata asks the live brokers in turn and returns the first answer.
func (c *testCluster) anyMetadata(topics ...string) (clusterView, error) {
	var errs []error
	for _, id := range c.up() {
		v, err := c.metadata(id, topics...)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
	}
	return clusterView{}, fmt.Errorf("no live broker answered Metadata: %w", errors.Join(errs...))
}

// waitFormed waits until a live broker lists every live broker and names a
// live controller.
func (c *testCluster) waitFormed(t testing.TB, timeout time.Duration) {
	t.Helper()
	want := c.up()
	clusterWait(t, timeout, "cluster formed", func() error {
		v, err := c.anyMetadata()
		if err != nil {
			return err
		}
		if !slices.Equal(v.brokers, want) {
			return fmt.Errorf("broker %d lists brokers %v, want %v", v.from, v.brokers, want)
		}
		if !slices.Contains(want, v.controller) {
			return fmt.Errorf("broker %d names controller %d", v.from, v.controller)
		}
		return nil
	})
}

// controller is the controller id named by a live broker.
func (c *testCluster) controller(t testing.TB) int32 {
	t.Helper()
	var id int32
	clusterWait(t, 20*time.Second, "controller known", func() error {
		v, err := c.anyMetadata()
		if err != nil {
			return err
		}
		if v.controller < 0 {
			return fmt.Errorf("broker %d names no controller", v.from)
		}
		id = v.controller
		return nil
	})
	return id
}

// partition is the state of topic/p as a live broker sees it.
func (c *testCluster) partition(topic string, p int32) (partitionView, error) {
	v, err := c.anyMetadata(topic)
	if err != nil {
		return partitionView{}, err
	}
	pv, ok := v.partitions[topic][p]
	if !ok {
		return partitionView{}, fmt.Errorf("broker %d does not know %s-%d", v.from, topic, p)
	}
	return pv, nil
}

// leader is the leader of topic/p named by a live broker, waiting for one.
func (c *testCluster) leader(t testing.TB, topic string, p int32) int32 {
	t.Helper()
	var id int32
	clusterWait(t, 20*time.Second, fmt.Sprintf("leader of %s-%d", topic, p), func() error {
		pv, err := c.partition(topic, p)
		if err != nil {
			return err
		}
		if pv.leader < 0 {
			return fmt.Errorf("%s-%d has no leader", topic, p)
		}
		id = pv.leader
		return nil
	})
	return id
}

// createTopic creates topic with parts partitions of replication factor 3
// and waits until every partition has a leader and a full ISR.
func (c *testCluster) createTopic(t testing.TB, topic string, parts int32, configs map[string]*string) {
	t.Helper()
	adm := newAdmin(t, c.broker(c.up()[0]), append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...)}, c.clientOpts...)...)
	ctx := testCtx(t, 30*time.Second)
	resp, err := adm.CreateTopic(ctx, parts, 3, configs, topic)
	if err != nil {
		t.Fatalf("CreateTopics %q (%d partitions, replication factor 3): %v (%s)", topic, parts, err, resp.ErrMessage)
	}
	for p := int32(0); p < parts; p++ {
		c.waitISR(t, topic, p, 30*time.Second, "full ISR after creation", func(pv partitionView) error {
			if len(pv.replicas) != 3 {
				return fmt.Errorf("replicas %v, want 3", pv.replicas)
			}
			if len(pv.isr) != 3 || pv.leader < 0 {
				return fmt.Errorf("leader %d, ISR %v", pv.leader, pv.isr)
			}
			return nil
		})
	}
}

// waitISR polls topic/p on the live brokers until cond accepts its state and
// returns how long it took.
func (c *testCluster) waitISR(t testing.TB, topic string, p int32, timeout time.Duration, what string, cond func(partitionView) error) time.Duration {
	t.Helper()
	return clusterWait(t, timeout, fmt.Sprintf("%s-%d: %s", topic, p, what), func() error {
		pv, err := c.partition(topic, p)
		if err != nil {
			return err
		}
		if pv.err != nil {
			return fmt.Errorf("partition error %v (leader %d, ISR %v)", pv.err, pv.leader, pv.isr)
		}
		return cond(pv)
	})
}

// kill sends SIGKILL to broker id and waits until it is reaped.
func (c *testCluster) kill(id int32) {
	c.broker(id).Kill()
	c.mu.Lock()
	c.down[id] = "killed"
	c.mu.Unlock()
}

// freeze stops broker id with SIGSTOP.
func (c *testCluster) freeze(t testing.TB, id int32) {
	t.Helper()
	if !c.broker(id).signal(syscall.SIGSTOP) {
		t.Fatalf("SIGSTOP broker %d: not running", id)
	}
	c.mu.Lock()
	c.down[id] = "frozen"
	c.mu.Unlock()
}

// thaw continues broker id with SIGCONT.
func (c *testCluster) thaw(t testing.TB, id int32) {
	t.Helper()
	if !c.broker(id).signal(syscall.SIGCONT) {
		t.Fatalf("SIGCONT broker %d: not running", id)
	}
	c.mu.Lock()
	delete(c.down, id)
	c.mu.Unlock()
}

// restart starts the killed broker id again on its port and log directory.
func (c *testCluster) restart(t testing.TB, id int32) {
	t.Helper()
	c.broker(id).Restart(t)
	c.mu.Lock()
	delete(c.down, id)
	c.mu.Unlock()
}

// clusterWait calls fn every 50ms until it returns nil, and returns how
// long that took; after timeout it fails the test naming what and the last
// error.
func clusterWait(t testing.TB, timeout time.Duration, what string, fn func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := fn()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameSet reports whether a and b hold the same ids.
func sameSet(a, b []int32) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
