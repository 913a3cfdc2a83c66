package coordinator

import (
	"bytes"
	"fmt"
	"sort"
	"testing"

	"github.com/rs/zerolog"

	"kbroker/protocol"
)

// logOf turns the appends a harness saw into the partition log they would make: one batch
// per append, offsets assigned in order.
func logOf(t *testing.T, h *harness) []byte {
	t.Helper()
	var out []byte
	next := int64(0)
	for _, a := range h.records {
		b := BuildBatch(a.Records, h.now)
		if _, err := protocol.ValidateProduceBatch(b, protocol.ValidateOptions{MaxBatchBytes: 1 << 20}); err != nil {
			t.Fatalf("coordinator batch does not validate: %v", err)
		}
		protocol.SetBaseOffset(b, next)
		next += int64(len(a.Records))
		out = append(out, b...)
	}
	return out
}

// dump renders every group of a machine, for comparison.
func dump(m *Machine) string {
	ids := make([]string, 0, len(m.groups))
	for id := range m.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var buf bytes.Buffer
	for _, id := range ids {
		g := m.groups[id]
		fmt.Fprintf(&buf, "%s %s gen=%d type=%q proto=%q leader=%q\n", id, g.state, g.generation, g.protocolType, g.protocol, g.leader)
		for _, mid := range g.order {
			mem := g.members[mid]
			fmt.Fprintf(&buf, "  member %s inst=%q client=%s host=%s rt=%d st=%d meta=%q assign=%q\n", mid, mem.instanceID, mem.clientID, mem.clientHost,
				mem.rebalanceTimeoutMs, mem.sessionTimeoutMs, mem.metadataFor(g.protocol), mem.assignment)
		}
		tps := make([]topicPartition, 0, len(g.offsets))
		for tp := range g.offsets {
			tps = append(tps, tp)
		}
		sort.Slice(tps, func(i, j int) bool {
			return tps[i].topic < tps[j].topic || tps[i].topic == tps[j].topic && tps[i].partition < tps[j].partition
		})
		for _, tp := range tps {
			e := g.offsets[tp]
			e.order = 0 // where the commit stands in the log: a counter in memory, the offset once loaded
			fmt.Fprintf(&buf, "  offset %s-%d %+v\n", tp.topic, tp.partition, e)
		}
	}
	return buf.String()
}

func reload(t *testing.T, data []byte) *Machine {
	t.Helper()
	ev, err := LoadPartition(0, [][]byte{data})
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	m := NewMachine(testConfig(), zerolog.Nop())
	m.Step(0, PartitionLoading{Partition: 0})
	m.Step(0, ev)
	return m
}

func TestPersistenceRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		ops  []op
		want string // "" means: the same groups as before the reload
	}{
		{name: "stable group with offsets", ops: script(stable3(), []op{
			commit(7, "a-1", 1, off("t", 0, 10), CommitOffset{Topic: "t", Partition: 1, Offset: 11, LeaderEpoch: 4, Metadata: "m", CommitTs: 5, ExpireTs: -1}),
			commit(8, "b-1", 1, off("t", 0, 12)), // a later commit of the same partition wins
			simpleCommit(9, "simple", CommitOffset{Topic: "u", Partition: 3, Offset: 1, LeaderEpoch: -1, CommitTs: 6, ExpireTs: 99}),
		})},
		{name: "static members", ops: []op{
			join(1, "a", static("i1")), join(2, "b", static("i2")), advance(6000),
			syncReq(3, "i2-1", 1, nil), syncReq(4, "i1-1", 1, map[string]string{"i1-1": "A", "i2-1": "B"}),
			join(5, "b", static("i2")), // replacement persists the new member id
		}},
		{name: "empty group after members left", ops: []op{
			join(1, "a"), advance(3000), syncReq(2, "a-1", 1, nil), commit(3, "a-1", 1, off("t", 0, 3)), leave(4, "a-1"),
		}},
		{name: "deleted group leaves nothing", want: "keep Empty gen=0 type=\"\" proto=\"\" leader=\"\"\n  offset t-0 {offset:1 leaderEpoch:-1 metadata: commitTs:0 expireTs:-1 order:0}\n", ops: []op{
			simpleCommit(1, "gone", off("t", 0, 1), off("t", 1, 2)),
			simpleCommit(2, "keep", off("t", 0, 1)),
			func(t *testing.T, h *harness) { h.step(&DeleteGroups{Req: 3, Groups: []string{"gone"}}) },
		}},
		{name: "offset delete tombstones", ops: []op{
			simpleCommit(1, "g", off("t", 0, 1), off("t", 1, 2)),
			func(t *testing.T, h *harness) {
				h.step(&DeleteOffsets{Req: 2, Group: "g", Partitions: []TopicPartitions{{Topic: "t", Partitions: []int32{1}}}})
			},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			for _, o := range c.ops {
				o(t, h)
			}
			before := dump(h.m)
			// Loaded groups with members come back Stable; in-flight state is not persisted.
			after := dump(reload(t, logOf(t, h)))
			want := c.want
			if want == "" {
				want = before
			}
			if after != want {
				t.Fatalf("after reload:\n%s\nwant:\n%s", after, want)
			}
		})
	}
}

func TestLoadRejectsUnknownKeyVersion(t *testing.T) {
	b := BuildBatch([]Record{{Key: []byte{0, 9, 0, 0}, Value: []byte{1}}}, 0)
	if _, err := LoadPartition(0, [][]byte{b}); err == nil {
		t.Fatal("a record with key version 9 loaded without error")
	}
}
