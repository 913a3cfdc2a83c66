package bench

// The compaction step: how fast each broker's log cleaner compacts the same dirty log, and
// what a producer gets from the broker while the cleaner runs.
//
// Two one-partition topics (cleanup.policy=compact, segment.bytes 64 MiB, an eighth of the
// log for small ones) are each written
// with Config.CleanerBytes of 200-byte values over Config.CleanerKeys keys, uncompressed,
// while min.cleanable.dirty.ratio=1.0 keeps the cleaner off them. Lowering the ratio to 0.01
// lets the cleaner compact a topic's sealed segments in one pass, which it logs. The first
// topic is cleaned with nothing else going on; then a producer writes 1 KiB records (acks=1)
// as fast as it can to a third topic for the rest of the step, its acknowledged bytes
// sampled, and after a baseline the second topic is cleaned. The figures:
//   - cleaner throughput: megabytes of log rewritten per second of the pass, as each
//     broker's own log line reports it (Kafka: LogCleaner's "MB of log processed in s
//     (MB/sec)", ours: the "cleaned log" line's bytes_before over duration, the same
//     definition), alone and under the producer's load;
//   - the producer's throughput during the second pass (between the log line's time minus
//     the pass's duration and that time) and during the same length of time before it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	compactTopic       = "kbench-compact"        // cleaned alone
	compactLoadedTopic = "kbench-compact-loaded" // cleaned while a producer writes
	cleanLoadTopic     = "kbench-clean-load"     // that producer's topic
)

// cleanBaseline is how long the producer runs before the cleaner starts: 5 s, shorter for
// the small logs of the smoke run.
func cleanBaseline(logBytes int64) time.Duration {
	return min(max(time.Duration(logBytes/(200<<20))*time.Second, time.Second), 5*time.Second)
}

// cleanerStep runs the compaction step on a fresh broker.
func (s *system) cleanerStep(ctx context.Context, rec *recorder, round int) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, s.name+"-cleaner")
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if s.name == Kafka {
		s.chroot = fmt.Sprintf("/kbench-cleaner-round%d", round)
		// Kafka logs through slf4j-simple here (the tools' lib): its LogCleaner statistics come
		// at INFO, dated so that the pass can be placed in time.
		s.jvm = []string{"-Dorg.slf4j.simpleLogger.showDateTime=true",
			"-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS",
			"-Dorg.slf4j.simpleLogger.log.kafka.log.LogCleaner=info"}
		defer func() { s.jvm = nil }()
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	// The producer that runs through the step writes as fast as the broker takes it: its topic
	// keeps at most 256 MiB per partition, so that the disk does not fill.
	props := s.properties(dir, port) + "log.cleaner.backoff.ms=500\nlog.retention.check.interval.ms=1000\n"
	if cfg.CleanerThrottle > 0 {
		props += fmt.Sprintf("log.cleaner.io.max.bytes.per.second=%.0f\n", cfg.CleanerThrottle)
	}
	srv, err := s.start(ctx, dir, port, props)
	if err != nil {
		return err
	}
	defer srv.stop(time.Minute)
	if err := srv.waitAccept(ctx, 3*time.Minute); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.addr), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(120_000)
	// 64 MiB segments; smaller for the small logs of the smoke run, so that some are sealed.
	segment := strconv.FormatInt(min(max(cfg.CleanerBytes/8, 1<<20), 64<<20), 10)
	for _, t := range []string{compactTopic, compactLoadedTopic} {
		_, err = adm.CreateTopic(ctx, 1, 1, map[string]*string{
			"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr(segment),
			"min.cleanable.dirty.ratio": kadm.StringPtr("1.0"),
		}, t)
		if err != nil {
			return fmt.Errorf("create %s: %w", t, err)
		}
	}
	_, err = adm.CreateTopic(ctx, cfg.Partitions, 1, map[string]*string{
		"retention.bytes": kadm.StringPtr(strconv.Itoa(256 << 20)), "segment.bytes": kadm.StringPtr(strconv.Itoa(64 << 20)),
	}, cleanLoadTopic)
	if err != nil {
		return fmt.Errorf("create %s: %w", cleanLoadTopic, err)
	}
	var written int64
	for _, t := range []string{compactTopic, compactLoadedTopic} {
		n, err := writeDirty(ctx, cl, t, cfg.CleanerBytes, cfg.CleanerKeys)
		if err != nil {
			return err
		}
		written = n
	}
	rec.add(s.name, "cleaner_log", float64(written)/1e6)

	// The first topic is cleaned with nothing else going on.
	if err := startCleaning(ctx, adm, compactTopic); err != nil {
		return err
	}
	pass, err := waitCleanPass(ctx, s.name, srv, compactTopic)
	if err != nil {
		return err
	}
	rec.add(s.name, "cleaner_mbps", pass.mbps)

	// The second while a producer writes to the broker.
	meter := startMeter(ctx, srv.addr, cleanLoadTopic)
	defer meter.stop()
	time.Sleep(cleanBaseline(cfg.CleanerBytes))
	trigger := time.Now()
	if err := startCleaning(ctx, adm, compactLoadedTopic); err != nil {
		return err
	}
	pass, err = waitCleanPass(ctx, s.name, srv, compactLoadedTopic)
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	meter.stop()
	if meter.err != nil {
		return meter.err
	}
	rec.add(s.name, "cleaner_mbps_loaded", pass.mbps)
	start := pass.end.Add(-pass.duration)
	rec.add(s.name, "cleaner_produce_idle", meter.rate(trigger.Add(-pass.duration), trigger))
	rec.add(s.name, "cleaner_produce_during", meter.rate(start, pass.end))
	return nil
}

// startCleaning lowers a compacted topic's min.cleanable.dirty.ratio, which lets the cleaner
// at it.
func startCleaning(ctx context.Context, adm *kadm.Client, topic string) error {
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "min.cleanable.dirty.ratio", Value: kadm.StringPtr("0.01")}}, topic)
	if err == nil {
		for _, r := range res {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("lowering min.cleanable.dirty.ratio of %s: %w", topic, err)
	}
	return nil
}

// waitCleanPass waits up to 3 minutes for the broker to log a cleaning pass of topic.
func waitCleanPass(ctx context.Context, system string, srv *server, topic string) (cleanPass, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pass, ok, err := findCleanPass(system, srv.logf.Name(), topic)
		if err != nil || ok {
			return pass, err
		}
		if time.Now().After(deadline) || srv.exited() {
			return pass, fmt.Errorf("no cleaning pass of %s logged\n%s", topic, srv.logTail())
		}
		select {
		case <-ctx.Done():
			return pass, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeDirty writes about total bytes of 200-byte values over keys keys to a compacted
// topic and returns the bytes of values and keys written.
func writeDirty(ctx context.Context, cl *kgo.Client, topic string, total int64, keys int) (int64, error) {
	value := []byte(strings.Repeat("v", 200))
	var written int64
	var mu sync.Mutex
	var firstErr error
	for i := 0; written < total; i++ {
		key := []byte(fmt.Sprintf("key-%08d", i%keys))
		written += int64(len(key) + len(value))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	return written, firstErr
}

// meter produces 1 KiB records to a topic until stopped and samples the acknowledged bytes.
type meter struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []sample
	acked   int64
	err     error
	once    sync.Once
}

type sample struct {
	at    time.Time
	bytes int64
}

func startMeter(ctx context.Context, addr, topic string) *meter {
	ctx, cancel := context.WithCancel(ctx)
	m := &meter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.LeaderAck()),
			kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(20000))
		if err != nil {
			m.err = err
			return
		}
		defer cl.Close()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-tick.C:
					m.mu.Lock()
					m.samples = append(m.samples, sample{now, m.acked})
					m.mu.Unlock()
				}
			}
		}()
		value := make([]byte, 1024)
		for ctx.Err() == nil {
			cl.Produce(ctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
				if err == nil {
					m.mu.Lock()
					m.acked += int64(len(r.Value))
					m.mu.Unlock()
				}
			})
		}
	}()
	return m
}

func (m *meter) stop() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
	})
}

// rate is the acknowledged MB/s over the samples that enclose [from, to]: the last at or
// before from and the first at or after to (the nearest ones when the samples do not reach).
func (m *meter) rate(from, to time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < 2 {
		return 0
	}
	i := 0
	for i+1 < len(m.samples) && !m.samples[i+1].at.After(from) {
		i++
	}
	j := len(m.samples) - 1
	for j-1 > i && !m.samples[j-1].at.Before(to) {
		j--
	}
	if j <= i {
		return 0
	}
	a, b := m.samples[i], m.samples[j]
	return float64(b.bytes-a.bytes) / 1e6 / b.at.Sub(a.at).Seconds()
}

// cleanPass is one cleaning pass as a broker logged it.
type cleanPass struct {
	mbps     float64
	duration time.Duration
	end      time.Time
}

// kafkaCleanRE matches Kafka's LogCleaner statistics (3.9, recordStats) for one partition.
func kafkaCleanRE(topic string) *regexp.Regexp {
	return regexp.MustCompile(`(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})[^\n]*INFO[^\n]*\s+Log cleaner thread \d+ cleaned log ` +
		regexp.QuoteMeta(topic) + `-0 \(dirty section = \[\d+, \d+\]\)\s+([\d,.]+) MB of log processed in ([\d,.]+) seconds \(([\d,.]+) MB/sec\)`)
}

// findCleanPass looks for the first cleaning pass of topic's partition 0 in a broker's output.
func findCleanPass(system, path, topic string) (cleanPass, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cleanPass{}, false, err
	}
	if system == Kafka {
		m := kafkaCleanRE(topic).FindSubmatch(b)
		if m == nil {
			return cleanPass{}, false, nil
		}
		num := func(s []byte) float64 {
			v, _ := strconv.ParseFloat(strings.ReplaceAll(string(s), ",", ""), 64)
			return v
		}
		end, err := time.ParseInLocation("2006-01-02 15:04:05,000", string(m[1]), time.Local)
		if err != nil {
			return cleanPass{}, false, err
		}
		return cleanPass{mbps: num(m[4]), duration: time.Duration(math.Round(num(m[3])*1000)) * time.Millisecond, end: end}, true, nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"cleaned log"`) || !strings.Contains(line, `"topic":"`+topic+`"`) {
			continue
		}
		var v struct {
			BytesBefore int64     `json:"bytes_before"`
			Duration    float64   `json:"duration"` // milliseconds
			Time        time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return cleanPass{}, false, err
		}
		d := time.Duration(v.Duration * float64(time.Millisecond))
		return cleanPass{mbps: float64(v.BytesBefore) / (1 << 20) / d.Seconds(), duration: d, end: v.Time}, true, nil
	}
	return cleanPass{}, false, nil
}
