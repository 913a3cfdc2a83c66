package broker

// The log manager's periodic tasks (Kafka's LogManager): retention every
// log.retention.check.interval.ms, and the log start offsets written to
// log-start-offset-checkpoint every log.flush.start.offset.checkpoint.interval.ms and after
// every pass that moved one.
//
// Retention runs on every hosted partition, leader or follower (a follower applies the same
// rules to its own log, bounded by its high watermark), with the topic's configuration read
// at each pass, so a changed retention.ms or retention.bytes applies at the next pass. As in
// Kafka, a compacted topic's retention (cleanup.policy=compact,delete, and segments below the
// log start offset of compact-only topics) is the log cleaner's job, run after each of its
// cleaning attempts, and is not done at all when log.cleaner.enable is false.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"kbroker/broker/config"
	"kbroker/broker/metrics"
	"kbroker/log"
	"kbroker/log/cleaner"
)

// retentionPolicy is the retention a topic configuration asks for, bounded by hw.
func retentionPolicy(tc *config.TopicConfig, hw int64) log.RetentionPolicy {
	return log.RetentionPolicy{Delete: tc.Delete, RetentionMs: tc.RetentionMs, RetentionBytes: tc.RetentionBytes, HighWatermark: hw}
}

// deleteOldSegments runs one retention pass over p's log and reports whether it deleted
// anything (the log start offset then moved).
func (rm *replicaManager) deleteOldSegments(p *partition) bool {
	deleted, err := p.log.DeleteOldSegments(retentionPolicy(p.cfg.Load(), p.highWatermark()))
	rm.metrics.SegmentsDeleted(len(deleted))
	if err != nil {
		rm.logger.Error().Err(err).Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Msg("retention pass failed")
	}
	return len(deleted) > 0
}

// cleanupLogs is one retention pass over the hosted partitions that are not compacted (all of
// them when the cleaner does not run: compacted ones are then skipped, as Kafka does). The
// log start offsets of the log dirs where something was deleted are checkpointed at once.
func (rm *replicaManager) cleanupLogs() {
	dirs := map[string]bool{}
	for _, p := range rm.snapshot() {
		if p.cfg.Load().Compact {
			continue
		}
		if rm.deleteOldSegments(p) {
			dirs[p.root] = true
		}
	}
	if len(dirs) > 0 {
		if err := rm.writeStartCheckpoints(dirs); err != nil {
			rm.logger.Error().Err(err).Msg("writing log-start-offset-checkpoint")
		}
	}
}

// retentionLoop runs cleanupLogs every log.retention.check.interval.ms.
func (s *Server) retentionLoop() {
	s.every(time.Duration(s.cfg.LogRetentionCheckIntervalMs)*time.Millisecond, s.rm.cleanupLogs)
}

// startOffsetCheckpointLoop writes log-start-offset-checkpoint of every log dir each
// log.flush.start.offset.checkpoint.interval.ms (the log start moves between retention
// passes too: on followers taking their leader's).
func (s *Server) startOffsetCheckpointLoop() {
	s.every(time.Duration(s.cfg.LogFlushStartOffsetCheckpointIntervalMs)*time.Millisecond, func() {
		if err := s.rm.writeStartCheckpoints(nil); err != nil {
			s.logger.Error().Err(err).Msg("writing log-start-offset-checkpoint")
		}
	})
}

// every calls fn each interval until the server stops; a non-positive interval runs nothing.
func (s *Server) every(interval time.Duration, fn func()) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// The log cleaner (package log/cleaner) compacts every hosted log whose cleanup.policy
// contains compact, leader or follower, each replica on its own. Partitions are registered
// with it when they are opened and removed when they are deleted; it reads their topic
// configuration at each pass, so cleanup.policy and the cleaner's topic keys apply live.

// newCleaner builds the log cleaner from log.cleaner.* (nil when log.cleaner.enable is false
// or log.cleaner.threads is 0).
func newCleaner(cfg *config.Config, logger zerolog.Logger, m *metrics.Metrics) (*cleaner.Manager, error) {
	if !cfg.LogCleanerEnable || cfg.LogCleanerThreads <= 0 {
		return nil, nil
	}
	return cleaner.NewManager(cleaner.Options{
		Threads:          cfg.LogCleanerThreads,
		DedupeBufferSize: cfg.LogCleanerDedupeBufferSize,
		LoadFactor:       0.9, // log.cleaner.io.buffer.load.factor, Kafka's default
		Backoff:          time.Duration(cfg.LogCleanerBackoffMs) * time.Millisecond,
		MaxBytesPerSec:   cfg.LogCleanerIOMaxBytesPerSecond,
		Dirs:             cfg.LogDirs,
		Logger:           logger.With().Str("component", "log-cleaner").Logger(),
		OnCleaned: func(st cleaner.Stats) {
			m.LogCleaned(st.BytesRead, st.BytesWritten, st.Duration.Seconds())
		},
	})
}

// startCleaner starts the cleaner threads, and restarts them with the new settings when a
// dynamic update changes log.cleaner.threads, log.cleaner.dedupe.buffer.size,
// log.cleaner.backoff.ms or log.cleaner.io.max.bytes.per.second (Kafka's
// LogCleaner.reconfigure stops its threads and starts new ones).
func (s *Server) startCleaner() {
	if s.rm.cleaner == nil {
		return
	}
	s.dynMu.Lock()
	defer s.dynMu.Unlock()
	c := s.config()
	s.cleanerSettings = cleanerSettings{c.LogCleanerThreads, c.LogCleanerDedupeBufferSize, c.LogCleanerBackoffMs, c.LogCleanerIOMaxBytesPerSecond}
	s.runCleanerThreads()
	s.dynHooks = append(s.dynHooks, s.reconfigureCleaner)
}

// runCleanerThreads starts the manager's threads under a context of their own.
func (s *Server) runCleanerThreads() {
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	for i := 0; i < s.rm.cleaner.Threads(); i++ {
		wg.Add(1)
		s.goroutine(func() {
			defer wg.Done()
			s.rm.cleaner.Run(ctx)
		})
	}
	s.cleanerStop = func() {
		cancel()
		wg.Wait()
	}
}

// reconfigureCleaner applies the dynamic cleaner keys of c (under s.dynMu).
func (s *Server) reconfigureCleaner(c *config.Config) {
	cur := s.cleanerSettings
	next := cleanerSettings{c.LogCleanerThreads, c.LogCleanerDedupeBufferSize, c.LogCleanerBackoffMs, c.LogCleanerIOMaxBytesPerSecond}
	s.cleanerSettings = next
	if cur == next || s.cleanerStop == nil {
		return
	}
	s.cleanerStop() // a pass under way ends at its next check of the context
	s.rm.cleaner.Reconfigure(next.threads, next.dedupe, time.Duration(next.backoffMs)*time.Millisecond, next.maxBytesPerSec)
	s.runCleanerThreads()
	s.logger.Info().Int("threads", s.rm.cleaner.Threads()).Int64("dedupe_buffer_size", next.dedupe).Int64("backoff_ms", next.backoffMs).
		Float64("io_max_bytes_per_second", next.maxBytesPerSec).Msg("log cleaner restarted with new settings")
}

// cleanerSettings are the dynamic log.cleaner.* keys the cleaner threads run with.
type cleanerSettings struct {
	threads        int
	dedupe         int64
	backoffMs      int64
	maxBytesPerSec float64
}

// validateCleanerReconfiguration refuses a thread count Kafka refuses: below 1, below half or
// above double the current one.
func (s *Server) validateCleanerReconfiguration(c *config.Config) error {
	if s.rm == nil || s.rm.cleaner == nil || c.LogCleanerThreads == s.config().LogCleanerThreads {
		return nil
	}
	cur := s.rm.cleaner.Threads()
	switch n := c.LogCleanerThreads; {
	case n < 1:
		return errors.New("Log cleaner threads should be at least 1")
	case n < cur/2:
		return fmt.Errorf("Log cleaner threads cannot be reduced to less than half the current value %d", cur)
	case n > cur*2:
		return fmt.Errorf("Log cleaner threads cannot be increased to more than double the current value %d", cur)
	}
	return nil
}

// cleanerConfig is the cleaner's view of a topic configuration.
func cleanerConfig(tc *config.TopicConfig) cleaner.Config {
	return cleaner.Config{
		Compact:            tc.Compact,
		Delete:             tc.Delete,
		DeleteRetentionMs:  tc.DeleteRetentionMs,
		MinCompactionLagMs: tc.MinCompactionLagMs,
		MaxCompactionLagMs: tc.MaxCompactionLagMs,
		MinCleanableRatio:  tc.MinCleanableDirtyRatio,
		SegmentBytes:       tc.SegmentBytes,
		MaxIndexBytes:      int64(tc.SegmentIndexBytes),
	}
}

// registerCleaning hands a newly hosted partition to the cleaner.
func (rm *replicaManager) registerCleaning(p *partition) {
	if rm.cleaner == nil {
		return
	}
	rm.cleaner.Add(&cleaner.Partition{
		TP:                p.tp,
		Dir:               p.root,
		Log:               p.log,
		Config:            func() cleaner.Config { return cleanerConfig(p.cfg.Load()) },
		UncleanableOffset: p.lastStableOffset,
		Retention: func() {
			if rm.deleteOldSegments(p) {
				if err := rm.writeStartCheckpoints(map[string]bool{p.root: true}); err != nil {
					rm.logger.Error().Err(err).Msg("writing log-start-offset-checkpoint")
				}
			}
		},
	})
}

// unclean takes a partition away from the cleaner.
func (rm *replicaManager) unclean(tp log.TopicPartition) {
	if rm.cleaner != nil {
		rm.cleaner.Remove(tp)
	}
}
