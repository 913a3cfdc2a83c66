package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"kbroker/broker/config"
)

// composeServices are the services docker-compose.yml must define.
var composeServices = []string{"broker1", "broker2", "broker3", "zookeeper"}

// composeCommand finds a Compose implementation: the docker CLI plugin
// (`docker compose`) or the standalone `docker-compose` (Debian package
// docker-compose). It returns the argv prefix, or nil when neither works.
func composeCommand(ctx context.Context) []string {
	if _, err := exec.LookPath("docker"); err == nil {
		if exec.CommandContext(ctx, "docker", "compose", "version").Run() == nil {
			return []string{"docker", "compose"}
		}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		if exec.CommandContext(ctx, "docker-compose", "version").Run() == nil {
			return []string{"docker-compose"}
		}
	}
	return nil
}

// TestClusterComposeConfig validates docker-compose.yml statically with
// Compose itself (no Docker engine is needed): the file parses, defines
// ZooKeeper and three brokers, and each broker's command line is a valid
// broker configuration.
func TestClusterComposeConfig(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "docker-compose.yml")
	ctx := testCtx(t, 2*time.Minute)
	compose := composeCommand(ctx)
	if compose == nil {
		t.Fatal("neither `docker compose` nor `docker-compose` is installed: run make deps (scripts/install-compose.sh installs the Debian package docker-compose)")
	}
	run := func(args ...string) string {
		t.Helper()
		argv := append(append([]string(nil), compose...), append([]string{"-f", file}, args...)...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr.String())
		}
		return string(out)
	}
	run("config", "-q")

	services := strings.Fields(run("config", "--services"))
	sort.Strings(services)
	if strings.Join(services, " ") != strings.Join(composeServices, " ") {
		t.Errorf("services = %v, want %v", services, composeServices)
	}

	commands, err := composeBrokerCommands(file)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, svc := range []string{"broker1", "broker2", "broker3"} {
		args, ok := commands[svc]
		if !ok {
			t.Errorf("%s: no command list in %s", svc, file)
			continue
		}
		_, overrides, err := config.ParseArgs(args)
		if err != nil {
			t.Errorf("%s: command %v: %v", svc, args, err)
			continue
		}
		// The image's entrypoint adds log.dirs before the service's command.
		cfg, warnings, err := config.Load("", append([]string{"log.dirs=/var/lib/kbroker"}, overrides...))
		if err != nil {
			t.Errorf("%s: invalid broker configuration: %v", svc, err)
			continue
		}
		for _, w := range warnings {
			t.Errorf("%s: configuration warning: %s", svc, w)
		}
		want := map[string]string{
			"zookeeper.connect":                "zookeeper:2181",
			"default.replication.factor":       "3",
			"min.insync.replicas":              "2",
			"offsets.topic.replication.factor": "3",
		}
		for k, v := range want {
			if got := cfg.Raw[k]; got != v {
				t.Errorf("%s: %s = %q, want %q", svc, k, got, v)
			}
		}
		id := cfg.Raw["broker.id"]
		if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s both use broker.id=%s", prev, svc, id)
		}
		ids[id] = svc
		if !strings.Contains(cfg.Raw["advertised.listeners"], "EXTERNAL://localhost:909") {
			t.Errorf("%s: advertised.listeners %q has no EXTERNAL://localhost:909x listener for the host", svc, cfg.Raw["advertised.listeners"])
		}
	}
}

// composeBrokerCommands reads the `command:` lists of the services of
// docker-compose.yml. It understands the block-list layout the file uses
// (`    command:` followed by `      - arg` lines), which the test pins.
func composeBrokerCommands(file string) (map[string][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]string{}
	var service string
	inServices, inCommand := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			inServices = trimmed == "services:"
			service, inCommand = "", false
		case inServices && indent == 2 && strings.HasSuffix(trimmed, ":"):
			service, inCommand = strings.TrimSuffix(trimmed, ":"), false
		case service != "" && indent == 4:
			inCommand = trimmed == "command:"
			if inCommand {
				out[service] = []string{}
			}
		case inCommand && indent == 6 && strings.HasPrefix(trimmed, "- "):
			out[service] = append(out[service], strings.Trim(strings.TrimPrefix(trimmed, "- "), `"'`))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return out, nil
}

// TestClusterDockerfileSources checks the Dockerfile's build stage against
// the tree: every COPY source exists and is not excluded by .dockerignore,
// every package the broker binary is built from is copied, and the go build
// target is a main package.
func TestClusterDockerfileSources(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := dockerIgnored(t, root)
	var copied []string // context paths copied into the build stage
	var target string
	stage := 0
	for _, raw := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		fields := strings.Fields(raw)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stage++
		case "COPY", "ADD":
			args := fields[1:]
			fromStage := false
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				fromStage = fromStage || strings.HasPrefix(args[0], "--from=")
				args = args[1:]
			}
			if fromStage || len(args) < 2 {
				continue
			}
			for _, src := range args[:len(args)-1] {
				src = filepath.Clean(src)
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("Dockerfile stage %d: COPY source %q does not exist in the repository", stage, src)
				}
				if ignored[src] {
					t.Errorf("Dockerfile stage %d: COPY source %q is excluded by .dockerignore", stage, src)
				}
				copied = append(copied, src)
			}
		case "RUN":
			for i, f := range fields {
				if f == "build" && i > 0 && fields[i-1] == "go" {
					target = fields[len(fields)-1]
					for _, g := range fields[i+1:] {
						if strings.HasPrefix(g, "./") {
							target = g
						}
					}
				}
			}
		}
	}
	if stage < 2 {
		t.Errorf("Dockerfile has %d stage(s), want a build stage and a runtime stage", stage)
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Error("Dockerfile does not build with CGO_ENABLED=0 (the runtime image needs a static binary)")
	}
	if target == "" {
		t.Fatal("Dockerfile has no `go build ... ./<package>` step")
	}
	ctx := testCtx(t, time.Minute)
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Name}}", target)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "main" {
		t.Errorf("go build target %s is not a main package: %v %s", target, err, out)
	}
	cmd = exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", target)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", target, err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, fetched by go mod download
		}
		if !coveredBy(rel, copied) {
			t.Errorf("package directory %s is needed by %s but the Dockerfile does not copy it (copied: %v)", rel, target, copied)
		}
		for p := rel; p != "." && p != string(filepath.Separator); p = filepath.Dir(p) {
			if ignored[p] {
				t.Errorf("package directory %s is needed by %s but .dockerignore excludes %s", rel, target, p)
			}
		}
	}
}

// coveredBy reports whether rel (a slash path relative to the build context)
// is one of paths or below one of them.
func coveredBy(rel string, paths []string) bool {
	for _, p := range paths {
		if p == "." || rel == p || strings.HasPrefix(rel, p+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// dockerIgnored reads the plain (no wildcard, no negation) entries of
// .dockerignore.
func dockerIgnored(t *testing.T, root string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.ContainsAny(line, "*?[!") {
			continue
		}
		out[filepath.Clean(line)] = true
	}
	return out
}
