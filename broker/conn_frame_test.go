package broker

import "testing"

func TestReusableFrame(t *testing.T) {
	withCap := func(b []byte, c int) []byte { return append(make([]byte, 0, c), b...) }
	cases := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"produce", []byte{0, 0, 0, 9}, true},
		{"fetch", []byte{0, 1, 0, 12}, false},
		{"join group keeps member metadata", []byte{0, 11, 0, 5}, false},
		{"sync group keeps assignments", []byte{0, 14, 0, 5}, false},
		{"too short to name an api", []byte{0}, false},
		{"produce larger than the spare bound", withCap([]byte{0, 0, 0, 9}, maxSpareFrame+1), false},
		{"produce at the spare bound", withCap([]byte{0, 0, 0, 9}, maxSpareFrame), true},
	}
	for _, tc := range cases {
		if got := reusableFrame(tc.frame); got != tc.want {
			t.Errorf("%s: reusableFrame = %v, want %v", tc.name, got, tc.want)
		}
	}
}
