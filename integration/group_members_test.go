package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Group members for the consumer-group tests. A member is a kgo consumer in a
// group that reports what it owns and what it consumed to a groupTracker. It
// runs either in the test process (startMember) or in a child process
// (startMemberProcess): the test binary re-executed with memberEnv set, so
// that it can be killed with SIGKILL like a crashed consumer.
//
// Every member commits synchronously after each poll and in its revoke
// callback, and blocks rebalances while it records a poll, so a group whose
// members leave cleanly delivers every record exactly once; only a member
// killed between reporting a record and committing it causes a redelivery.

// memberRebalanceTimeout is the rebalance timeout every member sends.
const memberRebalanceTimeout = 20 * time.Second

// memberEnv carries the JSON memberSpec of a child member process.
const memberEnv = "KBROKER_IT_GROUP_MEMBER"

// memberSpec describes one group member.
type memberSpec struct {
	Name      string        `json:"name"`
	Broker    string        `json:"broker"`
	Group     string        `json:"group"`
	Topic     string        `json:"topic"`
	Balancer  string        `json:"balancer"` // "range" or "cooperative-sticky"
	Session   time.Duration `json:"session"`
	Heartbeat time.Duration `json:"heartbeat"`
}

// memberSink receives a member's reports.
type memberSink interface {
	assigned(ps []int32)
	revoked(ps []int32)
	consumed(rs []*kgo.Record)
}

// balancerFor maps a balancer name to the kgo balancer.
func balancerFor(name string) (kgo.GroupBalancer, error) {
	switch name {
	case "range":
		return kgo.RangeBalancer(), nil
	case "cooperative-sticky":
		return kgo.CooperativeStickyBalancer(), nil
	}
	return nil, fmt.Errorf("unknown balancer %q", name)
}

// partitionsOf flattens the partitions of topic in a kgo callback map.
func partitionsOf(m map[string][]int32, topic string) []int32 {
	return append([]int32(nil), m[topic]...)
}

// memberOpts are the kgo options of a member reporting to sink.
func memberOpts(spec memberSpec, sink memberSink, logs io.Writer) ([]kgo.Opt, error) {
	bal, err := balancerFor(spec.Balancer)
	if err != nil {
		return nil, err
	}
	commit := func(ctx context.Context, cl *kgo.Client) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := cl.CommitUncommittedOffsets(cctx); err != nil {
			fmt.Fprintf(logs, "member %s: commit on revoke: %v\n", spec.Name, err)
		}
	}
	return []kgo.Opt{
		kgo.SeedBrokers(spec.Broker),
		kgo.ClientID("kbroker-it-" + spec.Name),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(20 * time.Second),
		kgo.WithLogger(kgo.BasicLogger(logs, kgo.LogLevelInfo, func() string { return spec.Name + " " })),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(spec.Topic),
		kgo.Balancers(bal),
		kgo.SessionTimeout(spec.Session),
		kgo.HeartbeatInterval(spec.Heartbeat),
		kgo.RebalanceTimeout(memberRebalanceTimeout),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			sink.assigned(partitionsOf(m, spec.Topic))
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			commit(ctx, cl)
			sink.revoked(partitionsOf(m, spec.Topic))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			sink.revoked(partitionsOf(m, spec.Topic))
		}),
	}, nil
}

// pollLoop consumes until ctx ends: each poll is reported, committed, and only
// then may a rebalance proceed.
func pollLoop(ctx context.Context, cl *kgo.Client, spec memberSpec, sink memberSink, logs io.Writer) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			fmt.Fprintf(logs, "member %s: fetch %s-%d: %v\n", spec.Name, t, p, err)
		})
		rs := fs.Records()
		if len(rs) == 0 && len(fs.Errors()) > 0 {
			// Errors only (for instance the group cannot be joined): back
			// off instead of spinning.
			cl.AllowRebalance()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if len(rs) > 0 {
			sink.consumed(rs)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				fmt.Fprintf(logs, "member %s: commit: %v\n", spec.Name, err)
			}
			cancel()
		}
		cl.AllowRebalance()
	}
}

// recKey identifies a record by partition and offset.
type recKey struct {
	p int32
	o int64
}

// groupTracker collects the reports of the members of one group.
type groupTracker struct {
	mu    sync.Mutex
	owned map[string]map[int32]bool // member -> partitions it owns now
	seen  map[recKey][]string       // record -> members that consumed it, in order
}

func newGroupTracker() *groupTracker {
	return &groupTracker{owned: make(map[string]map[int32]bool), seen: make(map[recKey][]string)}
}

// trackerSink is a groupTracker seen from one member.
type trackerSink struct {
	g    *groupTracker
	name string
}

func (s trackerSink) assigned(ps []int32) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	m := s.g.owned[s.name]
	if m == nil {
		m = make(map[int32]bool)
		s.g.owned[s.name] = m
	}
	for _, p := range ps {
		m[p] = true
	}
}

func (s trackerSink) revoked(ps []int32) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	for _, p := range ps {
		delete(s.g.owned[s.name], p)
	}
}

func (s trackerSink) consumed(rs []*kgo.Record) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	for _, r := range rs {
		k := recKey{r.Partition, r.Offset}
		s.g.seen[k] = append(s.g.seen[k], s.name)
	}
}

func (g *groupTracker) sink(name string) memberSink { return trackerSink{g: g, name: name} }

// forget drops a member (one that left or was killed) from the ownership
// view; what it consumed stays.
func (g *groupTracker) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.owned, name)
}

// assignment describes the current ownership, for messages.
func (g *groupTracker) assignment() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	names := make([]string, 0, len(g.owned))
	for n := range g.owned {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, n := range names {
		ps := make([]int, 0, len(g.owned[n]))
		for p := range g.owned[n] {
			ps = append(ps, int(p))
		}
		sort.Ints(ps)
		fmt.Fprintf(&sb, "%s=%v ", n, ps)
	}
	return strings.TrimSpace(sb.String())
}

// balanced reports nil when exactly the named members own partitions, each
// owns at least one, no partition is owned twice, and 0..parts-1 are all
// owned.
func (g *groupTracker) balanced(members []string, parts int32) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	owner := make(map[int32]string)
	want := make(map[string]bool, len(members))
	for _, m := range members {
		want[m] = true
		if len(g.owned[m]) == 0 {
			return fmt.Errorf("member %s owns no partition", m)
		}
	}
	for m, ps := range g.owned {
		if len(ps) > 0 && !want[m] {
			return fmt.Errorf("member %s still owns %d partitions", m, len(ps))
		}
		for p := range ps {
			if o, dup := owner[p]; dup {
				return fmt.Errorf("partition %d owned by %s and %s", p, o, m)
			}
			owner[p] = m
		}
	}
	for p := int32(0); p < parts; p++ {
		if _, ok := owner[p]; !ok {
			return fmt.Errorf("partition %d not owned by anyone", p)
		}
	}
	return nil
}

// missing counts the produced records nobody consumed yet.
func (g *groupTracker) missing(produced map[recKey]bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for k := range produced {
		if len(g.seen[k]) == 0 {
			n++
		}
	}
	return n
}

// audit checks the consumed records against produced: every produced record
// was consumed, nothing else was, and a record consumed more than once was
// first consumed by a member in mayRedeliver (a killed member).
func (g *groupTracker) audit(produced map[recKey]bool, mayRedeliver ...string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ok := make(map[string]bool)
	for _, m := range mayRedeliver {
		ok[m] = true
	}
	var probs []string
	for k := range produced {
		if len(g.seen[k]) == 0 {
			probs = append(probs, fmt.Sprintf("record %d@%d never consumed", k.p, k.o))
		}
	}
	for k, who := range g.seen {
		if !produced[k] {
			probs = append(probs, fmt.Sprintf("record %d@%d consumed by %v was never produced", k.p, k.o, who))
		}
		if len(who) > 1 && !ok[who[0]] {
			probs = append(probs, fmt.Sprintf("record %d@%d consumed %d times: %v", k.p, k.o, len(who), who))
		}
	}
	sort.Strings(probs)
	return probs
}

// memberClient is an in-process member.
type memberClient struct {
	t      testing.TB
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// startMember starts an in-process member reporting to tr; it is closed
// (leaving the group) at cleanup.
func startMember(t testing.TB, tr *groupTracker, spec memberSpec) *memberClient {
	t.Helper()
	logs := &syncBuffer{}
	sink := tr.sink(spec.Name)
	opts, err := memberOpts(spec, sink, logs)
	if err != nil {
		t.Fatalf("member %s: %v", spec.Name, err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("member %s: kgo client: %v", spec.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &memberClient{t: t, name: spec.Name, cl: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		pollLoop(ctx, cl, spec, sink, logs)
	}()
	t.Cleanup(func() {
		m.leave()
		if t.Failed() {
			t.Logf("member %s client log:\n%s", spec.Name, logs.String())
		}
	})
	return m
}

// leave stops polling, commits and closes the client, which sends
// LeaveGroup. It fails the test if closing takes longer than 20 s.
func (m *memberClient) leave() {
	m.closed.Do(func() {
		m.cancel()
		<-m.done
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
			m.t.Errorf("member %s: final commit: %v", m.name, err)
		}
		closed := make(chan struct{})
		go func() {
			m.cl.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-ctx.Done():
			m.t.Errorf("member %s: Close (LeaveGroup) did not return within 20s", m.name)
		}
	})
}

// memberProcess is a member running in a child process.
type memberProcess struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	read   chan struct{} // closed when stdout hit EOF
	exited chan struct{}
}

// startMemberProcess re-executes the test binary as a member reporting over
// its stdout to tr. The child exits when its stdin closes; at cleanup it is
// killed if still running.
func startMemberProcess(t testing.TB, tr *groupTracker, spec memberSpec) *memberProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("member process %s: %v", spec.Name, err)
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatalf("member process %s: %v", spec.Name, err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), memberEnv+"="+string(js))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("member process %s: %v", spec.Name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("member process %s: %v", spec.Name, err)
	}
	mp := &memberProcess{name: spec.Name, cmd: cmd, stdin: stdin, stderr: &syncBuffer{}, read: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = mp.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("member process %s: start: %v", spec.Name, err)
	}
	sink := tr.sink(spec.Name)
	go func() {
		defer close(mp.read)
		applyMemberEvents(stdout, sink, mp.stderr)
	}()
	go func() {
		<-mp.read
		_ = cmd.Wait()
		close(mp.exited)
	}()
	t.Cleanup(func() {
		mp.kill()
		select {
		case <-mp.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("member process %s not reaped 10s after SIGKILL", spec.Name)
		}
		if t.Failed() {
			t.Logf("member process %s stderr:\n%s", spec.Name, mp.stderr.String())
		}
	})
	return mp
}

// kill sends SIGKILL to the child.
func (mp *memberProcess) kill() {
	select {
	case <-mp.exited:
		return
	default:
	}
	_ = mp.cmd.Process.Signal(syscall.SIGKILL)
}

// killAndWait sends SIGKILL and waits until the child is reaped and all its
// reports are read.
func (mp *memberProcess) killAndWait(t testing.TB) {
	t.Helper()
	mp.kill()
	select {
	case <-mp.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("member process %s not reaped 10s after SIGKILL", mp.name)
	}
}

// Child-side wire format, one event per line:
//
//	a <p> <p> ...   partitions assigned
//	v <p> <p> ...   partitions revoked or lost
//	r <p> <o>       record consumed

// lineSink writes a member's events to the child's stdout; every event is
// written whole before the member commits, so a SIGKILL loses at most an
// uncommitted, partly written line.
type lineSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *lineSink) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(b)
}

func partsLine(tag byte, ps []int32) []byte {
	b := []byte{tag}
	for _, p := range ps {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p), 10)
	}
	return append(b, '\n')
}

func (s *lineSink) assigned(ps []int32) { s.write(partsLine('a', ps)) }
func (s *lineSink) revoked(ps []int32)  { s.write(partsLine('v', ps)) }
func (s *lineSink) consumed(rs []*kgo.Record) {
	var b []byte
	for _, r := range rs {
		b = fmt.Appendf(b, "r %d %d\n", r.Partition, r.Offset)
	}
	s.write(b)
}

// applyMemberEvents reads a child's event lines into sink until EOF; a last
// line without its newline (cut by SIGKILL) is ignored.
func applyMemberEvents(r io.Reader, sink memberSink, errs io.Writer) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		nums := make([]int64, 0, len(fields)-1)
		for _, f := range fields[1:] {
			n, perr := strconv.ParseInt(f, 10, 64)
			if perr != nil {
				fmt.Fprintf(errs, "parent: bad event line %q\n", line)
				continue
			}
			nums = append(nums, n)
		}
		switch fields[0] {
		case "a", "v":
			ps := make([]int32, len(nums))
			for i, n := range nums {
				ps[i] = int32(n)
			}
			if fields[0] == "a" {
				sink.assigned(ps)
			} else {
				sink.revoked(ps)
			}
		case "r":
			if len(nums) == 2 {
				sink.consumed([]*kgo.Record{{Partition: int32(nums[0]), Offset: nums[1]}})
			}
		default:
			fmt.Fprintf(errs, "parent: unknown event line %q\n", line)
		}
	}
}

// init turns the test binary into a member process when memberEnv is set; it
// runs before TestMain, so the child neither builds binaries nor runs tests.
func init() {
	js := os.Getenv(memberEnv)
	if js == "" {
		return
	}
	os.Exit(runMemberProcess(js, os.Stdin, os.Stdout, os.Stderr))
}

// runMemberProcess is the body of a child member: it consumes until its stdin
// closes (or 5 minutes pass), then leaves the group. It returns the exit
// status.
func runMemberProcess(js string, stdin io.Reader, stdout, stderr io.Writer) int {
	var spec memberSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fmt.Fprintf(stderr, "member process: bad %s: %v\n", memberEnv, err)
		return 2
	}
	sink := &lineSink{w: stdout}
	opts, err := memberOpts(spec, sink, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "member process: %v\n", err)
		return 2
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "member process: kgo client: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	pollLoop(ctx, cl, spec, sink, stderr)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	_ = cl.CommitUncommittedOffsets(cctx)
	cl.Close()
	return 0
}
