package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of the Kafka helpers.
var (
	// ErrTopicExists: the topic exists or is still marked for deletion.
	ErrTopicExists = errors.New("zkmeta: topic already exists")
	// ErrControllerMoved: a fenced write found /controller_epoch changed,
	// so another broker is controller now (Kafka's ControllerMovedException).
	ErrControllerMoved = errors.New("zkmeta: controller moved")
)

// Endpoint is one listener of a broker.
type Endpoint struct {
	Listener         string // listener name, e.g. PLAINTEXT, INTERNAL
	SecurityProtocol string // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	Host             string
	Port             int32
}

// BrokerInfo is a broker registration.
type BrokerInfo struct {
	ID        int32
	Endpoints []Endpoint
	Rack      string // empty when not set
	Epoch     int64  // broker epoch: the czxid of the registration; filled on read
}

// TopicAssignment is the replica assignment of a topic.
type TopicAssignment struct {
	Name       string
	ID         [16]byte
	Partitions map[int32][]int32 // partition -> replicas, the first being the preferred leader
	// Partitions under reassignment only; usually empty.
	AddingReplicas   map[int32][]int32
	RemovingReplicas map[int32][]int32
}

// PartitionReassignment is one partition of a legacy /admin/reassign_partitions request.
type PartitionReassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// PartitionState is the leader and ISR of a partition as the controller
// writes it.
type PartitionState struct {
	Leader              int32 // -1: no leader
	LeaderEpoch         int32
	ISR                 []int32
	ControllerEpoch     int32
	LeaderRecoveryState int32 // 0 recovered, 1 recovering
}

// ConfigChange is one config change notification.
type ConfigChange struct {
	Name       string // znode name, config_change_<seq>
	Seq        int64
	EntityType string // topics, brokers, clients, users, ips
	EntityName string
	Ctime      int64 // milliseconds since the epoch
}

// Metadata is Kafka's ZooKeeper-mode metadata on top of a Store. It holds
// no state besides its Store and optional fence, so it is as safe for
// concurrent use as its Store.
type Metadata struct {
	s   Store
	now func() time.Time

	fenced         bool
	epochZkVersion int32
}

// NewMetadata wraps s.
func NewMetadata(s Store) *Metadata { return &Metadata{s: s, now: time.Now} }

// Store returns the underlying store.
func (m *Metadata) Store() Store { return m.s }

// Fenced returns a Metadata whose controller writes (partition states,
// topic deletion) are multi transactions starting with a check that
// /controller_epoch still has epochZkVersion; when it does not they fail
// with ErrControllerMoved and change nothing.
func (m *Metadata) Fenced(epochZkVersion int32) *Metadata {
	f := *m
	f.fenced, f.epochZkVersion = true, epochZkVersion
	return &f
}

func (m *Metadata) nowMs() int64 { return m.now().UnixMilli() }

// multi runs ops as one transaction, behind the controller fence when set.
func (m *Metadata) multi(ctx context.Context, ops ...Op) error {
	if !m.fenced {
		return m.s.Multi(ctx, ops...)
	}
	all := append([]Op{CheckOp{Path: ControllerEpochPath, Version: m.epochZkVersion}}, ops...)
	err := m.s.Multi(ctx, all...)
	var oe *OpError
	if errors.As(err, &oe) {
		if oe.Index == 0 {
			return fmt.Errorf("%w: %v", ErrControllerMoved, err)
		}
		oe.Index--
	}
	return err
}

// createRecursive creates path and any missing parents with null data;
// existing znodes are left alone.
func (m *Metadata) createRecursive(ctx context.Context, path string) error {
	_, err := m.s.Create(ctx, path, nil, ModePersistent)
	if errors.Is(err, ErrNoParent) {
		parent, _ := splitPath(path)
		if err := m.createRecursive(ctx, parent); err != nil {
			return err
		}
		_, err = m.s.Create(ctx, path, nil, ModePersistent)
	}
	if errors.Is(err, ErrNodeExists) {
		return nil
	}
	return err
}

// createWithParents creates path with data, creating missing parents.
func (m *Metadata) createWithParents(ctx context.Context, path string, data []byte, mode CreateMode) (string, error) {
	created, err := m.s.Create(ctx, path, data, mode)
	if errors.Is(err, ErrNoParent) {
		parent, _ := splitPath(path)
		if err := m.createRecursive(ctx, parent); err != nil {
			return "", err
		}
		created, err = m.s.Create(ctx, path, data, mode)
	}
	return created, err
}

// EnsurePaths creates Kafka's persistent top-level znodes if missing.
func (m *Metadata) EnsurePaths(ctx context.Context) error {
	for _, p := range persistentPaths() {
		if err := m.createRecursive(ctx, p); err != nil {
			return fmt.Errorf("zkmeta: creating %s: %w", p, err)
		}
	}
	return nil
}

// ClusterID returns the cluster id from /cluster/id, creating it with a
// random id on first use.
func (m *Metadata) ClusterID(ctx context.Context) (string, error) {
	for {
		data, _, err := m.s.Get(ctx, ClusterIDPath)
		if err == nil {
			return decodeClusterID(data)
		}
		if !errors.Is(err, ErrNoNode) {
			return "", err
		}
		id, err := RandomUUID()
		if err != nil {
			return "", err
		}
		_, err = m.createWithParents(ctx, ClusterIDPath, encodeClusterID(EncodeUUID(id)), ModePersistent)
		if err == nil {
			return EncodeUUID(id), nil
		}
		if !errors.Is(err, ErrNodeExists) {
			return "", err
		}
		// Another broker won the race: read its id.
	}
}

// RegisterBroker creates the ephemeral /brokers/ids/<id> and returns the
// broker epoch, its czxid. A registration left by this same session is
// updated in place (same epoch); one held by another session is ErrNodeExists.
func (m *Metadata) RegisterBroker(ctx context.Context, b BrokerInfo) (int64, error) {
	path := BrokerPath(b.ID)
	data := encodeBroker(b, m.nowMs())
	_, err := m.createWithParents(ctx, path, data, ModeEphemeral)
	if errors.Is(err, ErrNodeExists) {
		_, st, gerr := m.s.Get(ctx, path)
		if gerr != nil {
			return 0, gerr
		}
		if st.EphemeralOwner != m.s.SessionID() {
			return 0, fmt.Errorf("zkmeta: broker %d is registered by another session: %w", b.ID, err)
		}
		if _, err := m.s.Set(ctx, path, data, st.Version); err != nil {
			return 0, err
		}
		return st.Czxid, nil
	}
	if err != nil {
		return 0, err
	}
	ok, st, err := m.s.Exists(ctx, path)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("zkmeta: registration %s vanished: %w", path, ErrNoNode)
	}
	return st.Czxid, nil
}

// Broker returns one registered broker; ErrNoNode if it is not registered.
func (m *Metadata) Broker(ctx context.Context, id int32) (BrokerInfo, error) {
	data, st, err := m.s.Get(ctx, BrokerPath(id))
	if err != nil {
		return BrokerInfo{}, err
	}
	b, err := decodeBroker(id, data)
	b.Epoch = st.Czxid
	return b, err
}

// Brokers returns the registered brokers by id.
func (m *Metadata) Brokers(ctx context.Context) ([]BrokerInfo, error) {
	names, _, err := m.s.Children(ctx, BrokerIDsPath)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]BrokerInfo, 0, len(names))
	for _, n := range names {
		id, perr := strconv.ParseInt(n, 10, 32)
		if perr != nil {
			continue // not a broker registration
		}
		b, err := m.Broker(ctx, int32(id))
		if errors.Is(err, ErrNoNode) {
			continue // gone since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func validateTopicName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: topic name %q", ErrBadArguments, name)
	}
	return nil
}

func validateAssignment(t TopicAssignment) error {
	if err := validateTopicName(t.Name); err != nil {
		return err
	}
	if len(t.Partitions) == 0 {
		return fmt.Errorf("%w: topic %q has no partitions", ErrBadArguments, t.Name)
	}
	for i, p := range sortedPartitions(t.Partitions) {
		if p != int32(i) {
			return fmt.Errorf("%w: topic %q: partitions must be numbered 0..%d", ErrBadArguments, t.Name, len(t.Partitions)-1)
		}
		replicas := t.Partitions[p]
		if len(replicas) == 0 {
			return fmt.Errorf("%w: topic %q partition %d has no replicas", ErrBadArguments, t.Name, p)
		}
		seen := map[int32]bool{}
		for _, r := range replicas {
			if seen[r] {
				return fmt.Errorf("%w: topic %q partition %d lists replica %d twice", ErrBadArguments, t.Name, p, r)
			}
			seen[r] = true
		}
	}
	return nil
}

// CreateTopic writes the topic's config (/config/topics/<t>) and then its
// assignment (/brokers/topics/<t>), as Kafka's AdminZkClient does. A topic
// that exists or is marked for deletion is ErrTopicExists. A zero ID is
// replaced by a random one (read it back with Topic).
func (m *Metadata) CreateTopic(ctx context.Context, t TopicAssignment, config map[string]string) error {
	if err := validateAssignment(t); err != nil {
		return err
	}
	for _, p := range []string{TopicPath(t.Name), DeleteTopicPath(t.Name)} {
		ok, _, err := m.s.Exists(ctx, p)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("%w: %s", ErrTopicExists, t.Name)
		}
	}
	if t.ID == ([16]byte{}) {
		id, err := RandomUUID()
		if err != nil {
			return err
		}
		t.ID = id
	}
	if err := m.setConfigZNode(ctx, ConfigTopics, t.Name, config); err != nil {
		return err
	}
	_, err := m.createWithParents(ctx, TopicPath(t.Name), encodeTopic(t), ModePersistent)
	if errors.Is(err, ErrNodeExists) {
		return fmt.Errorf("%w: %s", ErrTopicExists, t.Name)
	}
	return err
}

// Topic returns a topic's assignment and the znode version (for
// SetTopicAssignment); ErrNoNode if the topic does not exist.
func (m *Metadata) Topic(ctx context.Context, name string) (TopicAssignment, int32, error) {
	if err := validateTopicName(name); err != nil {
		return TopicAssignment{}, 0, err
	}
	data, st, err := m.s.Get(ctx, TopicPath(name))
	if err != nil {
		return TopicAssignment{}, 0, err
	}
	t, err := decodeTopic(name, data)
	return t, st.Version, err
}

// Topics returns the sorted topic names.
func (m *Metadata) Topics(ctx context.Context) ([]string, error) {
	return m.childrenOrEmpty(ctx, BrokerTopicsPath)
}

func (m *Metadata) childrenOrEmpty(ctx context.Context, path string) ([]string, error) {
	names, _, err := m.s.Children(ctx, path)
	if errors.Is(err, ErrNoNode) {
		return []string{}, nil
	}
	return names, err
}

// SetTopicAssignment rewrites a topic's assignment if its znode still has
// version (CreatePartitions, reassignment). Pass the TopicAssignment read
// with Topic, modified: a zero ID drops topic_id.
func (m *Metadata) SetTopicAssignment(ctx context.Context, t TopicAssignment, version int32) error {
	if err := validateAssignment(t); err != nil {
		return err
	}
	if m.fenced {
		return m.multi(ctx, SetOp{Path: TopicPath(t.Name), Data: encodeTopic(t), Version: version})
	}
	_, err := m.s.Set(ctx, TopicPath(t.Name), encodeTopic(t), version)
	return err
}

// PartitionReassignments reads the legacy /admin/reassign_partitions request (partition ->
// target replicas) with its znode version; ErrNoNode when there is none.
func (m *Metadata) PartitionReassignments(ctx context.Context) ([]PartitionReassignment, int32, error) {
	data, st, err := m.s.Get(ctx, ReassignPartitionsPath)
	if err != nil {
		return nil, 0, err
	}
	rs, err := decodeReassignments(data)
	return rs, st.Version, err
}

// SetPartitionReassignments rewrites /admin/reassign_partitions if its znode still has
// version, deleting it when rs is empty (the controller does, as partitions complete).
func (m *Metadata) SetPartitionReassignments(ctx context.Context, rs []PartitionReassignment, version int32) error {
	if len(rs) == 0 {
		return m.multi(ctx, DeleteOp{Path: ReassignPartitionsPath, Version: version})
	}
	return m.multi(ctx, SetOp{Path: ReassignPartitionsPath, Data: encodeReassignments(rs), Version: version})
}

// CreatePartitionReassignments writes a legacy /admin/reassign_partitions request (what
// Kafka's older tools did); ErrNodeExists while another is pending.
func (m *Metadata) CreatePartitionReassignments(ctx context.Context, rs []PartitionReassignment) error {
	_, err := m.createWithParents(ctx, ReassignPartitionsPath, encodeReassignments(rs), ModePersistent)
	return err
}

// PartitionState returns a partition's leader and ISR with the znode
// version (Kafka's partition epoch, the zkVersion of LeaderAndIsr).
func (m *Metadata) PartitionState(ctx context.Context, topic string, p int32) (PartitionState, int32, error) {
	path := PartitionStatePath(topic, p)
	data, st, err := m.s.Get(ctx, path)
	if err != nil {
		return PartitionState{}, 0, err
	}
	ps, err := decodePartitionState(path, data)
	return ps, st.Version, err
}

// PartitionStates returns the state and znode version of every partition
// of a topic that has one.
func (m *Metadata) PartitionStates(ctx context.Context, topic string) (map[int32]PartitionState, map[int32]int32, error) {
	names, err := m.childrenOrEmpty(ctx, TopicPartitionsPath(topic))
	if err != nil {
		return nil, nil, err
	}
	states, versions := map[int32]PartitionState{}, map[int32]int32{}
	for _, n := range names {
		p, perr := strconv.ParseInt(n, 10, 32)
		if perr != nil {
			continue
		}
		st, v, err := m.PartitionState(ctx, topic, int32(p))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		states[int32(p)], versions[int32(p)] = st, v
	}
	return states, versions, nil
}

// CreatePartitionState creates /brokers/topics/<t>/partitions/<p>/state and
// its missing parents in one transaction. The topic must exist; an
// existing state is ErrNodeExists.
func (m *Metadata) CreatePartitionState(ctx context.Context, topic string, p int32, st PartitionState) error {
	return m.CreatePartitionStates(ctx, topic, map[int32]PartitionState{p: st})
}

// partitionBatch bounds the partitions written per transaction, keeping a
// transaction well under ZooKeeper's 1 MiB request limit.
const partitionBatch = 500

// CreatePartitionStates creates the state znodes of many partitions of a
// topic, in transactions of up to 500 partitions each.
func (m *Metadata) CreatePartitionStates(ctx context.Context, topic string, states map[int32]PartitionState) error {
	if err := validateTopicName(topic); err != nil {
		return err
	}
	parts := sortedPartitions(states)
	for len(parts) > 0 {
		n := min(len(parts), partitionBatch)
		if err := m.createPartitionStateBatch(ctx, topic, parts[:n], states); err != nil {
			return err
		}
		parts = parts[n:]
	}
	return nil
}

func (m *Metadata) createPartitionStateBatch(ctx context.Context, topic string, parts []int32, states map[int32]PartitionState) error {
	for attempt := 0; ; attempt++ {
		existing, _, err := m.s.Children(ctx, TopicPartitionsPath(topic))
		dirMissing := errors.Is(err, ErrNoNode)
		if err != nil && !dirMissing {
			return err
		}
		have := make(map[string]bool, len(existing))
		for _, n := range existing {
			have[n] = true
		}
		var ops []Op
		isDirOp := map[int]bool{}
		if dirMissing {
			isDirOp[len(ops)] = true
			ops = append(ops, CreateOp{Path: TopicPartitionsPath(topic), Mode: ModePersistent})
		}
		for _, p := range parts {
			if !have[strconv.Itoa(int(p))] {
				isDirOp[len(ops)] = true
				ops = append(ops, CreateOp{Path: PartitionPath(topic, p), Mode: ModePersistent})
			}
			ops = append(ops, CreateOp{Path: PartitionStatePath(topic, p), Data: encodePartitionState(states[p]), Mode: ModePersistent})
		}
		err = m.multi(ctx, ops...)
		var oe *OpError
		if errors.As(err, &oe) && isDirOp[oe.Index] && errors.Is(err, ErrNodeExists) && attempt < 3 {
			continue // a concurrent writer created a parent: look again
		}
		if errors.As(err, &oe) && errors.Is(err, ErrNoParent) {
			return fmt.Errorf("zkmeta: topic %s: %w", topic, ErrNoNode)
		}
		return err
	}
}

// SetPartitionState replaces a partition's state if its znode still has
// version (-1: any) and returns the new version.
func (m *Metadata) SetPartitionState(ctx context.Context, topic string, p int32, st PartitionState, version int32) (int32, error) {
	path := PartitionStatePath(topic, p)
	data := encodePartitionState(st)
	if !m.fenced {
		stat, err := m.s.Set(ctx, path, data, version)
		return stat.Version, err
	}
	if err := m.multi(ctx, SetOp{Path: path, Data: data, Version: version}); err != nil {
		return 0, err
	}
	if version >= 0 {
		return version + 1, nil
	}
	_, stat, err := m.s.Get(ctx, path)
	return stat.Version, err
}

// Config returns the config overrides of an entity (/config/<type>/<name>);
// an entity without overrides has an empty map, as in Kafka.
func (m *Metadata) Config(ctx context.Context, entityType, name string) (map[string]string, error) {
	path := ConfigEntityPath(entityType, name)
	data, _, err := m.s.Get(ctx, path)
	if errors.Is(err, ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeConfig(path, data)
}

// SetConfig replaces the config overrides of an entity and writes a change
// notification so that every broker applies them.
func (m *Metadata) SetConfig(ctx context.Context, entityType, name string, cfg map[string]string) error {
	if err := m.setConfigZNode(ctx, entityType, name, cfg); err != nil {
		return err
	}
	_, err := m.createWithParents(ctx, ConfigChangePath(configChangePrefix),
		encodeConfigChange(entityType, name), ModePersistentSequential)
	return err
}

// setConfigZNode sets or creates /config/<type>/<name>.
func (m *Metadata) setConfigZNode(ctx context.Context, entityType, name string, cfg map[string]string) error {
	path := ConfigEntityPath(entityType, name)
	data := encodeConfig(cfg)
	for {
		_, err := m.s.Set(ctx, path, data, -1)
		if !errors.Is(err, ErrNoNode) {
			return err
		}
		_, err = m.createWithParents(ctx, path, data, ModePersistent)
		if !errors.Is(err, ErrNodeExists) {
			return err
		}
	}
}

// TopicConfig returns a topic's config overrides (empty when none).
func (m *Metadata) TopicConfig(ctx context.Context, name string) (map[string]string, error) {
	if err := validateTopicName(name); err != nil {
		return nil, err
	}
	return m.Config(ctx, ConfigTopics, name)
}

// SetTopicConfig replaces a topic's config overrides and writes the change
// notification /config/changes/config_change_<seq>. The topic must exist
// (ErrNoNode otherwise).
func (m *Metadata) SetTopicConfig(ctx context.Context, name string, cfg map[string]string) error {
	if err := validateTopicName(name); err != nil {
		return err
	}
	ok, _, err := m.s.Exists(ctx, TopicPath(name))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("zkmeta: topic %s: %w", name, ErrNoNode)
	}
	return m.SetConfig(ctx, ConfigTopics, name, cfg)
}

// ConfigChanges returns the pending config change notifications in order.
func (m *Metadata) ConfigChanges(ctx context.Context) ([]ConfigChange, error) {
	names, err := m.childrenOrEmpty(ctx, ConfigChangesPath)
	if err != nil {
		return nil, err
	}
	var out []ConfigChange
	for _, n := range names {
		seq, perr := strconv.ParseInt(strings.TrimPrefix(n, configChangePrefix), 10, 64)
		if !strings.HasPrefix(n, configChangePrefix) || perr != nil {
			continue
		}
		path := ConfigChangePath(n)
		data, st, err := m.s.Get(ctx, path)
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		typ, name, err := decodeConfigChange(path, data)
		if err != nil {
			return nil, err
		}
		out = append(out, ConfigChange{Name: n, Seq: seq, EntityType: typ, EntityName: name, Ctime: st.Ctime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// MarkTopicForDeletion creates /admin/delete_topics/<t>. The topic must
// exist (ErrNoNode); marking it twice is not an error.
func (m *Metadata) MarkTopicForDeletion(ctx context.Context, name string) error {
	if err := validateTopicName(name); err != nil {
		return err
	}
	ok, _, err := m.s.Exists(ctx, TopicPath(name))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("zkmeta: topic %s: %w", name, ErrNoNode)
	}
	_, err = m.createWithParents(ctx, DeleteTopicPath(name), nil, ModePersistent)
	if errors.Is(err, ErrNodeExists) {
		return nil
	}
	return err
}

// TopicsMarkedForDeletion returns the sorted names under /admin/delete_topics.
func (m *Metadata) TopicsMarkedForDeletion(ctx context.Context) ([]string, error) {
	return m.childrenOrEmpty(ctx, DeleteTopicsPath)
}

// DeleteTopic removes /brokers/topics/<t> with everything under it, then
// /config/topics/<t> and /admin/delete_topics/<t>; missing znodes are
// skipped. With a fence, the deletes are fenced transactions.
func (m *Metadata) DeleteTopic(ctx context.Context, name string) error {
	if err := validateTopicName(name); err != nil {
		return err
	}
	for _, p := range []string{TopicPath(name), ConfigEntityPath(ConfigTopics, name), DeleteTopicPath(name)} {
		if err := m.deleteRecursive(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecursive deletes path and its subtree, children first, in
// transactions of bounded size; it retries when the subtree changes meanwhile.
func (m *Metadata) deleteRecursive(ctx context.Context, path string) error {
	for attempt := 0; ; attempt++ {
		var paths []string
		err := m.collect(ctx, path, &paths)
		if errors.Is(err, ErrNoNode) && len(paths) == 0 {
			return nil
		}
		if err == nil {
			for len(paths) > 0 && err == nil {
				n := min(len(paths), 2*partitionBatch)
				ops := make([]Op, 0, n)
				for _, p := range paths[:n] {
					ops = append(ops, DeleteOp{Path: p, Version: -1})
				}
				err = m.multi(ctx, ops...)
				paths = paths[n:]
			}
		}
		if err == nil {
			return nil
		}
		if attempt >= 3 || !(errors.Is(err, ErrNoNode) || errors.Is(err, ErrNotEmpty)) {
			return err
		}
	}
}

// collect appends path's subtree to out, children before parents.
func (m *Metadata) collect(ctx context.Context, path string, out *[]string) error {
	names, _, err := m.s.Children(ctx, path)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := m.collect(ctx, joinPath(path, n), out); err != nil && !errors.Is(err, ErrNoNode) {
			return err
		}
	}
	*out = append(*out, path)
	return nil
}

// NextProducerIDBlock claims the next block of size producer ids in
// /latest_producer_id_block and returns its inclusive bounds. The first
// block starts at 0; each next one right after the last claimed one.
// Concurrent claims are serialized by a conditional update, retried on
// ErrBadVersion.
func (m *Metadata) NextProducerIDBlock(ctx context.Context, brokerID int32, size int64) (start, end int64, err error) {
	if size <= 0 {
		return 0, 0, fmt.Errorf("%w: producer id block size %d", ErrBadArguments, size)
	}
	for {
		data, st, err := m.s.Get(ctx, ProducerIDBlockPath)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNoNode) {
			return 0, 0, err
		}
		start = 0
		if exists && len(data) > 0 {
			_, last, err := decodeProducerIDBlock(data)
			if err != nil {
				return 0, 0, err
			}
			if last < 0 || last > math.MaxInt64-size {
				return 0, 0, fmt.Errorf("zkmeta: producer ids exhausted (last block ends at %d)", last)
			}
			start = last + 1
		}
		end = start + size - 1
		block := encodeProducerIDBlock(brokerID, start, end)
		if exists {
			_, err = m.s.Set(ctx, ProducerIDBlockPath, block, st.Version)
		} else {
			_, err = m.createWithParents(ctx, ProducerIDBlockPath, block, ModePersistent)
		}
		if err == nil {
			return start, end, nil
		}
		if !errors.Is(err, ErrBadVersion) && !errors.Is(err, ErrNodeExists) {
			return 0, 0, err
		}
		// Another broker claimed a block meanwhile: read again.
	}
}

// ControllerEpoch returns the controller epoch and the version of
// /controller_epoch (the fence); ErrNoNode before the first election.
func (m *Metadata) ControllerEpoch(ctx context.Context) (epoch, zkVersion int32, err error) {
	data, st, err := m.s.Get(ctx, ControllerEpochPath)
	if err != nil {
		return 0, 0, err
	}
	epoch, err = decodeControllerEpoch(data)
	return epoch, st.Version, err
}

// TryElectController makes brokerID the controller if there is none: one
// transaction creates the ephemeral /controller and bumps
// /controller_epoch (created as "0" first if missing, so the first epoch is
// 1). It returns whether this session is the controller, the current
// controller epoch and the version of /controller_epoch, which fences the
// controller's later writes (see Fenced). Calling it again while already
// controller returns won with the current epoch.
func (m *Metadata) TryElectController(ctx context.Context, brokerID int32) (won bool, controllerEpoch, epochZkVersion int32, err error) {
	exists, mine, err := m.controllerOwner(ctx, brokerID)
	if err != nil {
		return false, 0, 0, err
	}
	if exists {
		e, v, err := m.currentEpoch(ctx)
		return mine && err == nil, e, v, err
	}
	epoch, version, err := m.ControllerEpoch(ctx)
	if errors.Is(err, ErrNoNode) {
		_, err = m.createWithParents(ctx, ControllerEpochPath, encodeControllerEpoch(0), ModePersistent)
		if err != nil && !errors.Is(err, ErrNodeExists) {
			return false, 0, 0, err
		}
		epoch, version, err = m.ControllerEpoch(ctx)
	}
	if err != nil {
		return false, 0, 0, err
	}
	err = m.s.Multi(ctx,
		CreateOp{Path: ControllerPath, Data: encodeController(brokerID, m.nowMs()), Mode: ModeEphemeral},
		SetOp{Path: ControllerEpochPath, Data: encodeControllerEpoch(epoch + 1), Version: version},
	)
	if err == nil {
		return true, epoch + 1, version + 1, nil
	}
	if !errors.Is(err, ErrNodeExists) && !errors.Is(err, ErrBadVersion) {
		return false, 0, 0, err
	}
	// Lost the race, or lost the answer to our own write: look again.
	_, mine, err = m.controllerOwner(ctx, brokerID)
	if err != nil {
		return false, 0, 0, err
	}
	e, v, err := m.currentEpoch(ctx)
	if err != nil {
		return false, 0, 0, err
	}
	return mine && e == epoch+1, e, v, nil
}

// currentEpoch is ControllerEpoch with 0 and version -1 before the first election.
func (m *Metadata) currentEpoch(ctx context.Context) (int32, int32, error) {
	e, v, err := m.ControllerEpoch(ctx)
	if errors.Is(err, ErrNoNode) {
		return 0, -1, nil
	}
	return e, v, err
}

// controllerOwner reports whether /controller exists and whether it names
// brokerID and belongs to this session.
func (m *Metadata) controllerOwner(ctx context.Context, brokerID int32) (exists, mine bool, err error) {
	data, st, err := m.s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	id, err := decodeController(data)
	if err != nil {
		return true, false, err
	}
	return true, id == brokerID && st.EphemeralOwner == m.s.SessionID(), nil
}

// Controller returns the id of the current controller; ok is false when
// there is none.
func (m *Metadata) Controller(ctx context.Context) (brokerID int32, ok bool, err error) {
	data, _, err := m.s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	id, err := decodeController(data)
	if err != nil {
		return -1, false, err
	}
	return id, true, nil
}

// ResignController deletes /controller if it belongs to brokerID in this
// session, so that another broker can be elected.
func (m *Metadata) ResignController(ctx context.Context, brokerID int32) error {
	data, st, err := m.s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	id, err := decodeController(data)
	if err != nil {
		return err
	}
	if id != brokerID || st.EphemeralOwner != m.s.SessionID() {
		return nil
	}
	err = m.s.Delete(ctx, ControllerPath, st.Version)
	if errors.Is(err, ErrNoNode) || errors.Is(err, ErrBadVersion) {
		return nil
	}
	return err
}
