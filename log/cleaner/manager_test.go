package cleaner

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"kbroker/log"
)

// managed is a log registered with a manager, with a configuration the test changes.
type managed struct {
	p          *Partition
	cfg        Config
	retentions int
}

func newManaged(t *testing.T, m *Manager, root string, name string, c *clock) *managed {
	t.Helper()
	tp := log.TopicPartition{Topic: name, Partition: 0}
	l := openLog(t, filepath.Join(root, log.DirName(tp)), c, nil)
	t.Cleanup(func() { l.Close() })
	mp := &managed{cfg: defaultConfig()}
	mp.p = &Partition{TP: tp, Dir: root, Log: l,
		Config:            func() Config { return mp.cfg },
		UncleanableOffset: l.LogEndOffset,
		Retention:         func() { mp.retentions++ },
	}
	m.Add(mp.p)
	return mp
}

func newTestManager(t *testing.T, root string, c *clock) *Manager {
	t.Helper()
	m, err := NewManager(Options{Threads: 1, DedupeBufferSize: 1 << 20, LoadFactor: 0.9, Dirs: []string{root}, Logger: zerolog.Nop(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManagerChoosesAndCheckpoints: the dirtiest compacted log above its ratio is cleaned,
// its new first dirty offset is checkpointed in cleaner-offset-checkpoint (and read back by a
// new manager), logs below the ratio or not compacted are not, and every compacted log gets
// its retention pass.
func TestManagerChoosesAndCheckpoints(t *testing.T) {
	root := t.TempDir()
	c := &clock{now: time.Now()}
	m := newTestManager(t, root, c)
	dirty := newManaged(t, m, root, "dirty", c)
	fillKeys(t, dirty.p.Log, 100)
	unique := newManaged(t, m, root, "unique", c)
	for i := 0; i < 100; i++ {
		appendT(t, unique.p.Log, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("u%d", i), "v")}, pid: -1}))
	}
	deleteOnly := newManaged(t, m, root, "delete-only", c)
	deleteOnly.cfg.Compact = false
	fillKeys(t, deleteOnly.p.Log, 100)

	// Both compacted logs are wholly dirty (ratio 1): one pass cleans each, in either order;
	// then nothing is left to clean.
	cl := NewCleaner(1<<20, 0.9)
	for i := 0; i < 2; i++ {
		if !m.CleanOnce(t.Context(), cl) {
			t.Fatalf("pass %d cleaned nothing", i+1)
		}
	}
	if m.CleanOnce(t.Context(), cl) {
		t.Fatal("a clean log cleaned again")
	}
	off, ok := m.FirstDirtyOffset(dirty.p.TP)
	segs := dirty.p.Log.Segments()
	if !ok || off != segs[len(segs)-1].BaseOffset {
		t.Fatalf("first dirty offset %d (%v), want the active segment's base %d", off, ok, segs[len(segs)-1].BaseOffset)
	}
	if dirty.retentions != 3 || unique.retentions != 3 || deleteOnly.retentions != 0 {
		t.Fatalf("retention passes: %d %d %d, want 3 3 0", dirty.retentions, unique.retentions, deleteOnly.retentions)
	}
	if recs, _ := readAll(t, deleteOnly.p.Log); len(recs) != 100 {
		t.Fatalf("a log without compact was cleaned: %d records", len(recs))
	}
	// A new manager reads the checkpoint; an offset beyond the log end resets to the start.
	m2 := newTestManager(t, root, c)
	m2.Add(dirty.p)
	if got, ok := m2.FirstDirtyOffset(dirty.p.TP); !ok || got != off {
		t.Fatalf("checkpoint read back: %d %v, want %d", got, ok, off)
	}
	if err := log.WriteCheckpoint(nil, filepath.Join(root, CheckpointFile), map[log.TopicPartition]int64{dirty.p.TP: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	m3 := newTestManager(t, root, c)
	m3.Add(dirty.p)
	m3.CleanOnce(t.Context(), cl)
	if got, _ := m3.FirstDirtyOffset(dirty.p.TP); got > dirty.p.Log.LogEndOffset() {
		t.Fatalf("first dirty offset beyond the log end kept: %d", got)
	}
}

// TestManagerCompactionLags: min.compaction.lag.ms keeps recent segments out of cleaning;
// max.compaction.lag.ms makes a log with old dirty records cleanable below its ratio.
func TestManagerCompactionLags(t *testing.T) {
	root := t.TempDir()
	c := &clock{now: time.Now()}
	m := newTestManager(t, root, c)
	mp := newManaged(t, m, root, "lagged", c)
	mp.cfg.MinCompactionLagMs = 60_000
	fillKeys(t, mp.p.Log, 100) // timestamps: now
	cl := NewCleaner(1<<20, 0.9)
	if m.CleanOnce(t.Context(), cl) {
		t.Fatal("records younger than min.compaction.lag.ms cleaned")
	}
	c.now = c.now.Add(2 * time.Minute)
	if !m.CleanOnce(t.Context(), cl) {
		t.Fatal("records older than min.compaction.lag.ms not cleaned")
	}

	// A log just below its ratio: cleaned only once its oldest dirty record is older than
	// max.compaction.lag.ms.
	c.now = time.Now()
	mp2 := newManaged(t, m, root, "maxlag", c)
	mp2.cfg.MinCleanableRatio = 0.99
	mp2.cfg.MaxCompactionLagMs = 30_000
	fillKeys(t, mp2.p.Log, 100)
	m.CleanOnce(t.Context(), cl) // cleans its first pass (ratio 1: all dirty)
	first, _ := m.FirstDirtyOffset(mp2.p.TP)
	for i := 0; i < 60; i++ {
		appendT(t, mp2.p.Log, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("m%d", i%10), "v")}, ts: c.now.UnixMilli(), pid: -1}))
	}
	if m.CleanOnce(t.Context(), cl) {
		t.Fatal("cleaned below min.cleanable.dirty.ratio before max.compaction.lag.ms")
	}
	c.now = c.now.Add(time.Minute)
	if !m.CleanOnce(t.Context(), cl) {
		t.Fatal("not cleaned after max.compaction.lag.ms")
	}
	if next, _ := m.FirstDirtyOffset(mp2.p.TP); next <= first {
		t.Fatalf("first dirty offset %d, was %d", next, first)
	}
}
