package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Run measures the limits, then runs cfg.Rounds alternating rounds of each system, then the
// recovery and scale steps once per system, and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Java == "" {
		cfg.Java = "java"
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	rep := &Report{Machine: describeMachine(ctx, cfg.WorkDir, cfg.Java), Params: cfg.params()}
	// Both brokers inherit this limit; Kafka's operations guide asks for a high one.
	rep.Params = append(rep.Params, fmt.Sprintf("open files limit=%d", raiseFileLimit(1<<17)))
	rec := newRecorder()

	lg.Info().Msg("measuring loopback TCP and disk")
	lb, err := loopbackMBps(ctx, limitDuration(cfg.LimitBytes))
	if err != nil {
		return nil, fmt.Errorf("loopback: %w", err)
	}
	rep.Limits = append(rep.Limits, Limit{Name: "Loopback TCP, one connection", Value: lb, Unit: "MB/s"})
	dk, direct, err := diskWriteMBps(cfg.WorkDir, max(cfg.LimitBytes, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	how := "1 MiB O_DIRECT writes, then fsync"
	if !direct {
		how = "1 MiB buffered writes, then fsync (O_DIRECT refused)"
	}
	rep.Limits = append(rep.Limits, Limit{Name: "Sequential write of the data disk", Value: dk, Unit: "MB/s", Note: how})

	systems := []*system{{name: Ours, cfg: &cfg}}
	if cfg.KafkaLib != "" || cfg.ReplicatedRecords > 0 {
		zs, err := startZooKeeper(ctx, &cfg, filepath.Join(cfg.WorkDir, "zookeeper"))
		if err != nil {
			return nil, fmt.Errorf("zookeeper: %w", err)
		}
		defer func() {
			zs.stop(10 * time.Second)
			os.RemoveAll(filepath.Join(cfg.WorkDir, "zookeeper"))
		}()
		systems[0].zkAddr = zs.addr
		if cfg.KafkaLib != "" {
			systems = append(systems, &system{name: Kafka, cfg: &cfg, zkAddr: zs.addr})
		}
	}
	// A failed step is reported and the run goes on, so one failure does not lose the rest.
	step := func(s *system, what string, fn func() error) {
		lg.Info().Str("system", s.name).Msg(what)
		if err := fn(); err != nil {
			msg := fmt.Sprintf("%s, %s: %v", s.name, what, err)
			lg.Error().Msg(msg)
			rep.Failures = append(rep.Failures, msg)
		}
	}
	for round := 1; !cfg.SkipLoad && round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for _, s := range systems {
			step(s, fmt.Sprintf("load round %d", round), func() error { return s.loadRound(ctx, rec, round) })
		}
	}
	for round := 1; cfg.TxnRecords > 0 && round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for _, s := range systems {
			step(s, fmt.Sprintf("transactional round %d", round), func() error { return s.txnRound(ctx, rec, round) })
		}
	}
	for round := 1; cfg.ReplicatedRecords > 0 && round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for _, s := range systems {
			step(s, fmt.Sprintf("replicated round %d", round), func() error { return s.replicatedStep(ctx, rec, round) })
		}
	}
	for round := 1; cfg.TLSRecords > 0 && round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for _, s := range systems {
			step(s, fmt.Sprintf("TLS round %d", round), func() error { return s.tlsRound(ctx, rec, round) })
		}
	}
	if cfg.RecoveryBytes > 0 {
		for _, s := range systems {
			step(s, "recovery after kill -9", func() error { return s.recoveryStep(ctx, rec) })
		}
	}
	for round := 1; cfg.CleanerBytes > 0 && round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for _, s := range systems {
			step(s, fmt.Sprintf("compaction round %d", round), func() error { return s.cleanerStep(ctx, rec, round) })
		}
	}
	if cfg.ScalePartitions > 0 || cfg.IdleConns > 0 {
		for _, s := range systems {
			step(s, "scale", func() error { return s.scaleStep(ctx, rec) })
		}
	}
	rep.Rows = rec.rows()
	return rep, ctx.Err()
}

func (c Config) params() []string {
	p := []string{
		fmt.Sprintf("rounds=%d", c.Rounds), fmt.Sprintf("partitions=%d", c.Partitions),
		fmt.Sprintf("records_1KiB=%d", c.Records1K), fmt.Sprintf("records_100B=%d", c.Records100),
		fmt.Sprintf("e2e=%d records/s of 1 KiB for %v (first %v dropped)", c.E2ERate, c.E2EDuration, c.E2EWarmup),
		fmt.Sprintf("replicated_records=%d (3 brokers, RF 3, min.insync.replicas=2, acks=all)", c.ReplicatedRecords),
		fmt.Sprintf("txn_records=%d (transactions of %d, then read_committed)", c.TxnRecords, txnPerTransaction),
		fmt.Sprintf("tls_records=%d (SSL listener, acks=1), TLS handshakes for %v", c.TLSRecords, c.TLSHandshakeTime),
		fmt.Sprintf("recovery_log=%d MiB", c.RecoveryBytes>>20),
		fmt.Sprintf("compaction=%d MiB of 200 B values over %d keys, cleaner throttle %.0f B/s (0: none)", c.CleanerBytes>>20, c.CleanerKeys, c.CleanerThrottle),
		fmt.Sprintf("N=%d partitions", c.ScalePartitions), fmt.Sprintf("idle_connections=%d", c.IdleConns),
	}
	if c.JavaPerf && c.KafkaLib != "" {
		p = append(p, fmt.Sprintf("java_perf_records=%d", c.PerfRecords))
	}
	return p
}

// limitDuration scales the loopback probe with the benchmark size (1 s to 5 s).
func limitDuration(bytes int64) time.Duration {
	return min(max(time.Duration(bytes>>28)*time.Second, time.Second), 5*time.Second)
}

// boot starts the system on dir and records the two start-up figures under the given keys.
func (s *system) boot(ctx context.Context, rec *recorder, dir, listenKey, produceKey, topic string, parts int32) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	srv, err := s.start(ctx, dir, port, s.properties(dir, port))
	if err != nil {
		return nil, err
	}
	if err := srv.waitAccept(ctx, 3*time.Minute); err != nil {
		srv.kill9()
		return nil, err
	}
	listen := time.Since(t0)
	if err := firstProduce(ctx, srv.addr, topic, parts); err != nil {
		srv.kill9()
		return nil, fmt.Errorf("%w\n%s", err, srv.logTail())
	}
	rec.add(s.name, listenKey, listen.Seconds())
	rec.add(s.name, produceKey, time.Since(t0).Seconds())
	return srv, nil
}

// loadRound is one round: start-up, idle RSS, produce runs, consume, optional Java perf
// tools, end-to-end latency; the data directory is removed afterwards.
func (s *system) loadRound(ctx context.Context, rec *recorder, round int) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("%s-round%d", s.name, round))
	defer os.RemoveAll(dir)
	if s.name == Kafka {
		s.chroot = fmt.Sprintf("/kbench-round%d", round)
	}
	srv, err := s.boot(ctx, rec, dir, "startup_listen", "startup_produce", "kbench-startup", 1)
	if err != nil {
		return err
	}
	defer srv.stop(time.Minute)

	time.Sleep(2 * time.Second)
	rss, _, err := procStatus(srv.pid())
	if err != nil {
		return err
	}
	rec.add(s.name, "rss_idle", mib(rss))

	sampler := sampleRSS(srv.pid())
	cpu0, err := cpuSeconds(srv.pid())
	if err != nil {
		sampler.finish()
		return err
	}
	parts := strconv.Itoa(int(cfg.Partitions))
	produced := int64(0)
	for _, run := range []struct {
		key, acks string
		size, n   int
	}{
		{"produce_1k_acks1", "1", 1024, cfg.Records1K},
		{"produce_1k_acksall", "all", 1024, cfg.Records1K},
		{"produce_100_acks1", "1", 100, cfg.Records100},
		{"produce_100_acksall", "all", 100, cfg.Records100},
	} {
		r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-topic", run.key, "-partitions", parts,
			"-records", strconv.Itoa(run.n), "-size", strconv.Itoa(run.size), "-acks", run.acks, "-mode", "produce")
		if err != nil {
			sampler.finish()
			return err
		}
		if r.Produce == nil || r.Produce.Errors > 0 {
			sampler.finish()
			return fmt.Errorf("kload %s: produce errors: %+v", run.key, r.Produce)
		}
		rec.add(s.name, run.key, r.Produce.MBPerSec)
		if run.key == "produce_1k_acksall" {
			rec.add(s.name, "produce_1k_acksall_p99", r.Produce.P99Ms)
		}
		produced += r.Produce.Bytes
	}
	cpu1, err := cpuSeconds(srv.pid())
	if err != nil {
		sampler.finish()
		return err
	}
	if produced > 0 {
		rec.add(s.name, "cpu_per_gb", (cpu1-cpu0)/(float64(produced)/1e9))
	}
	r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-topic", "produce_1k_acksall", "-mode", "consume")
	if err != nil {
		sampler.finish()
		return err
	}
	if r.Consume == nil || r.Consume.Records != int64(cfg.Records1K) {
		sampler.finish()
		return fmt.Errorf("kload consume: %+v, want %d records", r.Consume, cfg.Records1K)
	}
	rec.add(s.name, "consume_1k", r.Consume.MBPerSec)
	if cfg.JavaPerf && cfg.KafkaLib != "" {
		for _, run := range []struct{ key, acks string }{{"perf_produce_1k_acks1", "1"}, {"perf_produce_1k_acksall", "all"}} {
			if err := createTopic(ctx, srv.addr, run.key, cfg.Partitions); err != nil {
				sampler.finish()
				return err
			}
			v, err := producerPerf(ctx, cfg, srv.addr, run.key, cfg.PerfRecords, 1024, run.acks)
			if err != nil {
				sampler.finish()
				return err
			}
			rec.add(s.name, run.key, v)
		}
		// The Java consumer fetches only the partitions it has nothing buffered for, so when some
		// partitions drain before others it waits fetch.max.wait.ms on the drained ones while
		// the others queue behind that request; how uneven franz-go's sticky partitioner leaves
		// the partitions depends on the broker's speed. Its backlog is therefore written record
		// by record round the partitions, equal on both systems.
		r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-topic", "perf_consume_1k", "-partitions", parts,
			"-records", strconv.Itoa(cfg.Records1K), "-size", "1024", "-acks", "1", "-mode", "produce", "-partitioner", "roundrobin")
		if err != nil {
			sampler.finish()
			return err
		}
		if r.Produce == nil || r.Produce.Errors > 0 {
			sampler.finish()
			return fmt.Errorf("kload perf_consume_1k: produce errors: %+v", r.Produce)
		}
		v, err := consumerPerf(ctx, cfg, srv.addr, "perf_consume_1k", cfg.Records1K)
		if err != nil {
			sampler.finish()
			return err
		}
		rec.add(s.name, "perf_consume_1k", v)
	}
	rec.add(s.name, "rss_load", mib(sampler.finish()))

	lat, err := endToEnd(ctx, srv.addr, "kbench-e2e", cfg.Partitions, cfg.E2ERate, 1024, cfg.E2EDuration, cfg.E2EWarmup)
	if err != nil {
		return err
	}
	rec.add(s.name, "e2e_p50", lat.P50)
	rec.add(s.name, "e2e_p99", lat.P99)
	rec.add(s.name, "e2e_p999", lat.P999)
	return nil
}

// recoveryStep writes cfg.RecoveryBytes of 1 KiB records, kills the broker with SIGKILL and
// times the restart on the same directory.
func (s *system) recoveryStep(ctx context.Context, rec *recorder) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, s.name+"-recovery")
	defer os.RemoveAll(dir)
	if s.name == Kafka {
		s.chroot = "/kbench-recovery"
	}
	scratch := newRecorder()
	srv, err := s.boot(ctx, scratch, dir, "l", "p", "kbench-recovery", cfg.Partitions)
	if err != nil {
		return err
	}
	n := int(cfg.RecoveryBytes / 1024)
	r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-topic", "kbench-recovery", "-records", strconv.Itoa(n),
		"-size", "1024", "-acks", "1", "-mode", "produce")
	if err != nil {
		srv.kill9()
		return err
	}
	rec.add(s.name, "recovery_log", float64(r.Produce.Bytes)/1e6)
	srv.kill9()
	if err := s.afterKill(ctx); err != nil {
		return err
	}
	srv, err = s.boot(ctx, rec, dir, "recovery_listen", "recovery_produce", "kbench-recovery", cfg.Partitions)
	if err != nil {
		return err
	}
	srv.stop(time.Minute)
	return nil
}

// scaleStep creates a topic of cfg.ScalePartitions partitions, then opens cfg.IdleConns
// idle connections, recording memory and latencies.
func (s *system) scaleStep(ctx context.Context, rec *recorder) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, s.name+"-scale")
	defer os.RemoveAll(dir)
	if s.name == Kafka {
		s.chroot = "/kbench-scale"
	}
	srv, err := s.boot(ctx, newRecorder(), dir, "l", "p", "kbench-startup", 1)
	if err != nil {
		return err
	}
	defer srv.stop(2 * time.Minute)
	var scaleErr error
	if n := int32(cfg.ScalePartitions); n > 0 {
		scaleErr = s.scalePartitions(ctx, rec, srv, n)
	}
	if cfg.IdleConns > 0 {
		if err := s.idleConns(ctx, rec, srv, cfg.IdleConns); err != nil {
			return errors.Join(scaleErr, err)
		}
	}
	return scaleErr
}

// scalePartitions creates a topic of n partitions and measures memory and latencies.
func (s *system) scalePartitions(ctx context.Context, rec *recorder, srv *server, n int32) error {
	start := time.Now()
	if err := createTopic(ctx, srv.addr, "kbench-scale", n); err != nil {
		return fmt.Errorf("%d partitions: %w", n, err)
	}
	rec.add(s.name, "scale_create", time.Since(start).Seconds())
	d, err := produceToAll(ctx, srv.addr, "kbench-scale", n)
	if err != nil {
		return err
	}
	rec.add(s.name, "scale_produce_all", d.Seconds())
	md, err := metadataLatency(ctx, srv.addr, 11)
	if err != nil {
		return err
	}
	rec.add(s.name, "scale_metadata", float64(md)/float64(time.Millisecond))
	time.Sleep(time.Second)
	rss, _, err := procStatus(srv.pid())
	if err != nil {
		return err
	}
	rec.add(s.name, "scale_rss", mib(rss))
	return nil
}

// idleConns opens n idle connections and measures the memory they take.
func (s *system) idleConns(ctx context.Context, rec *recorder, srv *server, n int) error {
	before, _, err := procStatus(srv.pid())
	if err != nil {
		return err
	}
	closeAll, err := openIdleConns(ctx, srv.addr, n)
	if err != nil {
		return err
	}
	defer closeAll()
	time.Sleep(time.Second)
	after, _, err := procStatus(srv.pid())
	if err != nil {
		return err
	}
	rec.add(s.name, "conns_rss", mib(after))
	rec.add(s.name, "conns_rss_delta", mib(after-before))
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
