package broker

import (
	"sort"
	"sync"

	"kbroker/broker/config"
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
}

// metadataCache is the broker's view of topics, answered from memory by Metadata,
// DescribeConfigs and the admin handlers. In cluster mode UpdateMetadata will feed it.
type metadataCache struct {
	mu     sync.RWMutex
	topics map[string]*topicMeta
	byID   map[[16]byte]*topicMeta
}

func newMetadataCache() *metadataCache {
	return &metadataCache{topics: make(map[string]*topicMeta), byID: make(map[[16]byte]*topicMeta)}
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
	if old, ok := c.topics[t.name]; ok {
		delete(c.byID, old.id)
	}
	c.topics[t.name] = t
	c.byID[t.id] = t
}

func (c *metadataCache) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.topics[name]; ok {
		delete(c.byID, old.id)
		delete(c.topics, name)
	}
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
