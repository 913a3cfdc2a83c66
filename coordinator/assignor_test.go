package coordinator

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

func tid(b byte) [16]byte { return [16]byte{15: b} }

// specOf builds a group spec: subs maps member -> subscribed topic ids; current maps member
// -> current target assignment.
func specOf(partitions map[[16]byte]int32, subs map[string][][16]byte, current map[string]assignment) *groupSpec {
	spec := &groupSpec{partitions: partitions, homogeneous: true}
	var first string
	for id, topics := range subs {
		m := &memberSpec{id: id, topics: map[[16]byte]bool{}, current: current[id]}
		if m.current == nil {
			m.current = assignment{}
		}
		for _, t := range topics {
			m.topics[t] = true
		}
		spec.members = append(spec.members, m)
		key := fmt.Sprint(sortedTopicIDs(m.topics))
		if first == "" {
			first = key
		} else if key != first {
			spec.homogeneous = false
		}
	}
	sort.Slice(spec.members, func(i, j int) bool { return spec.members[i].id < spec.members[j].id })
	return spec
}

// render prints an assignment as "m1: t1[0 1] t2[3]; m2: ...".
func render(out map[string]assignment) string {
	ids := make([]string, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		var ts []string
		for _, t := range out[id].topicIDs() {
			ts = append(ts, fmt.Sprintf("t%d%v", t[15], out[id][t]))
		}
		parts = append(parts, id+":"+strings.Join(ts, " "))
	}
	return strings.Join(parts, "; ")
}

// checkValid: every partition of the subscribed topics is assigned exactly once, to a subscriber.
func checkValid(t *testing.T, spec *groupSpec, out map[string]assignment) {
	t.Helper()
	seen := map[idPartition]string{}
	subscribed := map[[16]byte]bool{}
	for _, m := range spec.members {
		for id := range m.topics {
			subscribed[id] = true
		}
		for id, ps := range out[m.id] {
			if !m.topics[id] {
				t.Fatalf("%s got topic t%d it does not subscribe to: %s", m.id, id[15], render(out))
			}
			for _, p := range ps {
				if prev, dup := seen[idPartition{id, p}]; dup {
					t.Fatalf("t%d-%d assigned to %s and %s", id[15], p, prev, m.id)
				}
				seen[idPartition{id, p}] = m.id
			}
		}
	}
	for id := range subscribed {
		for p := int32(0); p < spec.partitions[id]; p++ {
			if seen[idPartition{id, p}] == "" {
				t.Fatalf("t%d-%d unassigned: %s", id[15], p, render(out))
			}
		}
	}
}

func TestUniformHomogeneous(t *testing.T) {
	t1, t2 := tid(1), tid(2)
	parts := map[[16]byte]int32{t1: 3, t2: 4}
	both := [][16]byte{t1, t2}
	spec := specOf(parts, map[string][][16]byte{"a": both, "b": both, "c": both}, nil)
	out := uniformAssignor{}.assign(spec)
	checkValid(t, spec, out)
	if got, want := render(out), "a:t1[0 1 2]; b:t2[0 1]; c:t2[2 3]"; got != want {
		t.Fatalf("first assignment %s, want %s", got, want)
	}
	// A fourth member joins: the others keep what fits their quota (7/4: 2,2,2,1), the
	// rest moves to the newcomer.
	spec = specOf(parts, map[string][][16]byte{"a": both, "b": both, "c": both, "d": both}, out)
	out2 := uniformAssignor{}.assign(spec)
	checkValid(t, spec, out2)
	if got, want := render(out2), "a:t1[0 1]; b:t2[0 1]; c:t2[2 3]; d:t1[2]"; got != want {
		t.Fatalf("after a join %s, want %s", got, want)
	}
	// A member leaves: its partitions go to those with room; nobody else moves.
	spec = specOf(parts, map[string][][16]byte{"a": both, "c": both, "d": both}, out2)
	out3 := uniformAssignor{}.assign(spec)
	checkValid(t, spec, out3)
	if got, want := render(out3), "a:t1[0 1] t2[0]; c:t2[2 3]; d:t1[2] t2[1]"; got != want {
		t.Fatalf("after a leave %s, want %s", got, want)
	}
	// No subscription at all: empty assignments.
	spec = specOf(parts, map[string][][16]byte{"a": nil, "b": nil}, nil)
	if got := render(uniformAssignor{}.assign(spec)); got != "a:; b:" {
		t.Fatalf("empty subscriptions: %s", got)
	}
}

func TestUniformHeterogeneous(t *testing.T) {
	t1, t2, t3 := tid(1), tid(2), tid(3)
	parts := map[[16]byte]int32{t1: 6, t2: 2, t3: 3}
	subs := map[string][][16]byte{"a": {t1}, "b": {t1, t2}, "c": {t1, t2, t3}}
	spec := specOf(parts, subs, nil)
	if spec.homogeneous {
		t.Fatal("spec should be heterogeneous")
	}
	out := uniformAssignor{}.assign(spec)
	checkValid(t, spec, out)
	for id, a := range out {
		if n := a.count(); n < 3 || n > 4 {
			t.Fatalf("%s has %d partitions, want 3 or 4 of 11: %s", id, n, render(out))
		}
	}
	// Stickiness: assigning again from the result moves nothing.
	again := uniformAssignor{}.assign(specOf(parts, subs, out))
	if render(again) != render(out) {
		t.Fatalf("a second run moved partitions:\n%s\n%s", render(out), render(again))
	}
	// c unsubscribes from t1: its t1 partitions move, its t2/t3 stay.
	subs["c"] = [][16]byte{t2, t3}
	spec = specOf(parts, subs, out)
	out2 := uniformAssignor{}.assign(spec)
	checkValid(t, spec, out2)
	if len(out2["c"][t3]) != 3 || len(out2["c"][t1]) != 0 {
		t.Fatalf("c, the only subscriber of t3, should hold all of it and nothing of t1: %s", render(out2))
	}
}

func TestRangeAssignor(t *testing.T) {
	t1, t2 := tid(1), tid(2)
	parts := map[[16]byte]int32{t1: 7, t2: 2}
	both := [][16]byte{t1, t2}
	spec := specOf(parts, map[string][][16]byte{"b": both, "a": both, "c": both}, nil)
	out := rangeAssignor{}.assign(spec)
	checkValid(t, spec, out)
	if got, want := render(out), "a:t1[0 1 2] t2[0]; b:t1[3 4] t2[1]; c:t1[5 6]"; got != want {
		t.Fatalf("range %s, want %s", got, want)
	}
	// Static members come first, by instance id.
	spec = specOf(parts, map[string][][16]byte{"b": both, "a": both}, nil)
	spec.members[1].instanceID = "i-1" // b
	out = rangeAssignor{}.assign(spec)
	if got, want := render(out), "a:t1[4 5 6] t2[1]; b:t1[0 1 2 3] t2[0]"; got != want {
		t.Fatalf("range with a static member %s, want %s", got, want)
	}
	// Heterogeneous: each topic is split among its own subscribers.
	spec = specOf(parts, map[string][][16]byte{"a": {t1}, "b": both}, nil)
	out = rangeAssignor{}.assign(spec)
	checkValid(t, spec, out)
	if got, want := render(out), "a:t1[0 1 2 3]; b:t1[4 5 6] t2[0 1]"; got != want {
		t.Fatalf("heterogeneous range %s, want %s", got, want)
	}
}
