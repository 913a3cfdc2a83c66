package quota

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Replication is one side's replication throttle: a byte rate limit (math.MaxInt64 = none)
// and the bytes of throttled replicas sent or fetched.
type Replication struct {
	limit atomic.Int64
	rate  *Rate
}

// NewReplication meters over num windows of size each, with no limit.
func NewReplication(num int, size time.Duration) *Replication {
	q := &Replication{rate: NewRate(num, size)}
	q.limit.Store(math.MaxInt64)
	return q
}

// SetLimit changes the limit in bytes per second (math.MaxInt64 or less than 0: none).
func (q *Replication) SetLimit(bytesPerSecond int64) {
	if bytesPerSecond < 0 {
		bytesPerSecond = math.MaxInt64
	}
	q.limit.Store(bytesPerSecond)
}

// Limited reports whether a limit is set.
func (q *Replication) Limited() bool { return q.limit.Load() != math.MaxInt64 }

// Exceeded reports whether throttled replicas must wait: the measured rate is above the limit.
func (q *Replication) Exceeded(now time.Time) bool {
	limit := q.limit.Load()
	return limit != math.MaxInt64 && q.rate.Measure(now) > float64(limit)
}

// Record counts bytes of throttled replicas.
func (q *Replication) Record(bytes int, now time.Time) {
	if bytes > 0 && q.Limited() {
		q.rate.Record(float64(bytes), now)
	}
}

// ThrottledReplicas reports whether a topic's leader/follower.replication.throttled.replicas
// value ("*", or "partition:broker" entries separated by commas) throttles partition on broker.
func ThrottledReplicas(list string, partition, broker int32) bool {
	list = strings.TrimSpace(list)
	if list == "" {
		return false
	}
	if list == "*" {
		return true
	}
	for _, e := range strings.Split(list, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok {
			continue
		}
		pn, err1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bn, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 == nil && err2 == nil && int32(pn) == partition && int32(bn) == broker {
			return true
		}
	}
	return false
}
