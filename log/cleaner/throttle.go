package cleaner

import (
	"context"
	"math"
	"sync"
	"time"
)

// throttleCheck is how often the throttle compares the observed rate with its limit
// (Kafka's Throttler checks every 300 ms).
const throttleCheck = 300 * time.Millisecond

// throttle keeps the bytes the cleaner threads read and write, together, at or below a rate
// (log.cleaner.io.max.bytes.per.second), as Kafka's Throttler does: when the bytes observed
// since the last check exceed what the rate allows for the time passed, the caller sleeps
// for the difference. A nil throttle or an infinite rate throttles nothing. Safe for
// concurrent use.
type throttle struct {
	rate float64 // bytes per second

	mu       sync.Mutex
	start    time.Time
	observed float64
}

// newThrottle returns a throttle at rate bytes per second, nil for no limit.
func newThrottle(rate float64) *throttle {
	if rate <= 0 || math.IsInf(rate, 1) || rate >= math.MaxFloat64/2 {
		return nil
	}
	return &throttle{rate: rate, start: time.Now()}
}

// wait accounts for n bytes and sleeps as long as the rate asks.
func (t *throttle) wait(ctx context.Context, n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.observed += float64(n)
	now := time.Now()
	elapsed := now.Sub(t.start)
	var sleep time.Duration
	if elapsed >= throttleCheck {
		if want := time.Duration(t.observed / t.rate * float64(time.Second)); want > elapsed {
			sleep = want - elapsed
		}
		t.start, t.observed = now.Add(sleep), 0
	}
	t.mu.Unlock()
	if sleep > 0 {
		tm := time.NewTimer(sleep)
		defer tm.Stop()
		select {
		case <-ctx.Done():
		case <-tm.C:
		}
	}
}
