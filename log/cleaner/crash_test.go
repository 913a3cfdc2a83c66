package cleaner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kbroker/log"
)

// fillKeys appends n single-record batches over 10 keys.
func fillKeys(t testing.TB, l *log.Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("k"+string(rune('0'+i%10)), val(i))}, pid: -1}))
	}
}

// checkRecovered checks a log reopened after a crash against the records before cleaning:
// every record left is one of them at its offset, offsets increase, every key keeps its
// latest value, nothing after the cleaned range is missing, and no temporary file is left.
// It reports whether the cleaning took effect.
func checkRecovered(t *testing.T, dir string, before []readRec, cleanedUpTo int64) bool {
	t.Helper()
	c := &clock{now: time.Now()}
	l := openLog(t, dir, c, nil)
	defer l.Close()
	after, _ := readAll(t, l)
	byOffset := map[int64]readRec{}
	for _, r := range before {
		byOffset[r.offset] = r
	}
	prev := int64(-1)
	for _, r := range after {
		w, ok := byOffset[r.offset]
		if !ok || w.key != r.key || w.value != r.value {
			t.Fatalf("offset %d holds %s=%s, was %s=%s", r.offset, r.key, r.value, w.key, w.value)
		}
		if r.offset <= prev {
			t.Fatalf("offset %d after %d", r.offset, prev)
		}
		prev = r.offset
	}
	if got, want := latest(after), latest(before); len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	} else {
		for k, w := range want {
			if got[k].value != w.value || got[k].offset != w.offset {
				t.Fatalf("key %s: %+v, want %+v", k, got[k], w)
			}
		}
	}
	for _, r := range before {
		if r.offset >= cleanedUpTo && byOffset[r.offset].value != r.value {
			t.Fatalf("record %d beyond the cleaned range lost", r.offset)
		}
	}
	if n := len(after); n < len(before)-int(cleanedUpTo) {
		t.Fatalf("%d records left", n)
	}
	for _, suf := range []string{".cleaned", ".swap", ".deleted"} {
		if left := files(t, dir, suf); len(left) > 0 {
			t.Fatalf("leftover %s files after reopening: %v", suf, left)
		}
	}
	return len(after) < len(before)
}

// TestCleanCrashAtEveryStep: a clean whose filesystem dies at its n-th modifying operation
// (opening, writing, syncing, truncating, renaming or removing a file; every later
// operation but closing fails as
// if the process had died) leaves a directory that Open recovers to either the log before
// the clean or the log after it, for every n until the clean completes. Both outcomes must
// occur: a crash after the .swap files are durable completes the swap at Open.
func TestCleanCrashAtEveryStep(t *testing.T) {
	var before []readRec
	crashAtEveryStep(t, func(l *log.Log, _ *clock) {
		fillKeys(t, l, 60)
		before, _ = readAll(t, l)
	}, func(dir string, upTo int64) bool { return checkRecovered(t, dir, before, upTo) })
}

// crashAtEveryStep cleans a log built by fill, with a filesystem that dies at the clean's
// n-th modifying operation, for every n until the clean completes, and has check tell,
// from the directory reopened after each crash, whether the clean took effect; it fails
// unless some crashes recover the old log and some the cleaned one.
func crashAtEveryStep(t *testing.T, fill func(*log.Log, *clock), check func(dir string, cleanedUpTo int64) bool) {
	t.Helper()
	outcomes := map[bool]int{}
	for step := 1; ; step++ {
		dir := partDir(t)
		ffs := log.NewFaultFS(nil)
		c := &clock{now: time.Now()}
		l := openLog(t, dir, c, ffs)
		fill(l, c)
		segs := l.Segments()
		upTo := segs[len(segs)-1].BaseOffset
		// The flushes the rolls started in the background are over once this returns, so that
		// only the clean's operations are counted.
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		n, crashed, lastOp, inSnapshot := 0, false, "", false
		lastFile := "" // the last file, not the directory, a modifying operation touched
		ffs.SetHook(func(op log.Op, path string) error {
			mu.Lock()
			defer mu.Unlock()
			switch op {
			case log.OpRead, log.OpStat, log.OpReadDir, log.OpClose:
				if crashed {
					return log.ErrInjected
				}
				return nil
			}
			n++
			if n >= step {
				if !crashed {
					lastOp = fmt.Sprintf("%d %s", op, filepath.Base(path))
					// The producer snapshot's write: its temporary file, then the sync
					// of the directory after its rename.
					inSnapshot = strings.HasSuffix(path, ".snapshot.tmp") ||
						(path == dir && strings.HasSuffix(lastFile, ".snapshot.tmp"))
				}
				crashed = true
				return log.ErrInjected
			}
			if path != dir {
				lastFile = path
			}
			return nil
		})
		_, err := NewCleaner(1<<20, 0.9).Clean(t.Context(), l, defaultConfig(), 0, upTo, c.now)
		mu.Lock()
		died := crashed
		mu.Unlock()
		if !died {
			if err != nil {
				t.Fatalf("clean without a fault: %v", err)
			}
			if !check(dir, upTo) {
				t.Fatal("a completed clean changed nothing")
			}
			t.Logf("a clean takes %d modifying filesystem operations; outcomes of crashes: %d before, %d after", step-1, outcomes[false], outcomes[true])
			break
		}
		// ReplaceSegments writes a producer snapshot once the swap is durable, so that Open
		// finds the new transaction index counts; like the snapshot of a roll, one that
		// cannot be written is only logged: the snapshot is a shortcut, and Open, finding
		// an older one whose counts disagree with the indexes, rebuilds them from the log
		// (check verifies that the log so reopened is right). Any other fault must fail the
		// clean.
		if err == nil && !inSnapshot {
			t.Fatalf("step %d: the fault (op %s) was swallowed", step, lastOp)
		}
		outcomes[check(dir, upTo)]++
		if step > 10000 {
			t.Fatal("the clean never completes")
		}
	}
	if outcomes[false] == 0 || outcomes[true] == 0 {
		t.Fatalf("crash outcomes %v: want some recovered to the old log and some to the cleaned one", outcomes)
	}
}

// TestRecoverLeftovers: the three states a crash can leave, built by hand from a finished
// clean: .cleaned files (removed; the old segments stay), a complete set of .swap files with
// the old segments still there (the swap completes), and .swap files at or above a .cleaned
// file's offset (removed with it).
func TestRecoverLeftovers(t *testing.T) {
	// Build a cleaned segment's files in a scratch log, then copy them next to the old ones.
	c := &clock{now: time.Now()}
	src := partDir(t)
	l := openLog(t, src, c, nil)
	fillKeys(t, l, 120)
	before, _ := readAll(t, l)
	segs := l.Segments()
	cfg := defaultConfig()
	cfg.SegmentBytes = 1 << 20 // one cleaned segment for the whole sealed part
	fullClean(t, l, cfg, 0, c.now)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	copyState := func(t *testing.T, extra map[string]string) string {
		t.Helper()
		dst := partDir(t)
		o := openLog(t, dst, c, nil)
		fillKeys(t, o, 120)
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		for from, to := range extra {
			b, err := os.ReadFile(filepath.Join(src, from))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, to), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dst
	}
	base := "00000000000000000000"
	cleanedFiles := func(suffix string) map[string]string {
		return map[string]string{base + ".log": base + ".log" + suffix, base + ".index": base + ".index" + suffix, base + ".timeindex": base + ".timeindex" + suffix}
	}
	upTo := segs[len(segs)-1].BaseOffset

	t.Run("cleaned files are removed", func(t *testing.T) {
		dst := copyState(t, cleanedFiles(".cleaned"))
		if checkRecovered(t, dst, before, upTo) {
			t.Fatal("the cleaned segment was used")
		}
	})
	t.Run("a complete swap is finished", func(t *testing.T) {
		dst := copyState(t, cleanedFiles(".swap"))
		if !checkRecovered(t, dst, before, upTo) {
			t.Fatal("the swap was not completed")
		}
	})
	t.Run("swap files at or above a cleaned file are removed", func(t *testing.T) {
		m := cleanedFiles(".swap")
		m[base+".index"] = base + ".index.cleaned"
		dst := copyState(t, m)
		if checkRecovered(t, dst, before, upTo) {
			t.Fatal("a half-renamed swap was used")
		}
	})
}
