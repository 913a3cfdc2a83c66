package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
)

// TestMetadataTopicWithoutPartitionStates: a topic this broker knows from LeaderAndIsr only
// (no UpdateMetadata yet, so no partition states) is answered as unknown, by name and by id,
// and left out of the all-topics list; once its partition states arrive it is answered.
// Answered as a topic with no partitions and no error, franz-go takes the load as complete
// and does not ask again before metadata.max.age.ms.
func TestMetadataTopicWithoutPartitionStates(t *testing.T) {
	s, c := testServerConn(t, nil)
	tc, err := s.config().ResolveTopic(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := [16]byte{1, 2, 3}
	s.ensureTopicInCache("pending", id, nil, tc)

	metadata := func(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
		t.Helper()
		req.SetVersion(12)
		rc := &requestContext{conn: c, hdr: protocol.RequestHeader{APIKey: 3, APIVersion: 12}}
		resp, err := s.handleMetadata(rc, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.MetadataResponse)
	}
	byName := func() *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("pending")
		req.Topics = append(req.Topics, rt)
		return metadata(req)
	}
	byID := func() *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
		return metadata(req)
	}
	all := func() *kmsg.MetadataResponse { return metadata(kmsg.NewPtrMetadataRequest()) }

	if r := byName(); len(r.Topics) != 1 || r.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("by name before its partition states: %+v, want UNKNOWN_TOPIC_OR_PARTITION", r.Topics)
	}
	if r := byID(); len(r.Topics) != 1 || r.Topics[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("by id before its partition states: %+v, want UNKNOWN_TOPIC_ID", r.Topics)
	}
	if r := all(); len(r.Topics) != 0 {
		t.Fatalf("all topics before its partition states: %+v, want none", r.Topics)
	}

	pt, _ := s.cache.topic("pending")
	nt := *pt
	nt.partitions = []partitionMeta{{leader: s.cfg.BrokerID, replicas: []int32{s.cfg.BrokerID}, isr: []int32{s.cfg.BrokerID}}}
	s.cache.put(&nt)
	for what, r := range map[string]*kmsg.MetadataResponse{"by name": byName(), "by id": byID(), "all": all()} {
		if len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 1 {
			t.Errorf("%s with its partition states: %+v, want the topic and its partition", what, r.Topics)
		}
	}
}

// TestTopicConfigForRecreatedTopic: the config of a topic named in LeaderAndIsr or
// UpdateMetadata comes from the cache only when the cached topic has the same id; a topic
// deleted and created again under its name reads its own overrides, not the old topic's.
func TestTopicConfigForRecreatedTopic(t *testing.T) {
	s, _ := testServerConn(t, []topicSpec{{name: "recreated", partitions: 1, replicationFactor: 1, configs: map[string]string{"retention.ms": "1000"}}})
	old, ok := s.cache.topic("recreated")
	if !ok {
		t.Fatal("topic not in the cache")
	}
	ctx := context.Background()
	if tc, overrides := s.topicConfigFor(ctx, "recreated", old.id); overrides["retention.ms"] != "1000" || tc.RetentionMs != 1000 {
		t.Fatalf("same id: %v, retention %d", overrides, tc.RetentionMs)
	}
	// The new topic's config, as the controller's creation writes it, without the override.
	if err := s.meta.SetTopicConfig(ctx, "recreated", map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	newID := old.id
	newID[0]++
	tc, overrides := s.topicConfigFor(ctx, "recreated", newID)
	if _, kept := overrides["retention.ms"]; kept || overrides["cleanup.policy"] != "compact" || tc.RetentionMs == 1000 {
		t.Fatalf("new id: %v, retention %d: the old topic's overrides", overrides, tc.RetentionMs)
	}
}
