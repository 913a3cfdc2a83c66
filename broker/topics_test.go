package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicName(t *testing.T) {
	for _, ok := range []string{"a", "orders", "a.b_c-d", strings.Repeat("x", 249), "__consumer_offsets"} {
		if err := validateTopicName(ok); err != nil {
			t.Errorf("%q: unexpected %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "é", strings.Repeat("x", 250)} {
		if err := validateTopicName(bad); !errors.Is(err, kerr.InvalidTopicException) {
			t.Errorf("%q: got %v, want INVALID_TOPIC_EXCEPTION", bad, err)
		}
	}
}

func TestAssignReplicasSpreadsLeaders(t *testing.T) {
	a := assignReplicas(0, 6, 2, []int32{1, 2, 3})
	leaders := map[int32]int{}
	for p := int32(0); p < 6; p++ {
		r := a[p]
		if len(r) != 2 || r[0] == r[1] {
			t.Fatalf("partition %d: bad replicas %v", p, r)
		}
		leaders[r[0]]++
	}
	for b, n := range leaders {
		if n != 2 {
			t.Errorf("broker %d leads %d partitions, want 2", b, n)
		}
	}
	if err := validateAssignment(a, 0, []int32{1, 2, 3}); err != nil {
		t.Fatalf("own assignment rejected: %v", err)
	}
}

func TestValidateAssignmentErrors(t *testing.T) {
	live := []int32{0}
	cases := map[string]map[int32][]int32{
		"gap":       {0: {0}, 2: {0}},
		"empty":     {0: {}},
		"duplicate": {0: {0, 0}},
		"unknown":   {0: {7}},
	}
	for name, a := range cases {
		if err := validateAssignment(a, 0, live); !errors.Is(err, kerr.InvalidReplicaAssignment) {
			t.Errorf("%s: got %v, want INVALID_REPLICA_ASSIGNMENT", name, err)
		}
	}
}

func TestRackAlternatedAssignment(t *testing.T) {
	rack := func(r string) *string { return &r }
	brokers := []brokerMeta{{id: 1, rack: rack("a")}, {id: 2, rack: rack("a")}, {id: 3, rack: rack("b")}, {id: 4, rack: rack("b")}, {id: 5, rack: rack("c")}, {id: 6, rack: rack("c")}}
	order := rackAlternated(brokers)
	if fmt.Sprint(order) != "[1 3 5 2 4 6]" {
		t.Fatalf("order %v, want [1 3 5 2 4 6]", order)
	}
	rackOf := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	for p, replicas := range assignReplicas(0, 12, 3, order) {
		seen := map[string]bool{}
		for _, r := range replicas {
			if seen[rackOf[r]] {
				t.Fatalf("partition %d: replicas %v share rack %s", p, replicas, rackOf[r])
			}
			seen[rackOf[r]] = true
		}
	}
	// A broker without a rack: plain id order, as Kafka requires racks on all or none.
	brokers[2].rack = nil
	if got := fmt.Sprint(rackAlternated(brokers)); got != "[1 2 3 4 5 6]" {
		t.Fatalf("without racks everywhere: %v", got)
	}
}
