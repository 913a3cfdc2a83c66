package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBenchSmoke runs `kbench -smoke` against our broker only (Kafka's side runs in
// `make bench-smoke`) and checks that every step ran and produced a number. It asserts
// nothing about speed.
func TestBenchSmoke(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kbench := filepath.Join(dir, "kbench")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", kbench, "./cmd/kbench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kbench: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, kbench, "-smoke", "-json", "-broker", brokerBin, "-kload", kloadBin,
		"-zk", zkLauncher(t), "-work", filepath.Join(dir, "work"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kbench -smoke: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var rep struct {
		Limits []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"limits"`
		Rows []struct {
			Key  string  `json:"key"`
			Ours float64 `json:"ours"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("kbench -json output: %v\n%s", err, stdout.String())
	}
	if len(rep.Limits) != 2 {
		t.Errorf("%d physical limits, want loopback and disk: %+v", len(rep.Limits), rep.Limits)
	}
	for _, l := range rep.Limits {
		if l.Value <= 0 {
			t.Errorf("limit %q = %v, want a positive figure", l.Name, l.Value)
		}
	}
	got := map[string]float64{}
	for _, r := range rep.Rows {
		got[r.Key] = r.Ours
	}
	// Every figure of our side; the Java perf-test rows need Kafka's jars and are not asked for.
	for _, key := range []string{
		"produce_1k_acks1", "produce_1k_acksall", "produce_100_acks1", "produce_100_acksall",
		"produce_1k_acksall_p99", "txn_init", "txn_produce_1k", "txn_commit_p50", "txn_commit_p99", "txn_consume_1k", "rf3_produce_1k_acksall", "rf3_produce_1k_acksall_p99", "consume_1k", "e2e_p50", "e2e_p99", "e2e_p999",
		"rss_idle", "rss_load", "startup_listen", "startup_produce",
		"recovery_log", "recovery_listen", "recovery_produce",
		"scale_create", "scale_rss", "scale_metadata", "scale_produce_all", "conns_rss",
		"cleaner_log", "cleaner_mbps", "cleaner_mbps_loaded", "cleaner_produce_idle", "cleaner_produce_during",
	} {
		if v, ok := got[key]; !ok || v <= 0 {
			t.Errorf("figure %s: %v (present %v), want a positive number\nstderr:\n%s", key, v, ok, stderr.String())
		}
	}
}
