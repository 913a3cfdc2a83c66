package log

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func TestTruncationPoint(t *testing.T) {
	// The follower's cache in every case but the empty one: epoch 1 from 0, 3 from 10, 4 from
	// 25; log end 40, high watermark 12.
	follower := []epochEntry{{1, 0}, {3, 10}, {4, 25}}
	const logEnd, hw = 40, 12
	cases := []struct {
		name         string
		entries      []epochEntry
		leaderEpoch  int32
		leaderEnd    int64
		want         int64
		wantComplete bool
	}{
		{"same epoch, leader's ends earlier", follower, 4, 30, 30, true},
		{"same epoch, follower's ends earlier", follower, 3, 20, 20, true},
		{"same epoch, leader's ends later: the follower's end", follower, 3, 33, 25, true},
		{"same latest epoch, leader ahead: nothing to cut", follower, 4, 55, logEnd, true},
		{"follower has an extra epoch: cut at its start", follower, 3, 40, 25, true},
		{"leader has an extra epoch the follower lacks: end of the follower's largest smaller epoch", follower, 2, 18, 10, false},
		{"leader's epoch newer than all of the follower's: the leader's end", follower, 5, 28, 28, true},
		{"epoch older than the follower's first: that first epoch's start", follower, 0, 5, 0, true},
		{"leader knows no end for the epoch: the high watermark", follower, 3, -1, hw, true},
		{"leader without epochs: its end", follower, -1, 33, 33, true},
		{"empty follower cache: the leader's end", nil, 3, 17, 17, true},
		{"empty follower cache, undefined answer: the high watermark", nil, -1, -1, hw, true},
		{"leader's end beyond the follower's log: nothing to cut", nil, 3, 70, logEnd, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &epochCache{entries: slices.Clone(tc.entries)}
			got, complete := c.truncationPoint(tc.leaderEpoch, tc.leaderEnd, logEnd, hw)
			if got != tc.want || complete != tc.wantComplete {
				t.Fatalf("truncationPoint(%d, %d) = %d %v, want %d %v", tc.leaderEpoch, tc.leaderEnd, got, complete, tc.want, tc.wantComplete)
			}
		})
	}
}

// epochRun is count one-record batches appended under epoch; epoch -2 only assigns the epoch's
// start at the log end (a leader that has not appended yet).
type epochRun struct {
	epoch int32
	count int
}

func buildLog(t *testing.T, dir string, runs ...[]epochRun) *Log {
	t.Helper()
	l := openT(t, dir, testOpts())
	t.Cleanup(func() { _ = l.Close() })
	for _, rs := range runs {
		for _, r := range rs {
			if r.count == 0 {
				must(t, l.AssignEpochStart(r.epoch))
				continue
			}
			for i := 0; i < r.count; i++ {
				appendT(t, l, mkBatch(t, spec{valueSize: 10 + int(r.epoch)}), r.epoch)
			}
		}
	}
	return l
}

// replicate runs a follower against a leader as the replica fetcher does, until the follower
// has everything: with viaOffsetsForEpoch, the follower first asks the leader for the end of its
// latest epoch until its truncation is complete (the first fetch after a leader change);
// otherwise it fetches with its last fetched epoch and truncates on a diverging epoch. It
// returns the offsets it truncated to.
func replicate(t *testing.T, leader, follower *Log, hw int64, viaOffsetsForEpoch bool) []int64 {
	t.Helper()
	var cuts []int64
	truncate := func(off int64) {
		if off < follower.LogEndOffset() {
			cuts = append(cuts, off)
		}
		must(t, follower.TruncateTo(off))
	}
	truncating := viaOffsetsForEpoch
	for i := 0; i < 100; i++ {
		latest, hasEpoch := follower.LatestEpoch()
		if truncating {
			if !hasEpoch {
				truncate(hw)
				truncating = false
				continue
			}
			le, lend := leader.EndOffsetForEpoch(latest)
			off, complete := follower.TruncationPoint(le, lend, hw)
			truncate(off)
			truncating = !complete
			continue
		}
		fetchAt := follower.LogEndOffset()
		if hasEpoch {
			de, dend, diverged, err := leader.DivergingEpoch(latest, fetchAt)
			if err != nil {
				t.Fatalf("leader refused a fetch at %d with last fetched epoch %d: %v", fetchAt, latest, err)
			}
			if diverged {
				off, _ := follower.TruncationPoint(de, dend, hw)
				truncate(off)
				if now, _ := follower.LatestEpoch(); now == latest && follower.LogEndOffset() == fetchAt {
					t.Fatalf("diverging epoch (%d, %d) at fetch offset %d with epoch %d changed nothing", de, dend, fetchAt, latest)
				}
				continue
			}
		}
		if fetchAt == leader.LogEndOffset() {
			return cuts
		}
		r, err := leader.Read(fetchAt, 1<<20, leader.LogEndOffset(), true)
		if err != nil {
			t.Fatalf("leader read at %d: %v", fetchAt, err)
		}
		if _, err := follower.AppendAsFollower(r.Data); err != nil {
			t.Fatalf("follower append at %d: %v", fetchAt, err)
		}
	}
	t.Fatalf("follower did not converge: log end %d, leader's %d", follower.LogEndOffset(), leader.LogEndOffset())
	return nil
}

// sameBatches compares the two logs batch by batch: offsets, leader epochs and CRCs.
func sameBatches(t *testing.T, a, b *Log) {
	t.Helper()
	ha, hb := readAll(t, a), readAll(t, b)
	if len(ha) != len(hb) {
		t.Fatalf("%d batches against %d", len(ha), len(hb))
	}
	for i := range ha {
		x, y := ha[i], hb[i]
		if x.BaseOffset != y.BaseOffset || x.LeaderEpoch != y.LeaderEpoch || x.CRC != y.CRC || x.lastOffset() != y.lastOffset() {
			t.Fatalf("batch %d differs: %+v against %+v", i, x, y)
		}
	}
}

// followerEpochsMatch checks that the follower's epoch entries are the leader's, up to the
// follower's log end.
func followerEpochsMatch(t *testing.T, leader, follower *Log) {
	t.Helper()
	var want []epochEntry
	for _, e := range leader.epochs.entries {
		if e.start < follower.LogEndOffset() {
			want = append(want, e)
		}
	}
	if got := follower.epochs.entries; !equalEpochs(got, want) {
		t.Fatalf("follower epochs %v, leader's %v", got, leader.epochs.entries)
	}
}

func TestFollowerConvergesOnTheLeader(t *testing.T) {
	prefix := []epochRun{{0, 3}, {2, 2}}
	cases := []struct {
		name             string
		leader, follower []epochRun // after the common prefix
		hw               int64
		wantCut          int64 // -1: no truncation
	}{
		{"same epochs, follower behind", []epochRun{{2, 3}}, nil, 5, -1},
		{"follower has an extra epoch (stale leader wrote the retried batch)",
			[]epochRun{{2, 2}, {5, 0}}, []epochRun{{2, 1}, {4, 2}}, 5, 6},
		{"follower's extra epoch has no batches (stale leader never appended)",
			[]epochRun{{2, 2}, {5, 0}, {5, 1}}, []epochRun{{4, 0}}, 5, -1},
		{"leader has an extra epoch", []epochRun{{2, 1}, {3, 2}}, []epochRun{{2, 3}}, 5, 6},
		{"follower lacks the leader's epoch entirely", []epochRun{{3, 2}, {6, 1}}, []epochRun{{4, 2}, {5, 1}}, 5, 5},
		{"leader lacks the follower's epochs", []epochRun{{7, 2}}, []epochRun{{3, 1}, {4, 1}, {5, 1}}, 5, 5},
		{"follower ahead in the same epoch", []epochRun{{2, 1}, {8, 1}}, []epochRun{{2, 4}}, 5, 6},
		{"follower empty", []epochRun{{2, 2}}, nil, 0, -1},
	}
	for _, tc := range cases {
		for _, viaOFLE := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/offsets_for_leader_epoch=%v", tc.name, viaOFLE), func(t *testing.T) {
				root := t.TempDir()
				leader := buildLog(t, filepath.Join(root, "leader", "t-0"), prefix, tc.leader)
				fruns := [][]epochRun{prefix, tc.follower}
				if tc.name == "follower empty" {
					fruns = nil
				}
				fdir := filepath.Join(root, "follower", "t-0")
				follower := buildLog(t, fdir, fruns...)
				cuts := replicate(t, leader, follower, tc.hw, viaOFLE)
				if tc.wantCut >= 0 && (len(cuts) == 0 || cuts[len(cuts)-1] != tc.wantCut) {
					t.Errorf("truncations %v, want the last at %d", cuts, tc.wantCut)
				}
				if tc.wantCut < 0 && len(cuts) > 0 {
					t.Errorf("truncations %v, want none", cuts)
				}
				sameBatches(t, leader, follower)
				followerEpochsMatch(t, leader, follower)

				// The leader writes on in its epoch; the follower follows without cutting.
				latest, _ := leader.LatestEpoch()
				appendT(t, leader, mkBatch(t, spec{valueSize: 99}), latest)
				if cuts := replicate(t, leader, follower, tc.hw, false); len(cuts) > 0 {
					t.Errorf("truncated again to %v after converging", cuts)
				}
				sameBatches(t, leader, follower)

				// The cache survives a restart as it is.
				before := slices.Clone(follower.epochs.entries)
				must(t, follower.Close())
				reopened := openT(t, fdir, testOpts())
				t.Cleanup(func() { _ = reopened.Close() })
				if !equalEpochs(reopened.epochs.entries, before) {
					t.Fatalf("epochs after restart %v, before %v", reopened.epochs.entries, before)
				}
				sameBatches(t, leader, reopened)
			})
		}
	}
}

// TestTruncateDropsEpochAtLogEnd: a broker that became leader (its epoch recorded at the log
// end) and was replaced before its first append drops that epoch when it truncates to its log
// end as a follower, and the cache on disk says so after a restart.
func TestTruncateDropsEpochAtLogEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := buildLog(t, dir, []epochRun{{1, 3}, {2, 0}})
	if e, _ := l.LatestEpoch(); e != 2 {
		t.Fatalf("latest epoch %d after AssignEpochStart(2), want 2", e)
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 3 {
		t.Fatalf("EndOffsetForEpoch(1) = %d %d, want 1 3", e, end)
	}
	must(t, l.TruncateTo(3))
	if e, _ := l.LatestEpoch(); e != 1 {
		t.Fatalf("latest epoch %d after truncating to the log end, want 1", e)
	}
	must(t, l.Close())
	l2 := openT(t, dir, testOpts())
	defer l2.Close()
	if !equalEpochs(l2.epochs.entries, []epochEntry{{1, 0}}) {
		t.Fatalf("epochs after restart %v", l2.epochs.entries)
	}
}

// TestDivergingEpochChecks is the leader's side: out of range when it knows no end for the
// epoch or the fetch is below its log start.
func TestDivergingEpochChecks(t *testing.T) {
	l := buildLog(t, filepath.Join(t.TempDir(), "t-0"), []epochRun{{1, 3}, {3, 2}})
	if _, _, _, err := l.DivergingEpoch(4, 5); err == nil {
		t.Error("epoch newer than the leader's: no error")
	}
	if e, end, div, err := l.DivergingEpoch(2, 4); err != nil || !div || e != 1 || end != 3 {
		t.Errorf("unknown epoch 2 at 4: %d %d %v %v, want 1 3 diverged", e, end, div, err)
	}
	if _, _, div, err := l.DivergingEpoch(3, 5); err != nil || div {
		t.Errorf("latest epoch at the log end: diverged=%v err=%v", div, err)
	}
	must(t, l.DeleteBefore(2))
	if _, _, _, err := l.DivergingEpoch(1, 1); err == nil {
		t.Error("fetch below the log start: no error")
	}
}
