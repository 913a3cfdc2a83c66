package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// figure describes one row of the table.
type figure struct {
	key, name, unit string
	lowerIsBetter   bool
	target          float64 // ratio ours/Kafka to reach (0: none)
}

// figures is the table, in order. Keys are what the steps record under.
var figures = []figure{
	{"produce_1k_acks1", "Produce 1 KiB records, acks=1 (kload, franz-go)", "MB/s", false, 1.5},
	{"produce_1k_acksall", "Produce 1 KiB records, acks=all (kload, franz-go)", "MB/s", false, 1.5},
	{"produce_100_acks1", "Produce 100 B records, acks=1 (kload, franz-go)", "MB/s", false, 1.5},
	{"produce_100_acksall", "Produce 100 B records, acks=all (kload, franz-go)", "MB/s", false, 1.5},
	{"produce_1k_acksall_p99", "Produce latency p99 at full speed, 1 KiB acks=all (kload)", "ms", true, 0},
	{"rf3_produce_1k_acksall", "Produce 1 KiB, 3 brokers, RF 3, min.insync.replicas=2, acks=all (kload)", "MB/s", false, 1.5},
	{"rf3_produce_1k_acksall_p99", "Produce latency p99 at full speed, 3 brokers, RF 3, acks=all (kload)", "ms", true, 0},
	{"perf_produce_1k_acks1", "Produce 1 KiB, acks=1 (kafka-producer-perf-test, Java)", "MB/s", false, 1.5},
	{"perf_produce_1k_acksall", "Produce 1 KiB, acks=all (kafka-producer-perf-test, Java)", "MB/s", false, 1.5},
	{"consume_1k", "Consume 1 KiB backlog (kload, franz-go)", "MB/s", false, 1.5},
	{"txn_produce_1k", "Transactional produce 1 KiB, transactions of 1,000 (kload, franz-go)", "MB/s", false, 2},
	{"txn_init", "First InitProducerId with a transactional id on a fresh broker (creates __transaction_state)", "ms", true, 0},
	{"txn_commit_p50", "Transaction commit latency p50 (flush + EndTxn)", "ms", true, 0},
	{"txn_commit_p99", "Transaction commit latency p99 (flush + EndTxn)", "ms", true, 0.5},
	{"txn_consume_1k", "Consume the transactional backlog, read_committed (kload, franz-go)", "MB/s", false, 2},
	{"tls_produce_1k_acks1", "Produce 1 KiB records over TLS, acks=1 (kload, franz-go)", "MB/s", false, 1.5},
	{"tls_consume_1k", "Consume 1 KiB backlog over TLS (kload, franz-go)", "MB/s", false, 1.5},
	{"tls_handshakes", "TLS handshakes per second (two dialers, no resumption)", "/s", false, 0},
	{"perf_consume_1k", "Consume 1 KiB backlog (kafka-consumer-perf-test, Java)", "MB/s", false, 1.5},
	{"e2e_p50", "End-to-end latency p50 at fixed rate", "ms", true, 0},
	{"e2e_p99", "End-to-end latency p99 at fixed rate", "ms", true, 0.5},
	{"e2e_p999", "End-to-end latency p99.9 at fixed rate", "ms", true, 0.5},
	{"rss_idle", "RSS idle (after start-up)", "MiB", true, 0},
	{"rss_load", "RSS under load (peak VmRSS during the load steps)", "MiB", true, 0.25},
	{"cpu_per_gb", "CPU seconds per GB produced (broker process)", "s/GB", true, 0},
	{"startup_listen", "Start-up to first accepted connection", "s", true, 0.1},
	{"startup_produce", "Start-up to first successful produce (acks=all)", "s", true, 0.1},
	{"recovery_log", "Log size before kill -9", "MB", false, 0},
	{"recovery_listen", "Restart after kill -9: first accepted connection", "s", true, 0},
	{"recovery_produce", "Restart after kill -9: first successful produce", "s", true, 0},
	{"cleaner_log", "Dirty log per compacted topic (keys and values)", "MB", false, 0},
	{"cleaner_mbps", "Log cleaner: log rewritten per second of the pass, nothing else running (the broker's own figure)", "MB/s", false, 2},
	{"cleaner_mbps_loaded", "Log cleaner: the same, while a producer writes at full speed", "MB/s", false, 0},
	{"cleaner_produce_idle", "Produce 1 KiB, acks=1, before the cleaner runs (same duration as the pass)", "MB/s", false, 0},
	{"cleaner_produce_during", "Produce 1 KiB, acks=1, while the cleaner runs", "MB/s", false, 0},
	{"scale_create", "Create a topic of N partitions (until all have leaders)", "s", true, 0},
	{"scale_rss", "RSS with N partitions", "MiB", true, 0},
	{"scale_metadata", "Metadata (all topics) latency with N partitions, median", "ms", true, 0},
	{"scale_produce_all", "Produce one record to each of N partitions", "s", true, 0},
	{"conns_rss", "RSS with the idle connections open", "MiB", true, 0},
	{"conns_rss_delta", "RSS growth for the idle connections", "MiB", true, 0},
}

// Row is one figure of the report: medians over rounds and the ratio ours/Kafka.
type Row struct {
	Key           string    `json:"key"`
	Figure        string    `json:"figure"`
	Unit          string    `json:"unit"`
	LowerIsBetter bool      `json:"lower_is_better"`
	Target        float64   `json:"target_ratio,omitempty"`
	Ours          float64   `json:"ours"`
	Kafka         float64   `json:"kafka"`
	Ratio         float64   `json:"ratio"` // ours/Kafka; 0 when Kafka did not run
	Met           *bool     `json:"met,omitempty"`
	OursRuns      []float64 `json:"ours_runs"`
	KafkaRuns     []float64 `json:"kafka_runs,omitempty"`
}

// Limit is one physical limit of the machine.
type Limit struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Machine Machine  `json:"machine"`
	Params  []string `json:"params"` // the sizes used, as "name=value"
	Limits  []Limit  `json:"limits"`
	Rows    []Row    `json:"rows"`
	// Failures are the steps that did not run to the end (system, step, error); their
	// figures are missing from Rows or have fewer runs.
	Failures []string `json:"failures,omitempty"`
}

// recorder collects the per-round values of each figure and system.
type recorder struct {
	vals map[string]map[string][]float64 // key -> system -> values
}

func newRecorder() *recorder { return &recorder{vals: map[string]map[string][]float64{}} }

func (r *recorder) add(system, key string, v float64) {
	if r.vals[key] == nil {
		r.vals[key] = map[string][]float64{}
	}
	r.vals[key][system] = append(r.vals[key][system], v)
}

// rows builds the table from what was recorded; figures never recorded are left out.
func (r *recorder) rows() []Row {
	var out []Row
	for _, f := range figures {
		v := r.vals[f.key]
		if len(v[Ours]) == 0 && len(v[Kafka]) == 0 {
			continue
		}
		row := Row{Key: f.key, Figure: f.name, Unit: f.unit, LowerIsBetter: f.lowerIsBetter, Target: f.target,
			Ours: median(v[Ours]), Kafka: median(v[Kafka]), OursRuns: v[Ours], KafkaRuns: v[Kafka]}
		if row.Kafka != 0 && len(v[Ours]) > 0 {
			row.Ratio = row.Ours / row.Kafka
			if f.target > 0 {
				met := row.Ratio >= f.target
				if f.lowerIsBetter {
					met = row.Ratio <= f.target
				}
				row.Met = &met
			}
		}
		out = append(out, row)
	}
	return out
}

// median of the values (0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteJSON prints the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown prints the machine, the limits and the table.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %.1f GiB memory, kernel %s; data disk %s (%s); %s; %s.\n\n",
		m.CPUs, m.CPUModel, float64(m.MemBytes)/(1<<30), m.Kernel, m.Disk, m.FSType, m.Go, m.Java)
	if len(r.Params) > 0 {
		fmt.Fprintf(&b, "Sizes: %s.\n\n", strings.Join(r.Params, ", "))
	}
	if len(r.Limits) > 0 {
		b.WriteString("| Physical limit | Value |\n|---|---|\n")
		for _, l := range r.Limits {
			fmt.Fprintf(&b, "| %s | %s %s%s |\n", l.Name, num(l.Value), l.Unit, note(l.Note))
		}
		b.WriteString("\n")
	}
	b.WriteString("| Figure | Unit | Ours | Kafka 3.9 | Ours/Kafka | Target | Runs (ours; Kafka) |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---|\n")
	for _, row := range r.Rows {
		ratio, target := "–", "–"
		if row.Ratio != 0 {
			ratio = num(row.Ratio) + "x"
		}
		if row.Target > 0 {
			op := ">="
			if row.LowerIsBetter {
				op = "<="
			}
			target = fmt.Sprintf("%s %.2gx", op, row.Target)
			if row.Met != nil {
				if *row.Met {
					target += " met"
				} else {
					target += " **missed**"
				}
			}
		}
		ours, kafka := "–", "–"
		if len(row.OursRuns) > 0 {
			ours = num(row.Ours)
		}
		if len(row.KafkaRuns) > 0 {
			kafka = num(row.Kafka)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s; %s |\n", row.Figure, row.Unit, ours, kafka,
			ratio, target, runs(row.OursRuns), runs(row.KafkaRuns))
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nSteps that failed:\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(strings.TrimSpace(f), "\n", " "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func note(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func runs(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = num(x)
	}
	return strings.Join(s, " / ")
}

// num prints a figure with three significant digits at most.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
