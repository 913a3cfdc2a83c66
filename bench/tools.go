package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// kloadPhase is one phase of kload's JSON report.
type kloadPhase struct {
	Records  int64   `json:"records"`
	Bytes    int64   `json:"bytes"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	MBPerSec float64 `json:"mb_per_s"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	// Transactional produce (kload -txn).
	InitMs       float64 `json:"init_ms"`
	Transactions int64   `json:"transactions"`
	CommitP50Ms  float64 `json:"commit_p50_ms"`
	CommitP99Ms  float64 `json:"commit_p99_ms"`
}

type kloadReport struct {
	Produce *kloadPhase `json:"produce"`
	Consume *kloadPhase `json:"consume"`
}

// runKload runs the kload binary with -json and returns its report.
func runKload(ctx context.Context, bin string, args ...string) (kloadReport, error) {
	var rep kloadReport
	cmd := exec.CommandContext(ctx, bin, append(args, "-json")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("kload %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("kload output %q: %w", out.String(), err)
	}
	return rep, nil
}

// javaTool runs a Kafka tool's main class the way its kafka-*.sh script does (512 MiB heap,
// G1) and returns its standard output.
func javaTool(ctx context.Context, cfg *Config, class string, args ...string) (string, error) {
	argv := []string{"-Xmx512M", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dorg.slf4j.simpleLogger.logFile=System.err"}
	if cfg.KafkaLog4j != "" {
		argv = append(argv, "-Dlog4j.configuration=file:"+cfg.KafkaLog4j)
	}
	argv = append(argv, "-cp", filepath.Join(cfg.KafkaLib, "*"), class)
	cmd := exec.CommandContext(ctx, cfg.Java, append(argv, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s%s", class, err, out.String(), errb.String())
	}
	return out.String(), nil
}

// producerPerf runs kafka-producer-perf-test and returns MB/s (10^6 bytes of values).
func producerPerf(ctx context.Context, cfg *Config, addr, topic string, records, size int, acks string) (float64, error) {
	out, err := javaTool(ctx, cfg, "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.Itoa(records), "--record-size", strconv.Itoa(size),
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+addr, "acks="+acks)
	if err != nil {
		return 0, err
	}
	return parseProducerPerf(out, size)
}

// parseProducerPerf reads the summary line "N records sent, R records/sec (M MB/sec), ...".
func parseProducerPerf(out string, size int) (float64, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if !strings.Contains(l, "records sent") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 5 {
			break
		}
		rps, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			return 0, fmt.Errorf("producer perf summary %q: %w", l, err)
		}
		return rps * float64(size) / 1e6, nil
	}
	return 0, fmt.Errorf("no summary in producer perf output %q", out)
}

// consumerPerf runs kafka-consumer-perf-test over records records and returns MB/s
// (10^6 bytes) of its fetch phase.
func consumerPerf(ctx context.Context, cfg *Config, addr, topic string, records int) (float64, error) {
	out, err := javaTool(ctx, cfg, "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", addr, "--topic", topic, "--messages", strconv.Itoa(records),
		"--timeout", "60000", "--group", "kbench-"+topic)
	if err != nil {
		return 0, err
	}
	return parseConsumerPerf(out)
}

// parseConsumerPerf reads the CSV line after the header; fetch.MB.sec is in MiB/s.
func parseConsumerPerf(out string) (float64, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "start.time") || i+1 >= len(lines) {
			continue
		}
		head := strings.Split(l, ",")
		vals := strings.Split(lines[i+1], ",")
		for j, h := range head {
			if strings.TrimSpace(h) == "fetch.MB.sec" && j < len(vals) {
				v, err := strconv.ParseFloat(strings.TrimSpace(vals[j]), 64)
				if err != nil {
					return 0, fmt.Errorf("consumer perf %q: %w", lines[i+1], err)
				}
				return v * (1 << 20) / 1e6, nil
			}
		}
	}
	return 0, fmt.Errorf("no summary in consumer perf output %q", out)
}
