package quota

import (
	"sync"
	"sync/atomic"
	"time"

	"kbroker/zkmeta"
)

// Client quota kinds, Kafka's quota config keys.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
)

// Entity names a client quota entity: a user, a client id or both; a Default flag stands for
// Kafka's <default> of that part (the znode layout's own type).
type Entity = zkmeta.QuotaEntity

// Clients holds the client quotas stored in ZooKeeper and meters each client against the one
// that applies to it (Kafka's ClientQuotaManager with its default quota callback).
type Clients struct {
	num  int
	size time.Duration

	any atomic.Bool // some quota is set: without one, nothing is metered

	mu      sync.Mutex
	configs map[Entity]map[string]float64
	sensors map[sensorKey]*sensor
	sweep   time.Time
}

type sensorKey struct {
	kind, user, client string
}

type sensor struct {
	rate     *Rate
	lastUsed time.Time
}

// sensorIdle is how long an unused sensor is kept (Kafka expires quota sensors after an hour).
const sensorIdle = time.Hour

// NewClients meters over num windows of size each, with no quota set.
func NewClients(num int, size time.Duration) *Clients {
	return &Clients{num: max(num, 1), size: size, configs: map[Entity]map[string]float64{}, sensors: map[sensorKey]*sensor{}}
}

// Set replaces the quotas of all entities.
func (q *Clients) Set(configs map[Entity]map[string]float64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.configs = configs
	q.any.Store(len(configs) > 0)
}

// resolve finds the quota of kind for (user, client) with Kafka's precedence, most specific
// first, and the tags of the sensor it is metered on: per user and client id for the
// user+client levels, per user for the user levels, per client id for the client levels.
func (q *Clients) resolve(kind, user, client string) (float64, sensorKey, bool) {
	type level struct {
		e          Entity
		user, clnt bool // which parts tag the sensor
	}
	levels := []level{
		{Entity{User: user, Client: client, HasUser: true, HasClient: true}, true, true},
		{Entity{User: user, HasUser: true, HasClient: true, ClientDefault: true}, true, true},
		{Entity{User: user, HasUser: true}, true, false},
		{Entity{Client: client, HasUser: true, HasClient: true, UserDefault: true}, true, true},
		{Entity{HasUser: true, HasClient: true, UserDefault: true, ClientDefault: true}, true, true},
		{Entity{HasUser: true, UserDefault: true}, true, false},
		{Entity{Client: client, HasClient: true}, false, true},
		{Entity{HasClient: true, ClientDefault: true}, false, true},
	}
	for _, l := range levels {
		if v, ok := q.configs[l.e][kind]; ok {
			k := sensorKey{kind: kind}
			if l.user {
				k.user = user
			}
			if l.clnt {
				k.client = client
			}
			return v, k, true
		}
	}
	return 0, sensorKey{}, false
}

// Quota returns the quota of kind that applies to (user, client), if any.
func (q *Clients) Quota(kind, user, client string) (float64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, _, ok := q.resolve(kind, user, client)
	return v, ok
}

// Record meters value for (user, client) against its quota of kind and returns how long the
// client must be throttled (0 when within the quota or when no quota applies).
func (q *Clients) Record(kind, user, client string, value float64, now time.Time) time.Duration {
	if !q.any.Load() {
		return 0
	}
	q.mu.Lock()
	bound, key, ok := q.resolve(kind, user, client)
	if !ok {
		q.mu.Unlock()
		return 0
	}
	s := q.sensors[key]
	if s == nil {
		s = &sensor{rate: NewRate(q.num, q.size)}
		q.sensors[key] = s
	}
	s.lastUsed = now
	q.maybeSweep(now)
	q.mu.Unlock()
	s.rate.Record(value, now)
	return s.rate.Throttle(bound, now)
}

// Check returns how long (user, client) must wait for its quota of kind as things stand,
// without recording anything (a strict mutation check).
func (q *Clients) Check(kind, user, client string, now time.Time) time.Duration {
	if !q.any.Load() {
		return 0
	}
	q.mu.Lock()
	bound, key, ok := q.resolve(kind, user, client)
	s := q.sensors[key]
	q.mu.Unlock()
	if !ok || s == nil {
		return 0
	}
	return s.rate.Throttle(bound, now)
}

// maybeSweep drops sensors unused for sensorIdle, at most once a minute.
func (q *Clients) maybeSweep(now time.Time) {
	if now.Sub(q.sweep) < time.Minute {
		return
	}
	q.sweep = now
	for k, s := range q.sensors {
		if now.Sub(s.lastUsed) > sensorIdle {
			delete(q.sensors, k)
		}
	}
}
