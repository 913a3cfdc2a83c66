package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds how long a started broker may take to accept TCP.
const readyTimeout = 20 * time.Second

// exitTimeout bounds how long a signalled broker may take to exit.
const exitTimeout = 20 * time.Second

// brokerBin and kloadBin are the binaries built by TestMain; they are
// written once before any test runs and only read afterwards.
var brokerBin, kloadBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain builds ./cmd/broker and ./cmd/kload into a temporary directory,
// runs the tests and removes the directory. A build failure stops the run with
// its output.
func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kbroker-it-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, b := range []struct {
		pkg string
		dst *string
	}{{"./cmd/broker", &brokerBin}, {"./cmd/kload", &kloadBin}} {
		bin := filepath.Join(dir, filepath.Base(b.pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: FAILED to build %s: %v\n%s\n", b.pkg, err, out)
			return 1
		}
		*b.dst = bin
	}
	return m.Run()
}

// repoRoot is the module root: the parent of this package's directory.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the test source file")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}

// syncBuffer is a bytes.Buffer safe for the process's stdout and stderr
// writers and the test reading it concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// brokerOpts describes how to launch a broker process.
type brokerOpts struct {
	// dir is log.dirs; a fresh t.TempDir() when empty.
	dir string
	// propsFile, when set, is passed as the positional server.properties.
	propsFile string
	// overrides are extra "key=value" pairs, applied after the base ones.
	overrides []string
	// listener is the name of the listener on the broker's port (PLAINTEXT when empty),
	// mapped to the security protocol of the same name unless the overrides map it.
	listener string
}

// Broker is one broker child process; it may be stopped and restarted on the
// same port and log directory.
type Broker struct {
	t    testing.TB
	port int
	dir  string
	opts brokerOpts
	out  *syncBuffer // stdout and stderr, over all runs
	errs *syncBuffer // stderr only, over all runs

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been reaped
	exitErr error         // Wait's error for the current process
	starts  int
}

// startBroker launches a broker on a free port with a fresh log directory and
// the given "key=value" overrides, waits until it accepts TCP and registers a
// cleanup that stops it. It fails the test if the broker does not come up.
func startBroker(t testing.TB, overrides ...string) *Broker {
	t.Helper()
	b := newBroker(t, brokerOpts{overrides: overrides})
	if err := b.launch(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatalf("broker not ready: %v", err)
	}
	return b
}

// newBroker prepares a Broker (port, log dir, output capture, cleanup) without
// starting it.
func newBroker(t testing.TB, opts brokerOpts) *Broker {
	t.Helper()
	if brokerBin == "" {
		t.Fatal("broker binary was not built (TestMain did not run)")
	}
	if opts.dir == "" {
		opts.dir = t.TempDir()
	}
	b := &Broker{t: t, port: freePort(t), dir: opts.dir, opts: opts, out: &syncBuffer{}, errs: &syncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("KBROKER_IT_STACKS") != "" && b.signal(syscall.SIGQUIT) {
			// The Go runtime writes every goroutine's stack to stderr and exits.
			_, _ = b.waitExit(5 * time.Second)
		}
		b.Kill()
		if t.Failed() {
			t.Logf("broker output (port %d, dir %s):\n%s", b.port, b.dir, b.out.String())
		}
	})
	return b
}

// portsGiven are the ports freePort has handed out in this test process: the kernel may
// offer a port again once its probe listener is closed, before the broker it was meant for
// binds it, and two brokers of one cluster must never be given the same port.
var portsGiven = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// freePort asks the kernel for a free TCP port on 127.0.0.1 that no other broker of this
// test process was given.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		portsGiven.Lock()
		given := portsGiven.m[port]
		portsGiven.m[port] = true
		portsGiven.Unlock()
		if !given {
			return port
		}
	}
	t.Fatal("free port: the kernel kept offering ports already given")
	return 0
}

// args is the broker's command line.
func (b *Broker) args() []string {
	var args []string
	if b.opts.propsFile != "" {
		args = append(args, b.opts.propsFile)
	}
	listener := b.opts.listener
	if listener == "" {
		listener = "PLAINTEXT"
	}
	base := []string{
		"broker.id=0",
		"listeners=" + listener + "://" + b.Addr(),
		"log.dirs=" + b.dir,
	}
	for _, kv := range append(base, b.opts.overrides...) {
		args = append(args, "--override", kv)
	}
	return args
}

// launch starts the process without waiting for readiness.
func (b *Broker) launch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		select {
		case <-b.exited:
		default:
			return errors.New("broker already running")
		}
	}
	b.starts++
	fmt.Fprintf(b.out, "----- start #%d: %s %v\n", b.starts, brokerBin, b.args())
	cmd := exec.Command(brokerBin, b.args()...)
	cmd.Stdout = b.out
	cmd.Stderr = io.MultiWriter(b.out, b.errs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", brokerBin, err)
	}
	exited := make(chan struct{})
	b.cmd = cmd
	b.exited = exited
	go func() {
		err := cmd.Wait()
		b.mu.Lock()
		b.exitErr = err
		b.mu.Unlock()
		close(exited)
	}()
	return nil
}

// waitReady polls the listener until it accepts TCP, the process exits, or
// the timeout passes.
func (b *Broker) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	b.mu.Lock()
	exited := b.exited
	b.mu.Unlock()
	for {
		select {
		case <-exited:
			code, _ := b.exitCode()
			return fmt.Errorf("broker exited with status %d before accepting connections", code)
		default:
		}
		conn, err := net.DialTimeout("tcp", b.Addr(), 500*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s not accepting after %v: %v", b.Addr(), timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitCode returns the exit status of the last process and whether it has
// exited. A death by signal is reported as -1.
func (b *Broker) exitCode() (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0, false
	}
	select {
	case <-b.exited:
	default:
		return 0, false
	}
	if b.exitErr == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if errors.As(b.exitErr, &ee) {
		return ee.ExitCode(), true
	}
	return -1, true
}

// waitExit waits up to timeout for the current process to exit and returns
// its exit status.
func (b *Broker) waitExit(timeout time.Duration) (int, error) {
	b.mu.Lock()
	exited := b.exited
	b.mu.Unlock()
	if exited == nil {
		return 0, errors.New("broker never started")
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("broker still running after %v", timeout)
	}
	code, _ := b.exitCode()
	return code, nil
}

// Running reports whether the process is alive.
func (b *Broker) Running() bool {
	_, done := b.exitCode()
	b.mu.Lock()
	started := b.cmd != nil
	b.mu.Unlock()
	return started && !done
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

// LogDir is the broker's log.dirs.
func (b *Broker) LogDir() string { return b.dir }

// Output is everything the broker printed so far, over all its runs.
func (b *Broker) Output() string { return b.out.String() }

// Stderr is what the broker wrote to stderr so far, over all its runs.
func (b *Broker) Stderr() string { return b.errs.String() }

// signal sends sig to the running process, if any.
func (b *Broker) signal(sig syscall.Signal) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return false
	}
	select {
	case <-b.exited:
		return false
	default:
	}
	return b.cmd.Process.Signal(sig) == nil
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (b *Broker) Kill() {
	if b.signal(syscall.SIGKILL) {
		if _, err := b.waitExit(exitTimeout); err != nil {
			b.t.Errorf("kill: %v", err)
		}
	}
}

// Stop sends SIGTERM, waits for exit and returns the exit status. If the
// broker does not exit in time it is killed and the test fails.
func (b *Broker) Stop() int {
	b.t.Helper()
	if !b.signal(syscall.SIGTERM) {
		code, _ := b.exitCode()
		return code
	}
	code, err := b.waitExit(exitTimeout)
	if err != nil {
		b.Kill()
		b.t.Fatalf("SIGTERM: %v", err)
	}
	return code
}

// Restart starts the broker again on the same port and log directory (the
// previous process must have exited) and waits until it is ready.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	if b.Running() {
		t.Fatal("restart: broker still running; Stop or Kill it first")
	}
	if err := b.launch(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// eventually calls fn until it returns nil or timeout passes, then fails the
// test with the last error.
func eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testCtx is a context bounded by d and cancelled at the end of the test.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
