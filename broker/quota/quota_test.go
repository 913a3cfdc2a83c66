package quota

import (
	"math"
	"testing"
	"time"
)

func TestRateAndThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRate(11, time.Second)
	// 1000 units in the first moment: measured over at least 10 windows.
	r.Record(1000, t0)
	if got := r.Measure(t0); math.Abs(got-100) > 1 {
		t.Fatalf("rate after one burst %.1f, want 100 (10 windows)", got)
	}
	// A steady 500/s for 20 s settles at 500/s.
	for i := 1; i <= 200; i++ {
		r.Record(50, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	now := t0.Add(20 * time.Second)
	if got := r.Measure(now); got < 450 || got > 560 {
		t.Fatalf("steady rate %.1f, want about 500", got)
	}
	if d := r.Throttle(1000, now); d != 0 {
		t.Fatalf("throttle %v under the bound", d)
	}
	// Bound 250: twice the bound over ~11 s of window -> about 11 s, capped at 11 s.
	if d := r.Throttle(250, now); d < 9*time.Second || d > 11*time.Second {
		t.Fatalf("throttle %v at twice the bound", d)
	}
	// Everything ages out after num windows.
	if got := r.Measure(now.Add(12 * time.Second)); got != 0 {
		t.Fatalf("rate after the windows passed %.1f", got)
	}
}

func TestReplication(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewReplication(2, time.Second)
	q.Record(1<<20, t0)
	if q.Exceeded(t0) || q.Limited() {
		t.Fatal("no limit set, yet exceeded or limited")
	}
	q.SetLimit(1000)
	q.Record(5000, t0)
	if !q.Exceeded(t0.Add(100 * time.Millisecond)) {
		t.Fatal("5000 bytes in a 2 s window against 1000 B/s: not exceeded")
	}
	if q.Exceeded(t0.Add(3 * time.Second)) {
		t.Fatal("still exceeded after the windows passed")
	}
	q.SetLimit(-1)
	if q.Limited() {
		t.Fatal("a negative limit should mean none")
	}
}

func TestThrottledReplicas(t *testing.T) {
	cases := []struct {
		list string
		p, b int32
		want bool
	}{
		{"*", 3, 7, true},
		{"", 0, 0, false},
		{"0:1, 1:2,2:3", 1, 2, true},
		{"0:1,1:2", 1, 1, false},
		{"0:1,x", 0, 1, true},
	}
	for _, c := range cases {
		if got := ThrottledReplicas(c.list, c.p, c.b); got != c.want {
			t.Errorf("ThrottledReplicas(%q, %d, %d) = %v", c.list, c.p, c.b, got)
		}
	}
}

func TestClientQuotaPrecedence(t *testing.T) {
	q := NewClients(2, time.Second)
	q.Set(map[Entity]map[string]float64{
		{HasClient: true, ClientDefault: true}:                                   {ProducerByteRate: 1},
		{HasClient: true, Client: "app"}:                                         {ProducerByteRate: 2},
		{HasUser: true, UserDefault: true}:                                       {ProducerByteRate: 3},
		{HasUser: true, User: "alice"}:                                           {ProducerByteRate: 4, ConsumerByteRate: 40},
		{HasUser: true, User: "alice", HasClient: true, ClientDefault: true}:     {ProducerByteRate: 5},
		{HasUser: true, User: "alice", HasClient: true, Client: "app"}:           {ProducerByteRate: 6},
		{HasUser: true, UserDefault: true, HasClient: true, Client: "other"}:     {ProducerByteRate: 7},
		{HasUser: true, UserDefault: true, HasClient: true, ClientDefault: true}: {RequestPercentage: 8},
	})
	cases := []struct {
		kind, user, client string
		want               float64
		ok                 bool
	}{
		{ProducerByteRate, "alice", "app", 6, true},
		{ProducerByteRate, "alice", "x", 5, true},
		{ConsumerByteRate, "alice", "x", 40, true},
		{ProducerByteRate, "bob", "other", 7, true},
		{ProducerByteRate, "bob", "x", 3, true},
		{RequestPercentage, "bob", "x", 8, true},
		{ControllerMutationRate, "bob", "x", 0, false},
	}
	for _, c := range cases {
		got, ok := q.Quota(c.kind, c.user, c.client)
		if got != c.want || ok != c.ok {
			t.Errorf("%s for %s/%s: %v %v, want %v %v", c.kind, c.user, c.client, got, ok, c.want, c.ok)
		}
	}
	// Only the client-id levels: users share one sensor per client id.
	q.Set(map[Entity]map[string]float64{{HasClient: true, Client: "app"}: {ProducerByteRate: 1000}})
	t0 := time.Unix(100, 0)
	if d := q.Record(ProducerByteRate, "u1", "app", 900, t0); d != 0 {
		t.Fatalf("throttled at 900 B over a 1 s minimum window against 1000 B/s: %v", d)
	}
	if d := q.Record(ProducerByteRate, "u2", "app", 900, t0); d <= 0 {
		t.Fatal("two users of the same client id did not share the client-id quota")
	}
	if d := q.Record(ProducerByteRate, "u1", "none", 1e9, t0); d != 0 {
		t.Fatalf("no quota applies, yet throttled %v", d)
	}
}
