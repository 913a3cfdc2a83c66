package broker

// Glue between the broker and the group coordinator (package coordinator):
//
//   - the coordinator's Log is an internalLog (internal_log.go) over __consumer_offsets:
//     ordinary batches that kafka-dump-log and consumers of __consumer_offsets read,
//     answered once replicated;
//   - __consumer_offsets is created on first use (FindCoordinator), internal and compacted;
//   - at start, and whenever this broker leads a partition of it, the partition is loaded.
//
// Lock order: the coordinator's driver goroutine takes partition locks (through the append
// path) but holds no broker lock while a JoinGroup or SyncGroup waits.

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/coordinator"
)

const offsetsTopic = "__consumer_offsets"

// startGroups builds the group coordinator, starts its driver and loads the
// __consumer_offsets partitions this broker leads.
func (s *Server) startGroups() {
	partitions := s.cfg.OffsetsTopicNumPartitions
	t, exists := s.cache.topic(offsetsTopic)
	if exists && len(t.partitions) > 0 {
		// Kafka reads the partition count of the existing topic, not the config.
		partitions = int32(len(t.partitions))
	}
	cfg := coordinator.Config{
		Partitions:              partitions,
		InitialRebalanceDelayMs: int64(s.cfg.GroupInitialRebalanceDelayMs),
		MinSessionTimeoutMs:     int64(s.cfg.GroupMinSessionTimeoutMs),
		MaxSessionTimeoutMs:     int64(s.cfg.GroupMaxSessionTimeoutMs),
		MaxSize:                 s.cfg.GroupMaxSize,
		OffsetMetadataMaxBytes:  s.cfg.OffsetMetadataMaxBytes,
		OffsetsRetentionMs:      int64(s.cfg.OffsetsRetentionMinutes) * 60 * 1000,
		RetentionCheckMs:        s.cfg.OffsetsRetentionCheckIntervalMs,

		ConsumerSessionTimeoutMs:       int32(s.cfg.GroupConsumerSessionTimeoutMs),
		ConsumerHeartbeatIntervalMs:    int32(s.cfg.GroupConsumerHeartbeatIntervalMs),
		ReconcilingHeartbeatIntervalMs: int32(s.cfg.GroupConsumerReconcilingHeartbeatIntervalMs),
		ConsumerMaxSize:                s.cfg.GroupConsumerMaxSize,
		ConsumerAssignors:              s.cfg.GroupConsumerAssignors,
		MigrationPolicy:                s.cfg.GroupConsumerMigrationPolicy,
	}
	commitTimeout := time.Duration(s.cfg.OffsetsCommitTimeoutMs) * time.Millisecond
	s.groups = coordinator.New(cfg, internalLog{s: s, topic: offsetsTopic, timeout: commitTimeout}, s.cfg.OffsetsLoadBufferSize, s.logger.With().Str("component", "group-coordinator").Logger())
	s.groups.SetTopics(s.cache.topicsImage)
	s.goroutine(func() { s.groups.Run(s.ctx) })
	if exists {
		s.loadOffsetsPartitions(t)
	}
}

// loadOffsetsPartitions starts loading every __consumer_offsets partition this broker leads
// (a no-op for those loaded or loading) and returns the channel of partition p's load.
func (s *Server) loadOffsetsPartitions(t *topicMeta) map[int32]<-chan struct{} {
	out := make(map[int32]<-chan struct{})
	for p, pm := range t.partitions {
		if pm.leader == s.cfg.BrokerID {
			out[int32(p)] = s.groups.BecomeLeader(int32(p))
		}
	}
	return out
}

// ensureOffsetsTopic returns __consumer_offsets, creating it on first use: internal,
// compacted, offsets.topic.num.partitions partitions. The replication factor is
// min(offsets.topic.replication.factor, live brokers): Kafka would refuse to create it with
// the default 3 on a single broker, but a single node must work out of the box.
func (s *Server) ensureOffsetsTopic(ctx context.Context) (*topicMeta, error) {
	if t, ok := s.cache.topic(offsetsTopic); ok {
		return t, nil
	}
	rf := s.cfg.OffsetsTopicReplicationFactor
	if live := int16(len(s.liveBrokers())); rf > live || rf <= 0 {
		rf = live
	}
	spec := topicSpec{
		name:              offsetsTopic,
		partitions:        s.groups.Partitions(),
		replicationFactor: rf,
		configs: map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    strconv.Itoa(int(s.cfg.OffsetsTopicSegmentBytes)),
		},
	}
	t, err := s.createTopic(ctx, spec, false)
	if err != nil {
		if t, ok := s.cache.topic(offsetsTopic); ok {
			return t, nil // created concurrently
		}
		return nil, err
	}
	return t, nil
}

// groupCoordinator answers which broker coordinates a group: the leader of the group's
// __consumer_offsets partition. When that is this broker, loading is started if needed and
// waited for briefly, so that the first group request finds the partition loaded.
func (s *Server) groupCoordinator(ctx context.Context, group string) (int32, error) {
	t, err := s.ensureOffsetsTopic(ctx)
	if err != nil {
		return -1, fmt.Errorf("%w: creating %s: %v", kerr.CoordinatorNotAvailable, offsetsTopic, err)
	}
	p := s.groups.PartitionFor(group)
	if int(p) >= len(t.partitions) {
		return -1, fmt.Errorf("%w: %s has %d partitions, group %q maps to %d", kerr.CoordinatorNotAvailable, offsetsTopic, len(t.partitions), group, p)
	}
	leader := t.partitions[p].leader
	if leader < 0 {
		return -1, fmt.Errorf("%w: %s-%d has no leader", kerr.CoordinatorNotAvailable, offsetsTopic, p)
	}
	if leader != s.cfg.BrokerID {
		return leader, nil // the coordinator is the broker leading the group's partition
	}
	if s.groups.Status(p) != 0 {
		// First use (or the topic was created by another path): load every partition led
		// here, as Kafka does on becoming leader, and wait briefly for this group's one.
		loads := s.loadOffsetsPartitions(t)
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		select {
		case <-loads[p]:
		case <-wait.Done():
		}
	}
	return leader, nil
}

// consumerProtocolEnabled reports whether KIP-848 groups are served
// (group.coordinator.rebalance.protocols has "consumer").
func (s *Server) consumerProtocolEnabled() bool {
	if s.cfg == nil {
		return true // the default
	}
	for _, p := range s.cfg.GroupCoordinatorRebalanceProtocols {
		if p == "consumer" {
			return true
		}
	}
	return false
}

// knownPartition reports whether a topic partition exists (OffsetCommit, OffsetDelete).
func (s *Server) knownPartition(topic string, partition int32) bool {
	t, ok := s.cache.topic(topic)
	return ok && partition >= 0 && int(partition) < len(t.partitions)
}

// clientHost is the client address as Kafka shows it in DescribeGroups ("/127.0.0.1").
func (rc *requestContext) clientHost() string {
	host, _, err := net.SplitHostPort(rc.conn.nc.RemoteAddr().String())
	if err != nil {
		host = rc.conn.nc.RemoteAddr().String()
	}
	return "/" + host
}

// groupCallErr turns a coordinator call that ended without an answer (the connection or the
// server is closing) into the close-this-connection error.
func groupCallErr(err error) error {
	return fmt.Errorf("group request interrupted (%v): %w", err, errCloseQuietly)
}
