package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFindCleanPass reads a cleaning pass from each broker's output: Kafka's LogCleaner
// statistics through slf4j-simple with dates, and our JSON line.
func TestFindCleanPass(t *testing.T) {
	dir := t.TempDir()
	kafka := "2026-12-04 19:05:13,250 [kafka-log-cleaner-thread-0] INFO kafka.log.LogCleaner - \n" +
		"\tLog cleaner thread 0 cleaned log other-0 (dirty section = [0, 10])\n\t1.0 MB of log processed in 0.5 seconds (2.0 MB/sec).\n" +
		"2026-12-04 19:05:14,500 [kafka-log-cleaner-thread-0] INFO kafka.log.LogCleaner - \n" +
		"\tLog cleaner thread 0 cleaned log kbench-compact-0 (dirty section = [0, 4000000])\n" +
		"\t1,024.0 MB of log processed in 8.2 seconds (124.9 MB/sec).\n\tIndexed 1,024.0 MB in 3.1 seconds\n"
	ours := `{"level":"info","component":"log-cleaner","topic":"kbench-compact","partition":0,"bytes_before":2097152,"duration":500.5,"time":"2026-12-04T19:05:14.5Z","message":"cleaned log"}` + "\n"
	for _, c := range []struct {
		system, text string
		mbps         float64
		dur          time.Duration
		end          time.Time
	}{
		{Kafka, kafka, 124.9, 8200 * time.Millisecond, time.Date(2026, 12, 4, 19, 5, 14, 500e6, time.Local)},
		{Ours, ours, 2 / 0.5005, 500500 * time.Microsecond, time.Date(2026, 12, 4, 19, 5, 14, 500e6, time.UTC)},
	} {
		path := filepath.Join(dir, c.system)
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, ok, err := findCleanPass(c.system, path, compactTopic)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", c.system, ok, err)
		}
		if d := p.mbps - c.mbps; d > 0.01 || d < -0.01 || p.duration != c.dur || !p.end.Equal(c.end) {
			t.Fatalf("%s: %+v, want %v MB/s over %v ending %v", c.system, p, c.mbps, c.dur, c.end)
		}
		if _, ok, _ := findCleanPass(c.system, path, compactLoadedTopic); ok {
			t.Fatalf("%s: a pass of another topic matched", c.system)
		}
	}
}
