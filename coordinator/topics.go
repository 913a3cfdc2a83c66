package coordinator

import "sort"

// TopicInfo is what a KIP-848 group needs to know of a topic: its id and partition count.
type TopicInfo struct {
	ID         [16]byte
	Name       string
	Partitions int32
}

// TopicsImage is an immutable view of the cluster's topics, the coordinator's counterpart of
// Kafka's MetadataImage.topics(). The broker builds one from its metadata cache whenever a
// topic is created, deleted or gains partitions, with a larger Version each time; requests
// to KIP-848 groups carry the latest image, and a group recomputes its subscription metadata
// when it sees a newer version (Kafka's onNewMetadataImage refresh).
type TopicsImage struct {
	version int64
	byName  map[string]TopicInfo
	byID    map[[16]byte]string
	names   []string // sorted
}

// NewTopicsImage builds an image of topics at version.
func NewTopicsImage(version int64, topics []TopicInfo) *TopicsImage {
	im := &TopicsImage{version: version, byName: make(map[string]TopicInfo, len(topics)), byID: make(map[[16]byte]string, len(topics))}
	for _, t := range topics {
		im.byName[t.Name] = t
		im.byID[t.ID] = t.Name
		im.names = append(im.names, t.Name)
	}
	sort.Strings(im.names)
	return im
}

// Version orders images: a larger version is newer.
func (im *TopicsImage) Version() int64 {
	if im == nil {
		return -1
	}
	return im.version
}

func (im *TopicsImage) topic(name string) (TopicInfo, bool) {
	if im == nil {
		return TopicInfo{}, false
	}
	t, ok := im.byName[name]
	return t, ok
}

func (im *TopicsImage) nameOf(id [16]byte) (string, bool) {
	if im == nil {
		return "", false
	}
	n, ok := im.byID[id]
	return n, ok
}

// topicNames returns every topic name, sorted.
func (im *TopicsImage) topicNames() []string {
	if im == nil {
		return nil
	}
	return im.names
}
