package cleaner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"kbroker/log"
)

// CheckpointFile is the per-log-dir file holding each compacted partition's first dirty
// offset, in the format of the other offset checkpoints (Kafka's LogCleanerManager).
const CheckpointFile = "cleaner-offset-checkpoint"

// Partition is a log the manager may clean, registered by its owner (the broker).
type Partition struct {
	TP  log.TopicPartition
	Dir string // the log.dirs directory holding the partition: its cleaner-offset-checkpoint
	Log *log.Log
	// Config returns the partition's current cleaning configuration.
	Config func() Config
	// UncleanableOffset bounds cleaning: nothing at or beyond it is cleaned. The last
	// stable offset (Kafka's cleanableOffsets): the high watermark, or the first offset of
	// a transaction still open below it, so that an open transaction's batches, whose
	// outcome is not known, are neither mapped nor rewritten.
	UncleanableOffset func() int64
	// Retention runs a retention pass on the log: the cleaner threads run it for compacted
	// logs after each cleaning attempt, as Kafka's do.
	Retention func()
}

// Options configure the manager.
type Options struct {
	Threads          int           // log.cleaner.threads
	DedupeBufferSize int64         // log.cleaner.dedupe.buffer.size, shared by the threads
	LoadFactor       float64       // log.cleaner.io.buffer.load.factor
	Backoff          time.Duration // log.cleaner.backoff.ms: the sleep when nothing is cleanable
	MaxBytesPerSec   float64       // log.cleaner.io.max.bytes.per.second, for all threads together (0: no limit)
	Dirs             []string      // log.dirs, for their checkpoint files
	Logger           zerolog.Logger
	Now              func() time.Time // nil = time.Now
	OnCleaned        func(Stats)      // called after each pass that cleaned a log (metrics); nil = none
}

// Manager chooses the log to clean (Kafka's LogCleanerManager) and runs the cleaner threads
// (Run). Partitions are registered with Add and Remove; every method is safe for
// concurrent use. Lock order: the manager's mutex before a log's.
type Manager struct {
	opts     Options
	throttle *throttle

	mu          sync.Mutex
	parts       map[log.TopicPartition]*Partition
	busy        map[log.TopicPartition]bool // being cleaned or retained by a thread
	uncleanable map[log.TopicPartition]bool // failed with an unexpected error: skipped until restart
	checkpoints map[string]map[log.TopicPartition]int64

	ckptMu sync.Mutex // serialises checkpoint file writes
}

// NewManager reads the cleaner-offset-checkpoint files of opts.Dirs.
func NewManager(opts Options) (*Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Threads < 1 {
		opts.Threads = 1
	}
	m := &Manager{opts: opts, throttle: newThrottle(opts.MaxBytesPerSec), parts: map[log.TopicPartition]*Partition{}, busy: map[log.TopicPartition]bool{},
		uncleanable: map[log.TopicPartition]bool{}, checkpoints: map[string]map[log.TopicPartition]int64{}}
	for _, dir := range opts.Dirs {
		cp, err := log.ReadCheckpoint(nil, filepath.Join(dir, CheckpointFile))
		if err != nil {
			return nil, fmt.Errorf("log dir %s: %w", dir, err)
		}
		m.checkpoints[dir] = cp
	}
	return m, nil
}

// Threads is the number of cleaner threads the manager is configured for.
func (m *Manager) Threads() int { return m.opts.Threads }

// Reconfigure changes the thread count, dedupe buffer, backoff and I/O rate (the dynamic
// log.cleaner.* keys). Only call it while no thread runs: the caller stops the threads,
// reconfigures, and starts Threads() new ones, as Kafka's LogCleaner.reconfigure does.
func (m *Manager) Reconfigure(threads int, dedupeBufferSize int64, backoff time.Duration, maxBytesPerSec float64) {
	m.opts.Threads = max(threads, 1)
	m.opts.DedupeBufferSize = dedupeBufferSize
	m.opts.Backoff = backoff
	m.opts.MaxBytesPerSec = maxBytesPerSec
	m.throttle = newThrottle(maxBytesPerSec)
}

// Add registers a partition (replacing one of the same name).
func (m *Manager) Add(p *Partition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.parts[p.TP] = p
	delete(m.uncleanable, p.TP)
}

// Remove forgets a partition and its checkpoint entry. A pass under way on it ends with
// the log's own refusal once the log is closed or deleted.
func (m *Manager) Remove(tp log.TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.parts[tp]
	if !ok {
		return
	}
	delete(m.parts, tp)
	delete(m.uncleanable, tp)
	if cp := m.checkpoints[p.Dir]; cp != nil {
		delete(cp, tp)
	}
}

// FirstDirtyOffset is a partition's checkpointed first dirty offset.
func (m *Manager) FirstDirtyOffset(tp log.TopicPartition) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.parts[tp]
	if !ok {
		return 0, false
	}
	off, ok := m.checkpoints[p.Dir][tp]
	return off, ok
}

// Run is one cleaner thread: it cleans the filthiest log, runs retention on the compacted
// logs, and sleeps for the backoff when nothing was cleanable, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	c := NewCleaner(m.opts.DedupeBufferSize/int64(m.opts.Threads), m.opts.LoadFactor)
	c.throttle = m.throttle
	for ctx.Err() == nil {
		if m.CleanOnce(ctx, c) {
			continue
		}
		t := time.NewTimer(m.opts.Backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// CleanOnce cleans the filthiest cleanable log with c, then runs the retention of every
// compacted log no other thread holds, and reports whether a log was cleaned.
func (m *Manager) CleanOnce(ctx context.Context, c *Cleaner) bool {
	now := m.opts.Now()
	cleaned := false
	if tc := m.grab(now); tc != nil {
		cleaned = m.clean(ctx, c, tc, now)
	}
	for _, p := range m.deletable() {
		p.Retention()
		m.done(p.TP)
	}
	return cleaned
}

// toClean is a log chosen for cleaning (Kafka's LogToClean).
type toClean struct {
	p                *Partition
	cfg              Config
	firstDirty       int64
	firstUncleanable int64 // base offset of the first segment not cleaned
	cleanBytes       int64
	cleanableBytes   int64
	ratio            float64
	needNow          bool // max.compaction.lag.ms passed for some dirty record
}

// clean runs one pass on tc and records its outcome; it reports whether the log was
// cleaned (a pass that moved the first dirty offset).
func (m *Manager) clean(ctx context.Context, c *Cleaner, tc *toClean, now time.Time) bool {
	lg := m.opts.Logger.With().Str("topic", tc.p.TP.Topic).Int32("partition", tc.p.TP.Partition).Logger()
	defer m.done(tc.p.TP)
	st, err := c.Clean(ctx, tc.p.Log, tc.cfg, tc.firstDirty, tc.firstUncleanable, now)
	switch {
	case err == nil && st.End > tc.firstDirty:
		m.checkpoint(tc.p, st.End)
		// MB/s as Kafka's cleaner reports it: bytes of log rewritten per second of the pass.
		mb := float64(st.BytesRead) / (1 << 20)
		lg.Info().Int64("dirty_from", st.FirstDirty).Int64("dirty_to", st.End).
			Int("segments_before", st.SegmentsRead).Int("segments_after", st.SegmentsWritten).
			Int64("bytes_before", st.BytesRead).Int64("bytes_after", st.BytesWritten).
			Int64("records_before", st.RecordsRead).Int64("records_after", st.RecordsWritten).
			Int64("records_without_key", st.InvalidRecords).Float64("buffer_utilization", st.BufferUtilization).
			Dur("map_duration", st.MapDuration).Dur("duration", st.Duration).
			Float64("mb_per_sec", mb/max(st.Duration.Seconds(), 1e-9)).Msg("cleaned log")
		if m.opts.OnCleaned != nil {
			m.opts.OnCleaned(st)
		}
		return true
	case err == nil:
		lg.Warn().Int64("dirty_from", tc.firstDirty).Int64("dedupe_buffer_bytes", c.memory).
			Msg("cleaning made no progress: the offset map cannot hold the keys of one batch; raise log.cleaner.dedupe.buffer.size")
	case ctx.Err() != nil, errors.Is(err, log.ErrCleaningAborted), errors.Is(err, log.ErrClosed):
		lg.Debug().Err(err).Msg("cleaning aborted")
	default:
		m.mu.Lock()
		m.uncleanable[tc.p.TP] = true
		m.mu.Unlock()
		lg.Warn().Err(err).Msg("cleaning failed; the partition is not cleaned again until the broker restarts")
	}
	return false
}

// done releases a partition a thread held.
func (m *Manager) done(tp log.TopicPartition) {
	m.mu.Lock()
	delete(m.busy, tp)
	m.mu.Unlock()
}

// deletable returns the compacted partitions no thread holds, now held by the caller.
func (m *Manager) deletable() []*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Partition
	for tp, p := range m.parts {
		if m.busy[tp] || m.uncleanable[tp] || !p.Config().Compact {
			continue
		}
		m.busy[tp] = true
		out = append(out, p)
	}
	return out
}

// grab chooses the compacted log with the largest dirty ratio among those above their
// min.cleanable.dirty.ratio or past their max.compaction.lag.ms (Kafka's
// grabFilthiestCompactedLog), and holds it.
func (m *Manager) grab(now time.Time) *toClean {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *toClean
	for tp, p := range m.parts {
		if m.busy[tp] || m.uncleanable[tp] {
			continue
		}
		cfg := p.Config()
		if !cfg.Compact {
			continue
		}
		tc, err := m.cleanableLocked(p, cfg, now)
		if err != nil {
			if !errors.Is(err, log.ErrClosed) {
				m.opts.Logger.Warn().Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("cannot compute what to clean")
			}
			continue
		}
		if tc.cleanBytes+tc.cleanableBytes == 0 {
			continue
		}
		if !((tc.needNow && tc.cleanableBytes > 0) || tc.ratio > cfg.MinCleanableRatio) {
			continue
		}
		if best == nil || tc.ratio > best.ratio {
			best = tc
		}
	}
	if best != nil {
		m.busy[best.p.TP] = true
	}
	return best
}

// cleanableLocked computes what of p may be cleaned (Kafka's cleanableOffsets,
// maxCompactionDelay and calculateCleanableBytes). Called with m.mu held.
func (m *Manager) cleanableLocked(p *Partition, cfg Config, now time.Time) (*toClean, error) {
	segs := p.Log.Segments()
	logStart, logEnd := p.Log.LogStartOffset(), p.Log.LogEndOffset()
	firstDirty, ok := m.checkpoints[p.Dir][p.TP]
	if !ok || firstDirty < logStart || firstDirty > logEnd {
		if ok && firstDirty > logEnd {
			m.opts.Logger.Warn().Str("topic", p.TP.Topic).Int32("partition", p.TP.Partition).Int64("offset", firstDirty).
				Int64("log_end_offset", logEnd).Msg("checkpointed first dirty offset beyond the log end: cleaning the whole log")
		}
		firstDirty = logStart
		m.setCheckpointLocked(p, firstDirty)
	}
	active := segs[len(segs)-1]
	sealed := segs[:len(segs)-1]
	nowMs := now.UnixMilli()
	uncleanable := min(p.UncleanableOffset(), active.BaseOffset)
	var earliest int64 = math.MaxInt64
	for _, s := range sealed {
		if s.NextOffset <= firstDirty {
			continue
		}
		if cfg.MinCompactionLagMs <= 0 && cfg.MaxCompactionLagMs == math.MaxInt64 {
			break
		}
		largest, first, err := p.Log.SegmentTimestamps(s.BaseOffset)
		if err != nil {
			return nil, err
		}
		if cfg.MinCompactionLagMs > 0 && largest > nowMs-cfg.MinCompactionLagMs && s.BaseOffset < uncleanable {
			uncleanable = s.BaseOffset
		}
		if first > 0 {
			earliest = min(earliest, first)
		}
	}
	uncleanable = max(uncleanable, firstDirty)
	tc := &toClean{p: p, cfg: cfg, firstDirty: firstDirty, firstUncleanable: active.BaseOffset}
	if cfg.MaxCompactionLagMs < math.MaxInt64 {
		tc.needNow = earliest < nowMs-max(cfg.MaxCompactionLagMs, 0)
	}
	for _, s := range sealed {
		if s.BaseOffset <= uncleanable && uncleanable < s.NextOffset {
			tc.firstUncleanable = s.BaseOffset
			break
		}
	}
	from := min(firstDirty, tc.firstUncleanable)
	for _, s := range segs {
		if s.BaseOffset < firstDirty {
			tc.cleanBytes += s.Size
		}
		if s.NextOffset > from && s.BaseOffset < tc.firstUncleanable {
			tc.cleanableBytes += s.Size
		}
	}
	if total := tc.cleanBytes + tc.cleanableBytes; total > 0 {
		tc.ratio = float64(tc.cleanableBytes) / float64(total)
	}
	return tc, nil
}

// checkpoint records p's new first dirty offset and writes its log dir's checkpoint file.
func (m *Manager) checkpoint(p *Partition, offset int64) {
	m.mu.Lock()
	m.setCheckpointLocked(p, offset)
	m.mu.Unlock()
}

// setCheckpointLocked records p's first dirty offset and writes the checkpoint file of its
// log dir (when p is still registered). Called with m.mu held.
func (m *Manager) setCheckpointLocked(p *Partition, offset int64) {
	if m.parts[p.TP] != p {
		return
	}
	cp := m.checkpoints[p.Dir]
	if cp == nil {
		cp = map[log.TopicPartition]int64{}
		m.checkpoints[p.Dir] = cp
	}
	cp[p.TP] = offset
	snapshot := make(map[log.TopicPartition]int64, len(cp))
	for tp, o := range cp {
		snapshot[tp] = o
	}
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	if err := log.WriteCheckpoint(nil, filepath.Join(p.Dir, CheckpointFile), snapshot); err != nil {
		m.opts.Logger.Error().Err(err).Str("dir", p.Dir).Msg("writing cleaner-offset-checkpoint")
	}
}
