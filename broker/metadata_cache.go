package broker

import (
	"sort"
	"sync"

	"kbroker/broker/config"
	"kbroker/coordinator"
)

// topicMeta is what the broker knows of one topic: its id, partitions and configuration.
// Values are replaced, never mutated, once published in the cache.
type topicMeta struct {
	name       string
	id         [16]byte
	internal   bool
	partitions []partitionMeta // indexed by partition id
	overrides  map[string]string
	config     config.TopicConfig
}

// partitionMeta is the leader and replica state of one partition.
type partitionMeta struct {
	leader      int32
	leaderEpoch int32
	replicas    []int32
	isr         []int32
	offline     []int32
}

// metadataCache is the broker's view of topics, answered from memory by Metadata,
// DescribeConfigs and the admin handlers. In cluster mode UpdateMetadata will feed it.
type metadataCache struct {
	mu           sync.RWMutex
	topics       map[string]*topicMeta
	byID         map[[16]byte]*topicMeta
	brokers      map[int32]brokerMeta
	controllerID int32
	changed      chan struct{} // closed and replaced on every change, for waiters

	// The topics as KIP-848 groups see them (names, ids, partition counts): rebuilt on
	// demand after a change of those, with a new version each time.
	imageVersion int64
	image        *coordinator.TopicsImage
}

// brokerMeta is a live broker: host and port on the inter-broker listener, and the
// endpoint of every listener, for clients (each is answered with the endpoints of the
// listener it connected through).
type brokerMeta struct {
	id   int32
	host string
	port int32
	rack *string
	eps  []brokerEndpoint // empty when only the inter-broker address is known
}

type brokerEndpoint struct {
	listener string
	host     string
	port     int32
}

// endpoint is the broker's address on a listener. A broker registered with listeners but
// not this one is left out of answers on it, as Kafka does; one known only by its
// inter-broker address is given at that address.
func (b brokerMeta) endpoint(listener string) (string, int32, bool) {
	if len(b.eps) == 0 {
		return b.host, b.port, true
	}
	for _, e := range b.eps {
		if e.listener == listener {
			return e.host, e.port, true
		}
	}
	return "", -1, false
}

func newMetadataCache() *metadataCache {
	return &metadataCache{topics: make(map[string]*topicMeta), byID: make(map[[16]byte]*topicMeta),
		brokers: make(map[int32]brokerMeta), controllerID: -1, changed: make(chan struct{})}
}

// notifyLocked wakes everything waiting for a change.
func (c *metadataCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// changes returns a channel closed at the next change.
func (c *metadataCache) changes() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// setBrokers replaces the live brokers and the controller id.
func (c *metadataCache) setBrokers(brokers []brokerMeta, controllerID int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokers = make(map[int32]brokerMeta, len(brokers))
	for _, b := range brokers {
		c.brokers[b.id] = b
	}
	c.controllerID = controllerID
	c.notifyLocked()
}

// addBroker records one broker's address (LeaderAndIsr live leaders) without replacing others.
func (c *metadataCache) addBroker(b brokerMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.brokers[b.id]; !ok {
		c.brokers[b.id] = b
		c.notifyLocked()
	}
}

func (c *metadataCache) broker(id int32) (brokerMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.brokers[id]
	return b, ok
}

// liveBrokers returns the live brokers sorted by id.
func (c *metadataCache) liveBrokers() []brokerMeta {
	c.mu.RLock()
	out := make([]brokerMeta, 0, len(c.brokers))
	for _, b := range c.brokers {
		out = append(out, b)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (c *metadataCache) controller() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.controllerID
}

func (c *metadataCache) topic(name string) (*topicMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[name]
	return t, ok
}

func (c *metadataCache) topicByID(id [16]byte) (*topicMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byID[id]
	return t, ok
}

func (c *metadataCache) put(t *topicMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(t)
}

// swap publishes t in place of old, the value read before t was made from it (nil: the topic
// was absent), and reports whether it did: false when another writer (UpdateMetadata,
// LeaderAndIsr, a config change) replaced the topic meanwhile, whose change a put of t would
// have undone. The caller reads the topic again and retries.
func (c *metadataCache) swap(old, t *topicMeta) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topics[t.name] != old {
		return false
	}
	c.putLocked(t)
	return true
}

func (c *metadataCache) putLocked(t *topicMeta) {
	old, ok := c.topics[t.name]
	if ok {
		delete(c.byID, old.id)
	}
	if !ok || old.id != t.id || len(old.partitions) != len(t.partitions) {
		c.imageVersion++
		c.image = nil
	}
	c.topics[t.name] = t
	c.byID[t.id] = t
	c.notifyLocked()
}

func (c *metadataCache) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.topics[name]; ok {
		delete(c.byID, old.id)
		delete(c.topics, name)
		c.imageVersion++
		c.image = nil
		c.notifyLocked()
	}
}

// topicsImage returns the topics for the group coordinator, building the image once per
// change of the topic set or partition counts.
func (c *metadataCache) topicsImage() *coordinator.TopicsImage {
	c.mu.RLock()
	im := c.image
	c.mu.RUnlock()
	if im != nil {
		return im
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.image == nil {
		infos := make([]coordinator.TopicInfo, 0, len(c.topics))
		for _, t := range c.topics {
			infos = append(infos, coordinator.TopicInfo{ID: t.id, Name: t.name, Partitions: int32(len(t.partitions))})
		}
		c.image = coordinator.NewTopicsImage(c.imageVersion, infos)
	}
	return c.image
}

// all returns every topic sorted by name.
func (c *metadataCache) all() []*topicMeta {
	c.mu.RLock()
	out := make([]*topicMeta, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, t)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// names returns the names of all topics.
func (c *metadataCache) names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.topics))
	for n := range c.topics {
		out = append(out, n)
	}
	return out
}
