//go:build unix

package zkmeta_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests against a real ZooKeeper share one server process per test
// binary, started at first use on a free loopback port with a temporary
// data directory, and stopped by TestMain when every test has run. The
// launcher is .cache/zookeeper/bin/zk-server under the repository root
// (installed by `make deps`), or KBROKER_ZK_LAUNCHER.

func TestMain(m *testing.M) {
	code := m.Run()
	zkShared.stop()
	os.Exit(code)
}

type zkServer struct {
	once    sync.Once
	addr    string // 127.0.0.1:port
	startup time.Duration
	err     error

	cmd    *exec.Cmd
	dir    string
	output *lockedBuffer
	exited chan struct{}
}

var zkShared = &zkServer{} // shared by the tests of this binary: one server process

// zooKeeper returns the address of the shared ZooKeeper server, starting it
// if needed; the test fails when it cannot run.
func zooKeeper(t *testing.T) *zkServer {
	t.Helper()
	zkShared.once.Do(zkShared.start)
	if zkShared.err != nil {
		t.Fatalf("ZooKeeper: %v", zkShared.err)
	}
	select {
	case <-zkShared.exited:
		t.Fatalf("ZooKeeper server exited; its output:\n%s", zkShared.output.String())
	default:
	}
	return zkShared
}

func zkLauncher() (string, error) {
	if l := os.Getenv("KBROKER_ZK_LAUNCHER"); l != "" {
		return l, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "zookeeper", "bin", "zk-server"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found above the test directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *zkServer) start() {
	launcher, err := zkLauncher()
	if err != nil {
		s.err = err
		return
	}
	if _, err := os.Stat(launcher); err != nil {
		s.err = fmt.Errorf("launcher %s missing: run `make deps` (it installs ZooKeeper from Maven Central), or set KBROKER_ZK_LAUNCHER", launcher)
		return
	}
	if s.dir, err = os.MkdirTemp("", "kbroker-zk-"); err != nil {
		s.err = err
		return
	}
	port, err := freePort()
	if err != nil {
		s.err = err
		return
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.output = &lockedBuffer{}
	s.cmd = exec.Command(launcher, fmt.Sprint(port), filepath.Join(s.dir, "data"))
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := s.cmd.Start(); err != nil {
		s.err = fmt.Errorf("starting %s: %w", launcher, err)
		return
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for !ruok(s.addr) {
		select {
		case <-s.exited:
			s.err = fmt.Errorf("server exited during startup; its output:\n%s", s.output.String())
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.err = fmt.Errorf("server not serving on %s after 60s; its output:\n%s", s.addr, s.output.String())
			return
		}
	}
	s.startup = time.Since(begin)
}

// ruok asks the server the four-letter word "ruok".
func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b) == "imok"
}

// stop ends the server's process group and removes its data directory.
func (s *zkServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
