package quota

import (
	"sync"
	"time"
)

// Rate is a rate in units per second over sliding windows (Kafka's Rate over a SampledStat).
type Rate struct {
	num  int
	size time.Duration

	mu      sync.Mutex
	samples []sample // at most num, oldest first
}

type sample struct {
	start time.Time
	value float64
}

// NewRate measures over num windows of size each.
func NewRate(num int, size time.Duration) *Rate {
	return &Rate{num: max(num, 1), size: max(size, time.Millisecond)}
}

// Record adds v at now.
func (r *Rate) Record(v float64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purge(now)
	if n := len(r.samples); n == 0 || now.Sub(r.samples[n-1].start) >= r.size {
		if n == r.num {
			r.samples = append(r.samples[:0], r.samples[1:]...)
		}
		r.samples = append(r.samples, sample{start: now})
	}
	r.samples[len(r.samples)-1].value += v
}

// Measure is the rate at now, per second.
func (r *Rate) Measure(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.measureLocked(now)
}

func (r *Rate) measureLocked(now time.Time) float64 {
	r.purge(now)
	total := 0.0
	for _, s := range r.samples {
		total += s.value
	}
	return total / r.windowLocked(now).Seconds()
}

// window is the time the retained samples cover, at least num-1 whole windows.
func (r *Rate) windowLocked(now time.Time) time.Duration {
	elapsed := time.Duration(0)
	if len(r.samples) > 0 {
		elapsed = now.Sub(r.samples[0].start)
	}
	if full := int(elapsed / r.size); full < r.num-1 {
		elapsed += time.Duration(r.num-1-full) * r.size
	}
	return max(elapsed, time.Millisecond)
}

// purge drops samples whose window ended more than num windows ago.
func (r *Rate) purge(now time.Time) {
	limit := time.Duration(r.num) * r.size
	i := 0
	for i < len(r.samples) && now.Sub(r.samples[i].start) >= limit {
		i++
	}
	if i > 0 {
		r.samples = append(r.samples[:0], r.samples[i:]...)
	}
}

// Throttle is how long a client measured at this rate must wait for it to fall back to bound
// (Kafka's QuotaUtils.throttleTime, bounded by the whole measured window); 0 when within it.
func (r *Rate) Throttle(bound float64, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	rate := r.measureLocked(now)
	if bound <= 0 || rate <= bound {
		return 0
	}
	window := r.windowLocked(now)
	d := time.Duration((rate - bound) / bound * float64(window))
	return min(d, time.Duration(r.num)*r.size)
}
