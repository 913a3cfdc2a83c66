package integration

// Shared pieces of the stock tools and clients suite (compat_*_test.go): where
// the tools installed by `make deps` live, how they are run, and how each
// flow records its outcome for docs/compatibility.md.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// compatResultsEnv names the file (JSON lines) into which every compat flow
// appends its outcome; unset, nothing is recorded. `make compat-doc` sets it.
const compatResultsEnv = "KBROKER_COMPAT_RESULTS"

// depsHint ends every "tool missing" failure.
const depsHint = "run `make deps` (scripts/deps.sh) to install the stock tools into .cache/"

// compatResult is one line of the results file.
type compatResult struct {
	Kind    string  `json:"kind"` // "flow" or "apiversions"
	Client  string  `json:"client,omitempty"`
	Version string  `json:"version,omitempty"`
	Flow    string  `json:"flow,omitempty"`
	Pass    bool    `json:"pass"`
	Seconds float64 `json:"seconds,omitempty"`
	// APIs is the broker's ApiVersions answer (kind "apiversions").
	APIs []advertisedAPI `json:"apis,omitempty"`
}

// advertisedAPI is one key of an ApiVersions answer.
type advertisedAPI struct {
	Key  int16  `json:"key"`
	Name string `json:"name"`
	Min  int16  `json:"min"`
	Max  int16  `json:"max"`
}

// appendCompatResult appends r to the results file, if one is configured.
// Each line is written with one O_APPEND write, so parallel tests do not
// interleave.
func appendCompatResult(r compatResult) error {
	path := os.Getenv(compatResultsEnv)
	if path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// recordFlow registers the outcome of the running (sub)test as the result of
// client x version x flow, written when the test ends.
func recordFlow(t *testing.T, client, version, flow string) {
	t.Helper()
	start := time.Now()
	t.Cleanup(func() {
		r := compatResult{Kind: "flow", Client: client, Version: version, Flow: flow,
			Pass: !t.Failed(), Seconds: time.Since(start).Round(100 * time.Millisecond).Seconds()}
		if err := appendCompatResult(r); err != nil {
			t.Errorf("record compat result: %v", err)
		}
	})
}

// pinned returns the versions pinned in scripts/versions.env.
func pinned(t testing.TB) map[string]string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root, "scripts", "versions.env"))
	if err != nil {
		t.Fatalf("pinned versions: %v", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("scripts/versions.env: bad line %q", line)
		}
		out[k] = v
	}
	return out
}

// pinnedVersion returns one pinned version, failing the test when absent.
func pinnedVersion(t testing.TB, key string) string {
	t.Helper()
	v := pinned(t)[key]
	if v == "" {
		t.Fatalf("scripts/versions.env has no %s", key)
	}
	return v
}

// cachePath is a path under the repository's .cache directory.
func cachePath(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	return filepath.Join(append([]string{root, ".cache"}, elem...)...)
}

// testdataPath is a path under integration/testdata.
func testdataPath(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	return filepath.Join(append([]string{root, "integration", "testdata"}, elem...)...)
}

// needFile fails the test (never skips) when an installed tool is missing.
func needFile(t testing.TB, path, what string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is not installed (%v); %s", what, err, depsHint)
	}
	return path
}

// needCommand fails the test when name is not on PATH.
func needCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH; %s", name, depsHint)
	}
	return p
}

// kafkaTool is the wrapper of a Kafka command-line tool at a version.
func kafkaTool(t testing.TB, version, tool string) string {
	t.Helper()
	needCommand(t, "java")
	return needFile(t, cachePath(t, "kafka-"+version, "bin", tool), "Kafka "+version+" "+tool)
}

// venvPython is the virtualenv's interpreter holding the Python clients.
func venvPython(t testing.TB) string {
	t.Helper()
	return needFile(t, cachePath(t, "venv", "bin", "python"), "the Python virtualenv (confluent-kafka, kafka-python)")
}

// nodeModules is the node_modules folder holding kafkajs.
func nodeModules(t testing.TB) string {
	t.Helper()
	needCommand(t, "node")
	dir := cachePath(t, "node", "node_modules")
	needFile(t, filepath.Join(dir, "kafkajs", "package.json"), "kafkajs")
	return dir
}

// cmdSpec is one external command run by a compat test.
type cmdSpec struct {
	name    string
	args    []string
	stdin   string
	env     []string // extra KEY=VALUE
	timeout time.Duration
}

// cmdOutput is what a finished command printed.
type cmdOutput struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

// run executes c with a deadline and returns its output; it does not judge
// the exit status.
func (c cmdSpec) run(ctx context.Context) cmdOutput {
	timeout := c.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	if c.stdin != "" {
		cmd.Stdin = strings.NewReader(c.stdin)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %v)", err, timeout)
	}
	return cmdOutput{stdout: stdout.String(), stderr: stderr.String(), err: err, took: time.Since(start)}
}

// mustRun runs c and fails the test when it exits non-zero, showing its
// output; it returns stdout.
func mustRun(t testing.TB, c cmdSpec) string {
	t.Helper()
	out := c.run(context.Background())
	if out.err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(c.name), strings.Join(c.args, " "), out.err, tail(out.stdout, 4000), tail(out.stderr, 4000))
	}
	t.Logf("%s %s: %v", filepath.Base(c.name), strings.Join(c.args, " "), out.took.Round(100*time.Millisecond))
	return out.stdout
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// lines splits s into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}
