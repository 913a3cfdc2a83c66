package coordinator

import (
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Config is what the state machine needs from the broker configuration. Times are in ms.
type Config struct {
	Partitions              int32 // offsets.topic.num.partitions
	InitialRebalanceDelayMs int64 // group.initial.rebalance.delay.ms
	MinSessionTimeoutMs     int64 // group.min.session.timeout.ms
	MaxSessionTimeoutMs     int64 // group.max.session.timeout.ms
	MaxSize                 int   // group.max.size
	OffsetMetadataMaxBytes  int   // offset.metadata.max.bytes
	OffsetsRetentionMs      int64 // offsets.retention.minutes, in ms
	RetentionCheckMs        int64 // offsets.retention.check.interval.ms
	// NewMemberID returns a fresh member id for a client id (or group instance id); the
	// default is Kafka's "<id>-<uuid>". Tests give deterministic ids.
	NewMemberID func(prefix string) string

	// KIP-848 consumer groups (group.consumer.*).
	ConsumerSessionTimeoutMs    int32 // group.consumer.session.timeout.ms
	ConsumerHeartbeatIntervalMs int32 // group.consumer.heartbeat.interval.ms
	// ReconcilingHeartbeatIntervalMs, when positive and shorter, is the interval given to a
	// member that is not yet at its target assignment (waiting for partitions another
	// member still holds, or revoking), so that it picks its partitions up sooner; 0 gives
	// every member ConsumerHeartbeatIntervalMs, as Kafka does.
	ReconcilingHeartbeatIntervalMs int32
	ConsumerMaxSize                int      // group.consumer.max.size
	ConsumerAssignors              []string // group.consumer.assignors; the first is the default
	MigrationPolicy                string   // group.consumer.migration.policy
	// NewConsumerMemberID returns a member id for a ConsumerGroupHeartbeat v0 join without
	// one (Kafka's random Uuid); tests give deterministic ids.
	NewConsumerMemberID func() string
}

// newMemberJoinTimeoutMs bounds how long a new member may wait in JoinGroup (Kafka's
// NewMemberJoinTimeoutMs): it cannot heartbeat while parked, and a client that gave up and
// retried would otherwise leave a ghost member in the rebalance.
const newMemberJoinTimeoutMs = 5 * 60 * 1000

// Event is an input to the state machine.
type Event interface{ event() }

// Effect is an output of the state machine, for the driver to carry out in order.
type Effect interface{ effect() }

// Reply answers request Req with Result (one of the *Result types).
type Reply struct {
	Req    uint64
	Result any
}

// Append asks the driver to append Records to partition Partition of __consumer_offsets as
// one batch and to report the outcome with AppendDone{Token}. With Txn set, the batch is
// transactional, of that producer (TxnOffsetCommit).
type Append struct {
	Token     uint64
	Partition int32
	Records   []Record
	Txn       *TxnProducer
}

// TxnProducer is the producer of a transactional batch.
type TxnProducer struct {
	ProducerID    int64
	ProducerEpoch int16
}

// ArmTimer asks for TimerFired{Key, Seq} after AfterMs; it replaces any timer with that key.
type ArmTimer struct {
	Key     TimerKey
	Seq     uint64
	AfterMs int64
}

// CancelTimer stops the timer with Key, if armed.
type CancelTimer struct{ Key TimerKey }

func (Reply) effect()       {}
func (Append) effect()      {}
func (ArmTimer) effect()    {}
func (CancelTimer) effect() {}

// TimerKind tells timers apart.
type TimerKind uint8

// Timer kinds.
const (
	TimerJoin        TimerKind = iota + 1 // a group's (initial) delayed join
	TimerSync                             // a group's pending-sync deadline (rebalance timeout)
	TimerHeartbeat                        // a member's session
	TimerPending                          // a pending (MEMBER_ID_REQUIRED) member's deadline
	TimerRetention                        // the periodic offsets expiration check
	TimerCGSession                        // a KIP-848 member's session
	TimerCGRebalance                      // a KIP-848 member's deadline to revoke partitions
	TimerCGJoin                           // a classic member of a KIP-848 group must rejoin
	TimerCGSync                           // a classic member of a KIP-848 group must sync
)

// TimerKey names one timer.
type TimerKey struct {
	Kind   TimerKind
	Group  string
	Member string
}

// Events from the driver.
type (
	// TimerFired reports that a timer armed with ArmTimer went off.
	TimerFired struct {
		Key TimerKey
		Seq uint64
	}
	// AppendDone reports the outcome of an Append (Err is a Kafka error code, 0 on success).
	AppendDone struct {
		Token uint64
		Err   int16
	}
	// PartitionLoading: this broker became leader of the partition and is loading it.
	PartitionLoading struct{ Partition int32 }
	// PartitionLoaded: the partition's records were read (see LoadPartition).
	PartitionLoaded struct {
		Partition int32
		snap      *snapshot
	}
	// PartitionUnloaded: this broker no longer leads the partition, or (LoadFailed) failed
	// to load it.
	PartitionUnloaded struct {
		Partition  int32
		LoadFailed bool
	}
)

func (TimerFired) event()        {}
func (AppendDone) event()        {}
func (PartitionLoading) event()  {}
func (PartitionLoaded) event()   {}
func (PartitionUnloaded) event() {}

type partStatus uint8

const (
	partLoading partStatus = iota + 1
	partActive
)

// Machine is the pure state machine of the group coordinator: every group of every
// __consumer_offsets partition this broker leads, their members and committed offsets. It
// has no clock, no goroutines and no I/O: Step takes the current time with each event and
// returns the effects. It is not safe for concurrent use; the driver owns it.
type Machine struct {
	cfg    Config
	logger zerolog.Logger

	parts  map[int32]partStatus
	groups map[string]*group
	image  *TopicsImage // the newest topics image requests brought

	now     int64
	order   int64 // last order given to an offset commit (offsetEntry.order)
	seq     uint64
	timers  map[TimerKey]uint64
	appends map[uint64]func(code int16)
	out     []Effect
}

// NewMachine returns an empty machine that owns no partition.
func NewMachine(cfg Config, logger zerolog.Logger) *Machine {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = int(^uint32(0) >> 1)
	}
	if cfg.NewMemberID == nil {
		cfg.NewMemberID = randomMemberID
	}
	if cfg.ConsumerSessionTimeoutMs <= 0 {
		cfg.ConsumerSessionTimeoutMs = 45000
	}
	if cfg.ConsumerHeartbeatIntervalMs <= 0 {
		cfg.ConsumerHeartbeatIntervalMs = 5000
	}
	if cfg.ConsumerMaxSize <= 0 {
		cfg.ConsumerMaxSize = int(^uint32(0) >> 1)
	}
	if len(cfg.ConsumerAssignors) == 0 {
		cfg.ConsumerAssignors = []string{AssignorUniform, AssignorRange}
	}
	if cfg.MigrationPolicy == "" {
		cfg.MigrationPolicy = MigrationBidirectional
	}
	if cfg.NewConsumerMemberID == nil {
		cfg.NewConsumerMemberID = randomConsumerMemberID
	}
	return &Machine{
		cfg:     cfg,
		logger:  logger,
		parts:   map[int32]partStatus{},
		groups:  map[string]*group{},
		timers:  map[TimerKey]uint64{},
		appends: map[uint64]func(int16){},
	}
}

// Step applies one event at time now (ms) and returns the effects, in order.
func (m *Machine) Step(now int64, ev Event) []Effect {
	m.now = now
	m.out = nil
	switch e := ev.(type) {
	case *JoinGroup:
		m.join(e)
	case *SyncGroup:
		m.sync(e)
	case *Heartbeat:
		m.heartbeat(e)
	case *LeaveGroup:
		m.leave(e)
	case *CommitOffsets:
		m.commit(e)
	case *FetchOffsets:
		m.fetchOffsets(e)
	case *DescribeGroups:
		m.describe(e)
	case *ListGroups:
		m.list(e)
	case *DeleteGroups:
		m.deleteGroups(e)
	case *DeleteOffsets:
		m.deleteOffsets(e)
	case *ConsumerGroupHeartbeat:
		m.consumerHeartbeat(e)
	case *ConsumerGroupDescribe:
		m.consumerDescribe(e)
	case *TxnCommitOffsets:
		m.txnCommit(e)
	case TxnCompleted:
		m.txnCompleted(e)
	case TimerFired:
		m.timerFired(e)
	case AppendDone:
		if fn, ok := m.appends[e.Token]; ok {
			delete(m.appends, e.Token)
			fn(e.Err)
		}
	case PartitionLoading:
		m.parts[e.Partition] = partLoading
	case PartitionLoaded:
		m.loaded(e.Partition, e.snap)
	case PartitionUnloaded:
		m.unload(e.Partition)
	}
	out := m.out
	m.out = nil
	return out
}

func (m *Machine) reply(req uint64, result any) {
	if req != 0 {
		m.out = append(m.out, Reply{Req: req, Result: result})
	}
}

func (m *Machine) arm(key TimerKey, afterMs int64) {
	m.seq++
	m.timers[key] = m.seq
	if afterMs < 0 {
		afterMs = 0
	}
	m.out = append(m.out, ArmTimer{Key: key, Seq: m.seq, AfterMs: afterMs})
}

func (m *Machine) cancel(key TimerKey) {
	if _, ok := m.timers[key]; ok {
		delete(m.timers, key)
		m.out = append(m.out, CancelTimer{Key: key})
	}
}

// appendRecords emits an Append and calls done with its outcome.
func (m *Machine) appendRecords(partition int32, records []Record, done func(code int16)) {
	m.seq++
	m.appends[m.seq] = done
	m.out = append(m.out, Append{Token: m.seq, Partition: partition, Records: records})
}

// assignor returns the configured server assignor called name, or nil.
func (m *Machine) assignor(name string) partitionAssignor {
	for _, n := range m.cfg.ConsumerAssignors {
		if a := assignorByName(n); a != nil && a.name() == name {
			return a
		}
	}
	return nil
}

// assignorNames are the configured assignors' names, in order.
func (m *Machine) assignorNames() []string {
	var out []string
	for _, n := range m.cfg.ConsumerAssignors {
		if a := assignorByName(n); a != nil {
			out = append(out, a.name())
		}
	}
	return out
}

// nextOrder is the order of an offset commit that was just appended (offsetEntry.order).
func (m *Machine) nextOrder() int64 {
	m.order++
	return m.order
}

// partitionFor is the __consumer_offsets partition of a group.
func (m *Machine) partitionFor(group string) int32 { return PartitionFor(group, m.cfg.Partitions) }

// groupStatus is Kafka's validateGroupStatus: an error code, or 0 when the group's
// partition is loaded here. emptyOK allows the empty group id (OffsetCommit, OffsetFetch,
// DescribeGroups, DeleteGroups, OffsetDelete).
func (m *Machine) groupStatus(id string, emptyOK bool) int16 {
	if id == "" && !emptyOK {
		return kerr.InvalidGroupID.Code
	}
	switch m.parts[m.partitionFor(id)] {
	case partLoading:
		return kerr.CoordinatorLoadInProgress.Code
	case partActive:
		return 0
	}
	return kerr.NotCoordinator.Code
}

// transition moves a group to a new state and logs it (one Info line per change).
func (m *Machine) transition(g *group, s State) {
	from := g.state
	g.state = s
	g.stateTs = m.now
	m.logger.Info().Str("group", g.id).Str("from", from.String()).Str("state", s.String()).
		Int32("generation", g.generation).Int("members", len(g.members)).Str("protocol", g.protocol).
		Int32("partition", g.partition).Msg("group state change")
}

func (m *Machine) timerFired(e TimerFired) {
	if seq, ok := m.timers[e.Key]; !ok || seq != e.Seq {
		return // cancelled or re-armed since
	}
	delete(m.timers, e.Key)
	if e.Key.Kind == TimerRetention {
		m.expireOffsets()
		if m.cfg.RetentionCheckMs > 0 {
			m.arm(TimerKey{Kind: TimerRetention}, m.cfg.RetentionCheckMs)
		}
		return
	}
	g := m.groups[e.Key.Group]
	if g == nil {
		return
	}
	switch e.Key.Kind {
	case TimerCGSession, TimerCGRebalance, TimerCGJoin, TimerCGSync:
		m.cgTimerFired(g, e.Key)
	case TimerJoin:
		m.joinTimerFired(g)
	case TimerSync:
		m.syncTimerFired(g)
	case TimerHeartbeat:
		m.heartbeatExpired(g, e.Key.Member)
	case TimerPending:
		if g.pending[e.Key.Member] {
			m.removePending(g, e.Key.Member)
		}
	}
}
