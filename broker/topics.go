package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/log"
	"kbroker/zkmeta"
)

// Topic administration. This is the controller's part in single-node mode: it writes the
// topic and partition-state znodes, then makes this broker the leader of the partitions.

const maxTopicNameLength = 249

// internalTopics are Kafka's internal topics, flagged in Metadata.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}

// validateTopicName applies Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", kerr.InvalidTopicException)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", kerr.InvalidTopicException, name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: topic name is longer than %d characters", kerr.InvalidTopicException, maxTopicNameLength)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w: topic name %q contains a character other than ASCII alphanumerics, '.', '_' and '-'", kerr.InvalidTopicException, name)
		}
	}
	return nil
}

// topicSpec is a topic to create.
type topicSpec struct {
	name              string
	partitions        int32
	replicationFactor int16
	assignment        map[int32][]int32 // explicit replica assignment, or nil
	configs           map[string]string
}

// liveBrokers lists the brokers that can hold replicas, from the metadata cache (this one in
// single-node mode). When every broker has a rack (broker.rack) the list alternates racks, so
// that the round-robin assignment puts consecutive replicas on different racks.
func (s *Server) liveBrokers() []int32 {
	brokers := s.cache.liveBrokers()
	if len(brokers) == 0 {
		return []int32{s.cfg.BrokerID}
	}
	return rackAlternated(brokers)
}

// rackAlternated orders brokers as Kafka's rack-aware assignment does: one broker from each
// rack in turn (racks and brokers in id order). Without racks on every broker, id order.
func rackAlternated(brokers []brokerMeta) []int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, b := range brokers {
		if b.rack == nil || *b.rack == "" {
			out := make([]int32, 0, len(brokers))
			for _, b := range brokers {
				out = append(out, b.id)
			}
			return out
		}
		if _, ok := byRack[*b.rack]; !ok {
			racks = append(racks, *b.rack)
		}
		byRack[*b.rack] = append(byRack[*b.rack], b.id)
	}
	sort.Strings(racks)
	out := make([]int32, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}

// resolveSpec fills defaults and validates a topic spec, returning the assignment to write.
func (s *Server) resolveSpec(spec *topicSpec) (map[int32][]int32, error) {
	if err := validateTopicName(spec.name); err != nil {
		return nil, err
	}
	if _, ok := s.cache.topic(spec.name); ok {
		return nil, fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, spec.name)
	}
	if collides := s.collidingTopic(spec.name); collides != "" {
		return nil, fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", kerr.InvalidTopicException, spec.name, collides)
	}
	live := s.liveBrokers()
	if len(spec.assignment) > 0 {
		if spec.partitions != -1 || spec.replicationFactor != -1 {
			return nil, fmt.Errorf("%w: both partitions/replication factor and a replica assignment were given", kerr.InvalidRequest)
		}
		if err := validateAssignment(spec.assignment, 0, live); err != nil {
			return nil, err
		}
		return spec.assignment, nil
	}
	if spec.partitions == -1 {
		spec.partitions = s.cfg.NumPartitions
	}
	if spec.replicationFactor == -1 {
		spec.replicationFactor = s.cfg.DefaultReplicationFactor
	}
	if spec.partitions <= 0 {
		return nil, fmt.Errorf("%w: number of partitions must be larger than 0", kerr.InvalidPartitions)
	}
	if spec.replicationFactor <= 0 {
		return nil, fmt.Errorf("%w: replication factor must be larger than 0", kerr.InvalidReplicationFactor)
	}
	if int(spec.replicationFactor) > len(live) {
		return nil, fmt.Errorf("%w: replication factor: %d larger than available brokers: %d", kerr.InvalidReplicationFactor, spec.replicationFactor, len(live))
	}
	return assignReplicas(0, spec.partitions, spec.replicationFactor, live), nil
}

// assignReplicas spreads replicas round-robin over the live brokers, starting partition
// `from`, so that leaders (the first replica) are spread too.
func assignReplicas(from, count int32, rf int16, live []int32) map[int32][]int32 {
	out := make(map[int32][]int32, count)
	for p := from; p < from+count; p++ {
		replicas := make([]int32, 0, rf)
		for r := int16(0); r < rf; r++ {
			replicas = append(replicas, live[(int(p)+int(r))%len(live)])
		}
		out[p] = replicas
	}
	return out
}

// validateAssignment checks an explicit assignment: partitions numbered from `from`
// contiguously, the same replication factor everywhere, no duplicate or unknown broker.
func validateAssignment(a map[int32][]int32, from int32, live []int32) error {
	isLive := make(map[int32]bool, len(live))
	for _, b := range live {
		isLive[b] = true
	}
	rf := -1
	for i := from; i < from+int32(len(a)); i++ {
		replicas, ok := a[i]
		if !ok {
			return fmt.Errorf("%w: partitions of the replica assignment must be numbered consecutively from %d", kerr.InvalidReplicaAssignment, from)
		}
		if len(replicas) == 0 {
			return fmt.Errorf("%w: partition %d has no replicas", kerr.InvalidReplicaAssignment, i)
		}
		if rf == -1 {
			rf = len(replicas)
		} else if rf != len(replicas) {
			return fmt.Errorf("%w: all partitions must have the same number of replicas", kerr.InvalidReplicaAssignment)
		}
		seen := make(map[int32]bool, len(replicas))
		for _, b := range replicas {
			if seen[b] {
				return fmt.Errorf("%w: duplicate broker %d in the replicas of partition %d", kerr.InvalidReplicaAssignment, b, i)
			}
			seen[b] = true
			if !isLive[b] {
				return fmt.Errorf("%w: broker %d in the replicas of partition %d is not a live broker", kerr.InvalidReplicaAssignment, b, i)
			}
		}
	}
	return nil
}

// collidingTopic returns an existing topic whose name equals name with '.' and '_' swapped.
func (s *Server) collidingTopic(name string) string {
	norm := strings.ReplaceAll(name, ".", "_")
	if norm == name && !strings.Contains(name, "_") {
		return ""
	}
	for _, n := range s.cache.names() {
		if n != name && strings.ReplaceAll(n, ".", "_") == norm {
			return n
		}
	}
	return ""
}

// createTopic validates and (unless validateOnly) creates a topic. On a single node it hosts
// the partitions at once; in cluster mode it writes the znodes and waits (without holding the
// admin lock) until the controller's UpdateMetadata shows every partition with a leader.
func (s *Server) createTopic(ctx context.Context, spec topicSpec, validateOnly bool) (*topicMeta, error) {
	s.adminMu.Lock()
	t, assignment, err := s.createTopicLocked(ctx, spec, validateOnly)
	s.adminMu.Unlock()
	if err != nil || validateOnly || !s.clustered() {
		return t, err
	}
	var got *topicMeta
	err = s.waitForMetadata(ctx, topicPropagationTimeout, func() bool {
		ct, ok := s.cache.topic(spec.name)
		if !ok || ct.id != t.id || len(ct.partitions) < len(assignment) {
			return false
		}
		for _, pm := range ct.partitions {
			if pm.leader < 0 {
				return false
			}
		}
		got = ct
		return true
	})
	if err != nil {
		return t, err
	}
	return got, nil
}

// topicPropagationTimeout bounds how long an admin request waits for the controller.
const topicPropagationTimeout = 30 * time.Second

func (s *Server) createTopicLocked(ctx context.Context, spec topicSpec, validateOnly bool) (*topicMeta, map[int32][]int32, error) {
	assignment, err := s.resolveSpec(&spec)
	if err != nil {
		return nil, nil, err
	}
	tc, err := s.config().ResolveTopic(spec.configs)
	if err != nil {
		return nil, nil, err
	}
	if validateOnly {
		parts := make([]partitionMeta, len(assignment))
		for p, r := range assignment {
			parts[p].replicas = r
		}
		return &topicMeta{name: spec.name, partitions: parts, overrides: spec.configs, config: tc}, assignment, nil
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, nil, err
	}
	id[6] = id[6]&0x0f | 0x40 // version 4 UUID, as Kafka's Uuid.randomUuid
	id[8] = id[8]&0x3f | 0x80
	if spec.configs == nil {
		spec.configs = map[string]string{}
	}
	err = s.meta.CreateTopic(ctx, zkmeta.TopicAssignment{Name: spec.name, ID: id, Partitions: assignment}, spec.configs)
	if errors.Is(err, zkmeta.ErrTopicExists) {
		return nil, nil, fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, spec.name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("writing topic %q: %w", spec.name, err)
	}
	t := &topicMeta{name: spec.name, id: id, internal: isInternalTopic(spec.name), overrides: spec.configs, config: tc}
	s.logger.Info().Str("topic", spec.name).Int("partitions", len(assignment)).Str("topic_id", encodeTopicID(id)).Msg("topic created")
	if s.clustered() {
		return t, assignment, nil // the controller elects leaders and sends LeaderAndIsr
	}
	if err := s.startPartitions(ctx, t, assignment, 0, true); err != nil {
		return nil, nil, err
	}
	s.cache.put(t)
	return t, assignment, nil
}

// startPartitions elects the first replica leader of partitions from..len(assignment) of t,
// writing their state znodes (in batches) when create is set, and hosts those this broker leads.
func (s *Server) startPartitions(ctx context.Context, t *topicMeta, assignment map[int32][]int32, from int32, create bool) error {
	var states map[int32]zkmeta.PartitionState
	if create {
		states = make(map[int32]zkmeta.PartitionState, int32(len(assignment))-from)
		for p := from; p < int32(len(assignment)); p++ {
			leader := assignment[p][0]
			states[p] = zkmeta.PartitionState{Leader: leader, LeaderEpoch: 0, ISR: []int32{leader}, ControllerEpoch: 1}
		}
		if err := s.meta.CreatePartitionStates(ctx, t.name, states); err != nil {
			return fmt.Errorf("writing partition states of %s: %w", t.name, err)
		}
	} else {
		var err error
		if states, _, err = s.meta.PartitionStates(ctx, t.name); err != nil {
			return fmt.Errorf("reading partition states of %s: %w", t.name, err)
		}
	}
	parts := make([]partitionMeta, len(t.partitions), len(assignment))
	copy(parts, t.partitions)
	for p := from; p < int32(len(assignment)); p++ {
		pm := partitionMeta{leader: -1, replicas: assignment[p]}
		if st, ok := states[p]; ok {
			pm.leader, pm.leaderEpoch, pm.isr = st.Leader, st.LeaderEpoch, st.ISR
		} else {
			s.logger.Warn().Str("topic", t.name).Int32("partition", p).Msg("partition has no state znode; it stays offline")
		}
		if pm.leader == s.cfg.BrokerID {
			st := leaderState{leader: pm.leader, leaderEpoch: pm.leaderEpoch, replicas: pm.replicas, isr: pm.isr}
			if _, err := s.rm.makeLeader(log.TopicPartition{Topic: t.name, Partition: p}, t.id, t.config, st); err != nil {
				return err
			}
		}
		parts = append(parts, pm)
	}
	t.partitions = parts
	return nil
}

// loadTopics rebuilds the metadata cache and the hosted partitions from the store at start.
func (s *Server) loadTopics(ctx context.Context) error {
	if err := s.rm.scanDirs(); err != nil {
		return err
	}
	pending, err := s.meta.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return fmt.Errorf("listing topics marked for deletion: %w", err)
	}
	for _, name := range pending {
		s.logger.Info().Str("topic", name).Msg("finishing topic deletion")
		if err := s.meta.DeleteTopic(ctx, name); err != nil {
			return fmt.Errorf("deleting topic %q: %w", name, err)
		}
	}
	names, err := s.meta.Topics(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		ta, _, err := s.meta.Topic(ctx, name)
		if err != nil {
			return fmt.Errorf("reading topic %q: %w", name, err)
		}
		overrides, err := s.meta.TopicConfig(ctx, name)
		if err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
			return fmt.Errorf("reading config of topic %q: %w", name, err)
		}
		tc, err := s.config().ResolveTopic(overrides)
		if err != nil {
			s.logger.Warn().Err(err).Str("topic", name).Msg("stored topic config is invalid; using broker defaults")
			tc, _ = s.config().ResolveTopic(nil)
		}
		t := &topicMeta{name: name, id: ta.ID, internal: isInternalTopic(name), overrides: overrides, config: tc}
		if err := s.startPartitions(ctx, t, ta.Partitions, 0, false); err != nil {
			return err
		}
		s.cache.put(t)
	}
	s.rm.removeStrays()
	return nil
}

// deleteTopic removes a topic: marks it, stops its partitions, deletes their data and znodes.
func (s *Server) deleteTopic(ctx context.Context, name string) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if !s.cfg.DeleteTopicEnable {
		return fmt.Errorf("%w: delete.topic.enable is false", kerr.TopicDeletionDisabled)
	}
	t, ok := s.cache.topic(name)
	if !ok {
		return fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, name)
	}
	if err := s.meta.MarkTopicForDeletion(ctx, name); err != nil && !errors.Is(err, zkmeta.ErrNodeExists) {
		return fmt.Errorf("marking topic %q for deletion: %w", name, err)
	}
	if s.clustered() {
		// The controller stops the replicas, deletes their data and the znodes.
		s.adminMu.Unlock()
		defer s.adminMu.Lock()
		return s.waitForMetadata(ctx, topicPropagationTimeout, func() bool {
			ct, ok := s.cache.topic(name)
			return !ok || ct.id != t.id
		})
	}
	s.cache.remove(name)
	s.metrics.ForgetTopic(name)
	var errs []error
	for p := range t.partitions {
		errs = append(errs, s.rm.removePartition(log.TopicPartition{Topic: name, Partition: int32(p)}))
	}
	if err := errors.Join(errs...); err != nil {
		s.logger.Error().Err(err).Str("topic", name).Msg("deleting partition data")
	}
	if err := s.meta.DeleteTopic(ctx, name); err != nil {
		return fmt.Errorf("deleting topic %q from metadata: %w", name, err)
	}
	s.logger.Info().Str("topic", name).Msg("topic deleted")
	return nil
}

// createPartitions grows a topic to count partitions.
func (s *Server) createPartitions(ctx context.Context, name string, count int32, assignment [][]int32, validateOnly bool) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	t, ok := s.cache.topic(name)
	if !ok {
		return fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, name)
	}
	cur := int32(len(t.partitions))
	if count < cur {
		return fmt.Errorf("%w: topic %q has %d partitions, which is higher than the requested %d", kerr.InvalidPartitions, name, cur, count)
	}
	if count == cur {
		return fmt.Errorf("%w: topic %q already has %d partitions", kerr.InvalidPartitions, name, cur)
	}
	ta, version, err := s.meta.Topic(ctx, name)
	if err != nil {
		return fmt.Errorf("reading topic %q: %w", name, err)
	}
	rf := int16(len(ta.Partitions[0]))
	var added map[int32][]int32
	if assignment != nil {
		if int32(len(assignment)) != count-cur {
			return fmt.Errorf("%w: %d replica assignments given for %d new partitions", kerr.InvalidReplicaAssignment, len(assignment), count-cur)
		}
		added = make(map[int32][]int32, len(assignment))
		for i, r := range assignment {
			added[cur+int32(i)] = r
		}
		if err := validateAssignment(added, cur, s.liveBrokers()); err != nil {
			return err
		}
	} else {
		added = assignReplicas(cur, count-cur, rf, s.liveBrokers())
	}
	if validateOnly {
		return nil
	}
	for p, r := range added {
		ta.Partitions[p] = r
	}
	if err := s.meta.SetTopicAssignment(ctx, ta, version); err != nil {
		return fmt.Errorf("writing topic %q: %w", name, err)
	}
	if s.clustered() {
		s.adminMu.Unlock()
		defer s.adminMu.Lock()
		return s.waitForMetadata(ctx, topicPropagationTimeout, func() bool {
			ct, ok := s.cache.topic(name)
			if !ok || int32(len(ct.partitions)) < count {
				return false
			}
			for _, pm := range ct.partitions {
				if pm.leader < 0 {
					return false
				}
			}
			return true
		})
	}
	nt := *t
	if err := s.startPartitions(ctx, &nt, ta.Partitions, cur, true); err != nil {
		return err
	}
	s.cache.put(&nt)
	s.logger.Info().Str("topic", name).Int32("partitions", count).Msg("partitions added")
	return nil
}
