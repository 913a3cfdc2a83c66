package integration

// Kafka Connect 3.9 in distributed mode (connect-runtime and connect-file from Maven Central,
// installed by make deps) against the broker: its internal topics are compacted, a
// FileStreamSource copies a file into a topic, and after the worker restarts it resumes from
// the offsets it stored, copying the new lines only.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// connectWorker is one Connect worker process.
type connectWorker struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *syncBuffer
	rest string
	done chan struct{}
}

// startConnect runs connect-distributed with props and waits until its REST API answers.
func startConnect(t testing.TB, props string, rest string, out *syncBuffer) *connectWorker {
	t.Helper()
	bin := needFile(t, cachePath(t, "kafka-connect-"+pinnedVersion(t, "KAFKA_3_VERSION"), "bin", "connect-distributed"), "Kafka Connect")
	needCommand(t, "java")
	w := &connectWorker{t: t, out: out, rest: rest, done: make(chan struct{})}
	fmt.Fprintf(out, "----- start %s %s\n", bin, props)
	w.cmd = exec.Command(bin, props)
	w.cmd.Stdout, w.cmd.Stderr = out, out
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start Connect: %v", err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() { w.stop(syscall.SIGKILL) })
	eventually(t, 2*time.Minute, func() error {
		select {
		case <-w.done:
			t.Fatalf("Connect exited before serving its REST API")
		default:
		}
		_, err := w.call(http.MethodGet, "/connectors", nil)
		return err
	})
	return w
}

// stop signals the worker and waits for it to exit.
func (w *connectWorker) stop(sig syscall.Signal) {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(sig)
	select {
	case <-w.done:
	case <-time.After(time.Minute):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// call sends a REST request and returns the body of a 2xx answer.
func (w *connectWorker) call(method, path string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+w.rest+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out, nil
}

func TestConnectFileSourceResumes(t *testing.T) {
	t.Parallel()
	b := startBroker(t, compactionOverrides...)
	adm := newAdmin(t, b)
	dir := t.TempDir()
	source := filepath.Join(dir, "source.txt")
	lines := func(from, to int) string {
		var sb strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&sb, "line-%04d\n", i)
		}
		return sb.String()
	}
	if err := os.WriteFile(source, []byte(lines(0, 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	rest := "127.0.0.1:" + strconv.Itoa(freePort(t))
	props := filepath.Join(dir, "worker.properties")
	body := strings.Join([]string{
		"bootstrap.servers=" + b.Addr(),
		"group.id=kbroker-connect",
		"listeners=http://" + rest,
		"key.converter=org.apache.kafka.connect.storage.StringConverter",
		"value.converter=org.apache.kafka.connect.storage.StringConverter",
		"config.storage.topic=connect-configs",
		"offset.storage.topic=connect-offsets",
		"status.storage.topic=connect-status",
		"config.storage.replication.factor=1",
		"offset.storage.replication.factor=1",
		"status.storage.replication.factor=1",
		"offset.storage.partitions=5",
		"offset.flush.interval.ms=500",
		"scheduled.rebalance.max.delay.ms=1000",
	}, "\n") + "\n"
	if err := os.WriteFile(props, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Connect output:\n%s", out.String())
		}
	})
	w := startConnect(t, props, rest, out)
	const topic = "connect-lines"
	connector := map[string]any{"name": "file-source", "config": map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
		"tasks.max":       "1",
		"file":            source,
		"topic":           topic,
	}}
	eventually(t, time.Minute, func() error {
		_, err := w.call(http.MethodPost, "/connectors", connector)
		return err
	})
	readLines := func(want int) []string {
		t.Helper()
		var got []string
		eventually(t, 2*time.Minute, func() error {
			if _, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0); err != nil {
				return err
			}
			if n := endOffsets(t, adm, topic)[0]; n < int64(want) {
				return fmt.Errorf("%s holds %d records, want %d", topic, n, want)
			}
			got = nil
			for _, r := range consumeN(t, b, topic, 1, want, time.Minute, 500*time.Millisecond) {
				got = append(got, string(r.Value))
			}
			return nil
		})
		return got
	}
	if got := readLines(50); len(got) != 50 || got[0] != "line-0000" || got[49] != "line-0049" {
		t.Fatalf("first run copied %d lines: %v", len(got), got)
	}

	// The internal topics were created compacted (Connect refuses them otherwise).
	cfgs, err := adm.DescribeTopicConfigs(testCtx(t, 10*time.Second), "connect-configs", "connect-offsets", "connect-status")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range cfgs {
		policy := ""
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
		if policy != "compact" {
			t.Errorf("%s: cleanup.policy %q, want compact", rc.Name, policy)
		}
	}

	// Stop the worker, add lines, start it again: it resumes at the stored file position.
	w.stop(syscall.SIGTERM)
	f, err := os.OpenFile(source, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(lines(50, 80)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	startConnect(t, props, rest, out)
	got := readLines(80)
	if len(got) != 80 {
		t.Fatalf("after the restart %s holds %d lines, want 80 (no line copied twice)", topic, len(got))
	}
	for i, l := range got {
		if want := fmt.Sprintf("line-%04d", i); l != want {
			t.Fatalf("record %d: %q, want %q", i, l, want)
		}
	}
	// Nothing more arrives: the restarted task did not start over from the file's beginning.
	time.Sleep(2 * time.Second)
	if n := endOffsets(t, adm, topic)[0]; n != 80 {
		t.Fatalf("%s holds %d records after the restart settled, want 80", topic, n)
	}
}
