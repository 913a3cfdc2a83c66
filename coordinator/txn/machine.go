package txn

import (
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/coordinator"
)

// Config is what the state machine needs from the broker configuration. Times are in ms.
type Config struct {
	Partitions              int32 // transaction.state.log.num.partitions
	OffsetsPartitions       int32 // offsets.topic.num.partitions (AddOffsetsToTxn)
	MaxTimeoutMs            int32 // transaction.max.timeout.ms
	IDExpirationMs          int64 // transactional.id.expiration.ms
	AbortTimedOutIntervalMs int64 // transaction.abort.timed.out.transaction.cleanup.interval.ms
	RemoveExpiredIntervalMs int64 // transaction.remove.expired.transaction.cleanup.interval.ms
	// RetryBackoffMs is the wait before markers whose leader was not reachable, or a
	// completion record that could not be written, are tried again.
	RetryBackoffMs int64
	// EndTxnWaitMs is how long a client's EndTxn answer may wait for the transaction's
	// markers and completion record; 0 answers once the prepare record is written, as Kafka.
	EndTxnWaitMs int64
}

// Error codes used here, by name.
var (
	errNone                  int16
	errConcurrent            = kerr.ConcurrentTransactions.Code
	errProducerFenced        = kerr.ProducerFenced.Code
	errInvalidMapping        = kerr.InvalidProducerIDMapping.Code
	errInvalidTxnState       = kerr.InvalidTxnState.Code
	errNotCoordinator        = kerr.NotCoordinator.Code
	errLoading               = kerr.CoordinatorLoadInProgress.Code
	errNotAvailable          = kerr.CoordinatorNotAvailable.Code
	errInvalidRequest        = kerr.InvalidRequest.Code
	errInvalidTimeout        = kerr.InvalidTransactionTimeout.Code
	errUnknownServer         = kerr.UnknownServerError.Code
	errTxnIDNotFound         = kerr.TransactionalIDNotFound.Code
	errTransactionAbortable  = kerr.TransactionAbortable.Code
	errInvalidProducerEpoch  = kerr.InvalidProducerEpoch.Code
	errCoordinatorFenced     = kerr.TransactionCoordinatorFenced.Code
	errUnsupportedForFormat  = kerr.UnsupportedForMessageFormat.Code
	errUnsupportedVersion    = kerr.UnsupportedVersion.Code
	errUnknownTopicPartition = kerr.UnknownTopicOrPartition.Code
)

// Event is an input to the state machine.
type Event interface{ event() }

// Effect is an output of the state machine, for the driver to carry out.
type Effect interface{ effect() }

// Reply answers request Req with Result (one of the *Result types).
type Reply struct {
	Req    uint64
	Result any
}

// Append asks the driver to append Records to partition Partition of __transaction_state
// as one batch (acks=all) and to report the outcome with AppendDone{Token}.
type Append struct {
	Token     uint64
	Partition int32
	Records   []coordinator.Record
}

// AllocateProducerID asks for a new producer id, reported with ProducerIDAllocated{Token}.
type AllocateProducerID struct{ Token uint64 }

// WriteMarkers asks the driver to write a commit (Commit true) or abort marker for the
// producer to each of Partitions, at their leaders (WriteTxnMarkers), and to report one
// outcome per partition with MarkersWritten{Token}.
type WriteMarkers struct {
	Token            uint64
	TxnID            string
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
	Partitions       []TopicPartition
}

// ArmTimer asks for TimerFired{Key, Seq} after AfterMs; it replaces any timer with that key.
type ArmTimer struct {
	Key     TimerKey
	Seq     uint64
	AfterMs int64
}

// CancelTimer stops the timer with Key, if armed.
type CancelTimer struct{ Key TimerKey }

func (Reply) effect()              {}
func (Append) effect()             {}
func (AllocateProducerID) effect() {}
func (WriteMarkers) effect()       {}
func (ArmTimer) effect()           {}
func (CancelTimer) effect()        {}

// TimerKind tells timers apart.
type TimerKind uint8

// Timer kinds.
const (
	TimerAbortTimedOut TimerKind = iota + 1 // periodic: abort transactions past their timeout
	TimerExpireIDs                          // periodic: remove idle transactional ids
	TimerRetryMarkers                       // an id's markers that are to be tried again
	TimerRetryComplete                      // an id's completion record that is to be written again
	TimerAnswerEnd                          // an id's EndTxn answer is due even though its completion is not written
)

// TimerKey names one timer.
type TimerKey struct {
	Kind  TimerKind
	TxnID string
}

// Events from the driver.
type (
	// TimerFired reports that a timer armed with ArmTimer went off.
	TimerFired struct {
		Key TimerKey
		Seq uint64
	}
	// AppendDone reports the outcome of an Append (a Kafka error code of the append, 0 on
	// success).
	AppendDone struct {
		Token uint64
		Err   int16
	}
	// ProducerIDAllocated reports the outcome of an AllocateProducerID.
	ProducerIDAllocated struct {
		Token      uint64
		ProducerID int64
		Err        int16
	}
	// MarkersWritten reports the outcome of a WriteMarkers: the error code of each
	// partition's marker (as WriteTxnMarkers answers it), and the partitions that no
	// longer exist (no leader known in the metadata: the topic was deleted).
	MarkersWritten struct {
		Token uint64
		Errs  map[TopicPartition]int16
		Gone  []TopicPartition
	}
	// PartitionLoading: this broker became leader of the partition at leader epoch Epoch
	// (the coordinator epoch written into markers) and is loading it.
	PartitionLoading struct {
		Partition int32
		Epoch     int32
	}
	// PartitionLoaded: the partition's records were read (see Load).
	PartitionLoaded struct {
		Partition int32
		Epoch     int32
		snap      map[string]*txnMeta
	}
	// PartitionUnloaded: this broker no longer leads the partition, or (LoadFailed) failed
	// to load it at Epoch, which is moot if it is loading at another epoch by now.
	PartitionUnloaded struct {
		Partition  int32
		LoadFailed bool
		Epoch      int32
	}
)

func (TimerFired) event()          {}
func (AppendDone) event()          {}
func (ProducerIDAllocated) event() {}
func (MarkersWritten) event()      {}
func (PartitionLoading) event()    {}
func (PartitionLoaded) event()     {}
func (PartitionUnloaded) event()   {}

type partStatus uint8

const (
	partLoading partStatus = iota + 1
	partActive
)

type partState struct {
	status partStatus
	epoch  int32 // coordinator epoch
}

// Machine is the pure state machine of the transaction coordinator: every transactional id
// of every __transaction_state partition this broker leads. It has no clock, goroutine or
// I/O; it is not safe for concurrent use (the driver owns it).
type Machine struct {
	cfg    Config
	logger zerolog.Logger

	parts map[int32]*partState
	txns  map[string]*txnMeta

	now       int64
	seq       uint64
	timers    map[TimerKey]uint64
	appends   map[uint64]func(code int16)
	allocs    map[uint64]func(id int64, code int16)
	markerOps map[uint64]*markerJob
	out       []Effect
}

// NewMachine returns an empty machine that owns no partition.
func NewMachine(cfg Config, logger zerolog.Logger) *Machine {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.OffsetsPartitions <= 0 {
		cfg.OffsetsPartitions = 50
	}
	if cfg.MaxTimeoutMs <= 0 {
		cfg.MaxTimeoutMs = 900000
	}
	if cfg.RetryBackoffMs <= 0 {
		cfg.RetryBackoffMs = 100
	}
	return &Machine{
		cfg:       cfg,
		logger:    logger,
		parts:     map[int32]*partState{},
		txns:      map[string]*txnMeta{},
		timers:    map[TimerKey]uint64{},
		appends:   map[uint64]func(int16){},
		allocs:    map[uint64]func(int64, int16){},
		markerOps: map[uint64]*markerJob{},
	}
}

// Step applies one event at time now (ms) and returns the effects, in order.
func (m *Machine) Step(now int64, ev Event) []Effect {
	m.now = now
	m.out = nil
	switch e := ev.(type) {
	case *InitProducerID:
		m.initProducerID(e)
	case *AddPartitions:
		m.addPartitions(e)
	case *VerifyPartitions:
		m.verifyPartitions(e)
	case *AddOffsets:
		m.addOffsets(e)
	case *EndTxn:
		m.endTxnRequest(e)
	case *DescribeTxns:
		m.describe(e)
	case *ListTxns:
		m.list(e)
	case TimerFired:
		m.timerFired(e)
	case AppendDone:
		if fn, ok := m.appends[e.Token]; ok {
			delete(m.appends, e.Token)
			fn(e.Err)
		}
	case ProducerIDAllocated:
		if fn, ok := m.allocs[e.Token]; ok {
			delete(m.allocs, e.Token)
			fn(e.ProducerID, e.Err)
		}
	case MarkersWritten:
		if job, ok := m.markerOps[e.Token]; ok {
			delete(m.markerOps, e.Token)
			m.markersWritten(job, e)
		}
	case PartitionLoading:
		m.parts[e.Partition] = &partState{status: partLoading, epoch: e.Epoch}
	case PartitionLoaded:
		m.loaded(e)
	case PartitionUnloaded:
		if ps := m.parts[e.Partition]; e.LoadFailed && (ps == nil || ps.status != partLoading || ps.epoch != e.Epoch) {
			break
		}
		m.unload(e.Partition)
	}
	out := m.out
	m.out = nil
	return out
}

// PartitionFor is the __transaction_state partition of a transactional id.
func PartitionFor(txnID string, partitions int32) int32 {
	return coordinator.PartitionFor(txnID, partitions)
}

func (m *Machine) partitionFor(txnID string) int32 { return PartitionFor(txnID, m.cfg.Partitions) }

func (m *Machine) reply(req uint64, result any) {
	if req != 0 {
		m.out = append(m.out, Reply{Req: req, Result: result})
	}
}

func (m *Machine) arm(key TimerKey, afterMs int64) {
	m.seq++
	m.timers[key] = m.seq
	m.out = append(m.out, ArmTimer{Key: key, Seq: m.seq, AfterMs: max(afterMs, 0)})
}

func (m *Machine) cancel(key TimerKey) {
	if _, ok := m.timers[key]; ok {
		delete(m.timers, key)
		m.out = append(m.out, CancelTimer{Key: key})
	}
}

func (m *Machine) allocate(done func(id int64, code int16)) {
	m.seq++
	m.allocs[m.seq] = done
	m.out = append(m.out, AllocateProducerID{Token: m.seq})
}

// lookup is Kafka's getTransactionState: the id's metadata (nil when unknown) and the
// coordinator epoch of its partition, or the error when this broker does not (yet)
// coordinate it.
func (m *Machine) lookup(txnID string) (*txnMeta, int32, int16) {
	ps := m.parts[m.partitionFor(txnID)]
	switch {
	case ps == nil:
		return nil, 0, errNotCoordinator
	case ps.status == partLoading:
		return nil, 0, errLoading
	}
	return m.txns[txnID], ps.epoch, errNone
}

// current reports whether t is still the loaded metadata of its id under coordinator
// epoch epoch (an append's answer may come after the partition was unloaded or reloaded).
func (m *Machine) current(t *txnMeta, epoch int32) bool {
	ps := m.parts[t.partition]
	return ps != nil && ps.status == partActive && ps.epoch == epoch && m.txns[t.id] == t
}

// appendTransit writes a prepared change of t (Kafka's appendTransactionToLog) and calls
// done with the coordinator error once it is written and applied, or failed. With retry
// set, a COORDINATOR_NOT_AVAILABLE failure keeps the pending state (the caller retries).
func (m *Machine) appendTransit(t *txnMeta, epoch int32, tr transit, retry bool, done func(code int16)) {
	rec := transitRecord(t.id, tr)
	m.seq++
	token := m.seq
	m.appends[token] = func(code int16) {
		code = appendErrorCode(code)
		if code == errNone {
			if !m.current(t, epoch) {
				done(errNotCoordinator)
				return
			}
			if err := t.completeTransition(tr); err != nil {
				m.logger.Error().Err(err).Str("transactional_id", t.id).Msg("transaction state change")
				done(errUnknownServer)
				return
			}
			m.logger.Debug().Str("transactional_id", t.id).Int64("producer_id", t.producerID).
				Int16("epoch", t.epoch).Str("state", t.state.String()).Msg("transaction state written")
			done(errNone)
			return
		}
		if m.current(t, epoch) && !(retry && code == errNotAvailable) {
			t.hasPending = false
		}
		m.logger.Info().Str("transactional_id", t.id).Str("state", tr.state.String()).Int16("error", code).
			Msg("writing transaction state failed")
		done(code)
	}
	m.out = append(m.out, Append{Token: token, Partition: t.partition, Records: []coordinator.Record{rec}})
}

// appendErrorCode maps an append's error to the coordinator's (Kafka's
// appendTransactionToLog).
func appendErrorCode(code int16) int16 {
	switch code {
	case kerr.UnknownTopicOrPartition.Code, kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicasAfterAppend.Code, kerr.RequestTimedOut.Code:
		return errNotAvailable
	case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code:
		return errNotCoordinator
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code:
		return errUnknownServer
	}
	return code
}

// illegal logs a transition Kafka treats as a bug and answers UNKNOWN_SERVER_ERROR.
func (m *Machine) illegal(err error) int16 {
	m.logger.Error().Err(err).Msg("illegal transaction state transition")
	return errUnknownServer
}

func (m *Machine) timerFired(e TimerFired) {
	if seq, ok := m.timers[e.Key]; !ok || seq != e.Seq {
		return // cancelled or re-armed since
	}
	delete(m.timers, e.Key)
	switch e.Key.Kind {
	case TimerAbortTimedOut:
		m.abortTimedOut()
		m.arm(TimerKey{Kind: TimerAbortTimedOut}, m.cfg.AbortTimedOutIntervalMs)
	case TimerExpireIDs:
		m.expireIDs()
		m.arm(TimerKey{Kind: TimerExpireIDs}, m.cfg.RemoveExpiredIntervalMs)
	case TimerRetryMarkers:
		if t := m.txns[e.Key.TxnID]; t != nil && t.markers != nil {
			m.sendMarkers(t.markers, t.markers.retry)
		}
	case TimerRetryComplete:
		if t := m.txns[e.Key.TxnID]; t != nil && t.markers != nil {
			m.writeCompletion(t.markers)
		}
	case TimerAnswerEnd:
		if t := m.txns[e.Key.TxnID]; t != nil {
			m.answerEnd(t.markers)
		}
	}
}
