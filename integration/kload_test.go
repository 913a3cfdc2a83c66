package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// kloadReport mirrors the JSON kload prints.
type kloadReport struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions"`
	Produce    *struct {
		Records  int64   `json:"records"`
		Errors   int64   `json:"errors"`
		MBPerSec float64 `json:"mb_per_s"`
		P99Ms    float64 `json:"p99_ms"`
	} `json:"produce"`
	Consume *struct {
		Records int64 `json:"records"`
		Bytes   int64 `json:"bytes"`
	} `json:"consume"`
}

func TestKload(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cases := []struct {
		acks string
		mode string
		want int64 // records consumed
	}{
		{"all", "both", 5000},
		{"1", "produce", 0},
		{"0", "produce", 0},
		{"all", "consume", 15000}, // everything the runs above wrote
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, kloadBin, "-brokers", b.Addr(), "-topic", "kload-it", "-records", "5000",
			"-size", "100", "-partitions", "3", "-acks", tc.acks, "-mode", tc.mode, "-json", "-timeout", "90s")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("kload -acks %s -mode %s: %v\nstdout: %s\nstderr: %s", tc.acks, tc.mode, err, stdout.String(), stderr.String())
		}
		var rep kloadReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("kload -json output %q: %v", stdout.String(), err)
		}
		if rep.Partitions != 3 {
			t.Errorf("kload -acks %s: topic has %d partitions, want 3", tc.acks, rep.Partitions)
		}
		if tc.mode != "consume" && (rep.Produce == nil || rep.Produce.Records != 5000 || rep.Produce.Errors != 0) {
			t.Errorf("kload -acks %s -mode %s produce: %+v, want 5000 records and no error", tc.acks, tc.mode, rep.Produce)
		}
		if tc.mode != "produce" && (rep.Consume == nil || rep.Consume.Records != tc.want || rep.Consume.Bytes != 100*tc.want) {
			t.Errorf("kload -acks %s -mode %s consume: %+v, want %d records", tc.acks, tc.mode, rep.Consume, tc.want)
		}
	}
}
