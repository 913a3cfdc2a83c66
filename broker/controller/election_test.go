package controller

import (
	"fmt"
	"testing"
)

func liveSet(ids ...int32) func(int32) bool {
	m := map[int32]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return func(id int32) bool { return m[id] }
}

func TestElectNew(t *testing.T) {
	tests := []struct {
		replicas []int32
		live     []int32
		want     string
	}{
		{[]int32{1, 2, 3}, []int32{1, 2, 3}, "1 [1 2 3] true"},
		{[]int32{3, 1, 2}, []int32{1, 2}, "1 [1 2] true"},
		{[]int32{3}, []int32{1}, "-1 [] false"},
	}
	for _, tc := range tests {
		l, isr, ok := electNew(tc.replicas, liveSet(tc.live...))
		if got := fmt.Sprint(l, " ", fmt.Sprint(nonNil(isr)), " ", ok); got != tc.want {
			t.Errorf("electNew(%v, live %v) = %s, want %s", tc.replicas, tc.live, got, tc.want)
		}
	}
}

func TestElectOffline(t *testing.T) {
	yes, no := func() bool { return true }, func() bool { return false }
	tests := []struct {
		name     string
		replicas []int32
		isr      []int32
		live     []int32
		unclean  func() bool
		want     string
	}{
		{"first live ISR member in assignment order", []int32{1, 2, 3}, []int32{3, 2, 1}, []int32{2, 3}, no, "2 [3 2] false true"},
		{"no live ISR member", []int32{1, 2}, []int32{1}, []int32{2}, no, "-1 [] false false"},
		{"unclean allowed", []int32{1, 2, 3}, []int32{1}, []int32{3, 2}, yes, "2 [2] true true"},
		{"nothing live", []int32{1, 2}, []int32{1}, nil, yes, "-1 [] false false"},
		{"nil unclean", []int32{1, 2}, []int32{1}, []int32{2}, nil, "-1 [] false false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, isr, rec, ok := electOffline(tc.replicas, tc.isr, liveSet(tc.live...), tc.unclean)
			if got := fmt.Sprint(l, " ", fmt.Sprint(nonNil(isr)), " ", rec, " ", ok); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestElectPreferredAndControlledShutdown(t *testing.T) {
	if l, ok := electPreferred([]int32{1, 2}, []int32{2, 1}, liveSet(1, 2)); !ok || l != 1 {
		t.Fatalf("preferred: %d %v", l, ok)
	}
	if _, ok := electPreferred([]int32{1, 2}, []int32{2}, liveSet(1, 2)); ok {
		t.Fatal("preferred replica out of the ISR elected")
	}
	if _, ok := electPreferred([]int32{1, 2}, []int32{1, 2}, liveSet(2)); ok {
		t.Fatal("dead preferred replica elected")
	}
	down := liveSet(1)
	live := func(id int32) bool { return id != 1 }
	l, isr, ok := electControlledShutdown([]int32{1, 2, 3}, []int32{1, 3, 2}, live, down)
	if !ok || l != 2 || fmt.Sprint(isr) != "[3 2]" {
		t.Fatalf("controlled shutdown: %d %v %v", l, isr, ok)
	}
	if _, _, ok := electControlledShutdown([]int32{1, 2}, []int32{1}, live, down); ok {
		t.Fatal("controlled shutdown elected a replica out of the ISR")
	}
}

func TestRemoveFromISR(t *testing.T) {
	tests := []struct {
		leader  int32
		isr     []int32
		replica int32
		want    string
	}{
		{1, []int32{1, 2, 3}, 2, "1 [1 3]"},
		{1, []int32{1, 2, 3}, 1, "-1 [2 3]"},
		{1, []int32{1}, 1, "-1 [1]"},
	}
	for _, tc := range tests {
		l, isr := removeFromISR(tc.leader, tc.isr, tc.replica)
		if got := fmt.Sprint(l, " ", fmt.Sprint(isr)); got != tc.want {
			t.Errorf("removeFromISR(%d, %v, %d) = %s, want %s", tc.leader, tc.isr, tc.replica, got, tc.want)
		}
	}
}
