package broker

import (
	"errors"
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
