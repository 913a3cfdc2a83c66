package integration

import "testing"

// TestClusterDeliveryCheck pins what checkDelivery accepts and reports, so
// that the cluster tests' verdicts can be trusted: each case breaks one rule.
func TestClusterDeliveryCheck(t *testing.T) {
	acked := func(p int32, off int64, v string) ackedRecord {
		return ackedRecord{partition: p, offset: off, value: v}
	}
	read := func(vals ...string) []consumedRecord {
		out := make([]consumedRecord, len(vals))
		for i, v := range vals {
			out[i] = consumedRecord{offset: int64(i), value: v}
		}
		return out
	}
	tests := []struct {
		name     string
		acked    []ackedRecord
		consumed map[int32][]consumedRecord
		lost     int
		problems bool
	}{
		{
			name:     "all acknowledged records read once, plus an unacknowledged one",
			acked:    []ackedRecord{acked(0, 0, "a"), acked(0, 2, "c"), acked(1, 0, "x")},
			consumed: map[int32][]consumedRecord{0: read("a", "b", "c"), 1: read("x")},
		},
		{
			name:     "acknowledged record missing from the end",
			acked:    []ackedRecord{acked(0, 0, "a"), acked(0, 1, "b")},
			consumed: map[int32][]consumedRecord{0: read("a")},
			lost:     1, problems: true,
		},
		{
			name:     "another value at the acknowledged offset",
			acked:    []ackedRecord{acked(0, 1, "b")},
			consumed: map[int32][]consumedRecord{0: read("a", "z")},
			lost:     1, problems: true,
		},
		{
			name:     "acknowledged partition never read",
			acked:    []ackedRecord{acked(2, 0, "q")},
			consumed: map[int32][]consumedRecord{0: read("a")},
			lost:     1, problems: true,
		},
		{
			name:  "value written twice",
			acked: []ackedRecord{acked(0, 0, "a")},
			consumed: map[int32][]consumedRecord{
				0: read("a", "b"),
				1: read("b"),
			},
			problems: true,
		},
		{
			name:  "offsets read out of order",
			acked: []ackedRecord{acked(0, 0, "a")},
			consumed: map[int32][]consumedRecord{0: {
				{offset: 0, value: "a"}, {offset: 2, value: "c"}, {offset: 1, value: "b"},
			}},
			lost: 0, problems: true,
		},
		{
			name:  "an offset read twice",
			acked: []ackedRecord{acked(0, 0, "a")},
			consumed: map[int32][]consumedRecord{0: {
				{offset: 0, value: "a"}, {offset: 0, value: "a"},
			}},
			problems: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := checkDelivery(tc.acked, tc.consumed)
			if rep.lost != tc.lost {
				t.Errorf("lost = %d, want %d (%v)", rep.lost, tc.lost, rep)
			}
			if got := len(rep.problems) > 0; got != tc.problems {
				t.Errorf("problems reported = %v, want %v (%v)", got, tc.problems, rep)
			}
		})
	}
}

// TestClusterZooKeeperLauncher checks the ZooKeeper the cluster tests run:
// the launcher from `make deps` starts a standalone server that answers
// four-letter commands, holds no ephemeral znodes before any broker, and
// serves again after a kill -9 and restart on the same port and data.
func TestClusterZooKeeperLauncher(t *testing.T) {
	zk := startZooKeeper(t)
	for round := 0; round < 2; round++ {
		if out, err := zk.fourLetter("ruok"); err != nil || out != "imok" {
			t.Fatalf("round %d: ruok answered %q (%v), want imok", round, out, err)
		}
		eph, err := zk.ephemerals()
		if err != nil || len(eph) != 0 {
			t.Fatalf("round %d: ephemeral znodes %v (%v), want none", round, eph, err)
		}
		zk.Kill()
		if _, err := zk.fourLetter("ruok"); err == nil {
			t.Fatalf("round %d: ZooKeeper still answers after SIGKILL", round)
		}
		zk.Restart(t)
	}
}
