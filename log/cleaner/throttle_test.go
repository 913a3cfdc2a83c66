package cleaner

import (
	"math"
	"testing"
	"time"
)

// TestThrottle: 6 MB through a 10 MB/s throttle take about 0.6 s; no limit takes none.
func TestThrottle(t *testing.T) {
	if newThrottle(math.MaxFloat64) != nil || newThrottle(0) != nil {
		t.Fatal("an unlimited throttle is not nil")
	}
	th := newThrottle(10e6)
	start := time.Now()
	for i := 0; i < 301; i++ {
		th.wait(t.Context(), 20_000)
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d < 550*time.Millisecond {
		t.Fatalf("6 MB at 10 MB/s took %v", d)
	}
	var none *throttle
	start = time.Now()
	none.wait(t.Context(), 1<<30)
	if time.Since(start) > 10*time.Millisecond {
		t.Fatal("a nil throttle slept")
	}
}
