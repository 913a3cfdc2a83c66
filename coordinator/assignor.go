package coordinator

import (
	"sort"
	"strings"
)

// The server-side assignors of KIP-848 groups (group.consumer.assignors): "uniform" (Kafka's
// UniformAssignor, the default) and "range" (RangeAssignor). An assignor maps the group's
// members, their subscriptions and current target assignment to a new target assignment;
// the reconciliation that moves members to it (revoke first, then assign) is elsewhere.

// memberSpec is one member as an assignor sees it.
type memberSpec struct {
	id         string
	instanceID string
	topics     map[[16]byte]bool // subscribed topic ids that exist
	current    assignment        // the member's current target assignment
}

// groupSpec is the input of an assignor.
type groupSpec struct {
	members     []*memberSpec      // sorted by member id
	homogeneous bool               // every member subscribes to the same topics
	partitions  map[[16]byte]int32 // partition count of every subscribed topic
}

// partitionAssignor computes target assignments.
type partitionAssignor interface {
	name() string
	assign(spec *groupSpec) map[string]assignment
}

// Assignor names; Kafka also accepts the class names in group.consumer.assignors.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// assignorByName resolves a group.consumer.assignors entry (a name or Kafka's class name).
func assignorByName(name string) partitionAssignor {
	switch strings.TrimSpace(name) {
	case AssignorUniform, "org.apache.kafka.coordinator.group.assignor.UniformAssignor":
		return uniformAssignor{}
	case AssignorRange, "org.apache.kafka.coordinator.group.assignor.RangeAssignor":
		return rangeAssignor{}
	}
	return nil
}

// ValidAssignor reports whether name is a known server-side assignor (for the config table).
func ValidAssignor(name string) bool { return assignorByName(name) != nil }

// topicPartition of a topic id.
type idPartition struct {
	id [16]byte
	p  int32
}

// sortedTopicIDs returns the keys of a set of topic ids in byte order.
func sortedTopicIDs(set map[[16]byte]bool) [][16]byte {
	out := make([][16]byte, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i], out[j]) })
	return out
}

// --- uniform ---

// uniformAssignor balances partitions across members while moving as few as possible.
type uniformAssignor struct{}

func (uniformAssignor) name() string { return AssignorUniform }

func (u uniformAssignor) assign(spec *groupSpec) map[string]assignment {
	if len(spec.members) == 0 {
		return map[string]assignment{}
	}
	if spec.homogeneous {
		return uniformHomogeneous(spec)
	}
	return uniformHeterogeneous(spec)
}

// uniformHomogeneous is Kafka's UniformHomogeneousAssignmentBuilder: every member gets
// total/members partitions (the first total%members one more); members keep what they
// have up to their quota; the rest goes to members with room.
func uniformHomogeneous(spec *groupSpec) map[string]assignment {
	out := make(map[string]assignment, len(spec.members))
	subscribed := spec.members[0].topics
	if len(subscribed) == 0 {
		for _, m := range spec.members {
			out[m.id] = assignment{}
		}
		return out
	}
	assigned := map[idPartition]bool{}
	for _, m := range spec.members {
		for id, ps := range m.current {
			for _, p := range ps {
				assigned[idPartition{id, p}] = true
			}
		}
	}
	var unassigned []idPartition
	total := 0
	for _, id := range sortedTopicIDs(subscribed) {
		n, ok := spec.partitions[id]
		if !ok {
			continue
		}
		for p := int32(0); p < n; p++ {
			if !assigned[idPartition{id, p}] {
				unassigned = append(unassigned, idPartition{id, p})
			}
		}
		total += int(n)
	}
	minQuota := total / len(spec.members)
	extra := total % len(spec.members)
	type unfilled struct {
		id    string
		quota int
	}
	var room []unfilled
	for _, m := range spec.members {
		quota := minQuota
		if extra > 0 {
			quota++
			extra--
		}
		a := assignment{}
		for _, id := range m.current.topicIDs() {
			n, exists := spec.partitions[id]
			if !subscribed[id] || !exists {
				continue // a topic no longer subscribed (or gone) is taken away whole
			}
			for _, p := range m.current[id] {
				switch {
				case p >= n:
				case quota > 0:
					quota--
					a[id] = append(a[id], p)
				default:
					unassigned = append(unassigned, idPartition{id, p})
				}
			}
		}
		out[m.id] = a
		if quota > 0 {
			room = append(room, unfilled{m.id, quota})
		}
	}
	i := 0
	for _, r := range room {
		for q := 0; q < r.quota && i < len(unassigned); q++ {
			out[r.id].add(unassigned[i].id, unassigned[i].p)
			i++
		}
	}
	return out
}

// uniformHeterogeneous assigns when members subscribe to different topics: members keep
// the partitions of topics they still subscribe to, unassigned partitions go to the least
// loaded subscriber (topics with the fewest subscribers first), then partitions move from
// the most to the least loaded subscriber until no subscriber of a partition has two fewer
// than its owner. It aims at Kafka's UniformHeterogeneousAssignmentBuilder's outcome
// (balanced, sticky) with a simpler procedure.
func uniformHeterogeneous(spec *groupSpec) map[string]assignment {
	out := make(map[string]assignment, len(spec.members))
	load := map[string]int{}
	owner := map[idPartition]string{}
	for _, m := range spec.members {
		a := assignment{}
		for id, ps := range m.current {
			n, exists := spec.partitions[id]
			if !m.topics[id] || !exists {
				continue
			}
			for _, p := range ps {
				key := idPartition{id, p}
				if p >= n || owner[key] != "" {
					continue
				}
				owner[key] = m.id
				a[id] = append(a[id], p)
			}
		}
		out[m.id] = a
		load[m.id] = a.count()
	}
	subscribers := map[[16]byte][]*memberSpec{}
	for _, m := range spec.members {
		for id := range m.topics {
			if _, ok := spec.partitions[id]; ok {
				subscribers[id] = append(subscribers[id], m)
			}
		}
	}
	topics := make([][16]byte, 0, len(subscribers))
	for id := range subscribers {
		topics = append(topics, id)
	}
	sort.Slice(topics, func(i, j int) bool {
		a, b := len(subscribers[topics[i]]), len(subscribers[topics[j]])
		return a < b || a == b && lessID(topics[i], topics[j])
	})
	leastLoaded := func(ms []*memberSpec) *memberSpec {
		var best *memberSpec
		for _, m := range ms {
			if best == nil || load[m.id] < load[best.id] {
				best = m
			}
		}
		return best
	}
	for _, id := range topics {
		for p := int32(0); p < spec.partitions[id]; p++ {
			key := idPartition{id, p}
			if owner[key] != "" {
				continue
			}
			m := leastLoaded(subscribers[id])
			owner[key] = m.id
			out[m.id].add(id, p)
			load[m.id]++
		}
	}
	// Balance: move a partition to a subscriber holding at least two fewer, until none can.
	for moved := true; moved; {
		moved = false
		for _, id := range topics {
			subs := subscribers[id]
			for p := int32(0); p < spec.partitions[id]; p++ {
				key := idPartition{id, p}
				from := owner[key]
				to := leastLoaded(subs)
				if to == nil || load[from]-load[to.id] < 2 {
					continue
				}
				out[from].remove(id, p)
				out[to.id].add(id, p)
				owner[key] = to.id
				load[from]--
				load[to.id]++
				moved = true
			}
		}
	}
	return out
}

// --- range ---

// rangeAssignor is Kafka's RangeAssignor: per topic, contiguous ranges of partitions to the
// subscribers in order (static members by instance id first, then by member id).
type rangeAssignor struct{}

func (rangeAssignor) name() string { return AssignorRange }

func (rangeAssignor) assign(spec *groupSpec) map[string]assignment {
	out := make(map[string]assignment, len(spec.members))
	if len(spec.members) == 0 {
		return out
	}
	members := append([]*memberSpec(nil), spec.members...)
	sort.SliceStable(members, func(i, j int) bool {
		a, b := members[i], members[j]
		switch {
		case a.instanceID != "" && b.instanceID != "":
			return a.instanceID < b.instanceID
		case a.instanceID != "":
			return true
		case b.instanceID != "":
			return false
		}
		return a.id < b.id
	})
	type topicState struct {
		partitions, members, minQuota, extra, next int32
	}
	topics := map[[16]byte]*topicState{}
	for _, m := range members {
		for id := range m.topics {
			n, ok := spec.partitions[id]
			if !ok {
				continue
			}
			t := topics[id]
			if t == nil {
				t = &topicState{partitions: n, minQuota: -1}
				topics[id] = t
			}
			t.members++
		}
	}
	for _, m := range members {
		a := assignment{}
		for _, id := range sortedTopicIDs(m.topics) {
			t := topics[id]
			if t == nil {
				continue
			}
			if t.minQuota < 0 {
				t.minQuota, t.extra = t.partitions/t.members, t.partitions%t.members
			}
			quota := t.minQuota
			if t.extra > 0 {
				quota++
				t.extra--
			}
			end := min(t.next+quota, t.partitions)
			for p := t.next; p < end; p++ {
				a[id] = append(a[id], p)
			}
			t.next = end
		}
		out[m.id] = a
	}
	return out
}
