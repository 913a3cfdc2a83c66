package txn

import (
	"fmt"
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a transaction's state; String gives Kafka's names (DescribeTransactions and
// ListTransactions show them).
type State = kmsg.TransactionState

// The states of Kafka's TransactionState.
const (
	Empty             = kmsg.TransactionStateEmpty
	Ongoing           = kmsg.TransactionStateOngoing
	PrepareCommit     = kmsg.TransactionStatePrepareCommit
	PrepareAbort      = kmsg.TransactionStatePrepareAbort
	CompleteCommit    = kmsg.TransactionStateCompleteCommit
	CompleteAbort     = kmsg.TransactionStateCompleteAbort
	Dead              = kmsg.TransactionStateDead
	PrepareEpochFence = kmsg.TransactionStatePrepareEpochFence
)

// validPrevious is Kafka's TransactionState.validPreviousStates.
var validPrevious = map[State][]State{
	Empty:             {Empty, CompleteCommit, CompleteAbort},
	Ongoing:           {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:     {Ongoing},
	PrepareAbort:      {Ongoing, PrepareEpochFence},
	CompleteCommit:    {PrepareCommit},
	CompleteAbort:     {PrepareAbort},
	Dead:              {Empty, CompleteAbort, CompleteCommit},
	PrepareEpochFence: {Ongoing},
}

// expirationAllowed: the states from which an idle transactional id may expire.
func expirationAllowed(s State) bool {
	return s == Empty || s == CompleteCommit || s == CompleteAbort
}

// noProducerEpoch and noProducerID are RecordBatch.NO_PRODUCER_EPOCH and NO_PRODUCER_ID.
const (
	noProducerEpoch int16 = -1
	noProducerID    int64 = -1
)

// epochExhausted is Kafka's isEpochExhausted: a client never gets MaxInt16, so that the
// coordinator can always fence the producer once more.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// TopicPartition names a partition that takes part in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func sortPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		a, b := tps[i], tps[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
}

// txnMeta is one transactional id's state (Kafka's TransactionMetadata).
type txnMeta struct {
	id        string
	partition int32 // its __transaction_state partition

	producerID, lastProducerID int64
	epoch, lastEpoch           int16
	timeoutMs                  int32
	state                      State
	partitions                 map[TopicPartition]struct{}
	startTs                    int64 // when the transaction began (first partition added); -1 when none
	updateTs                   int64 // last state change

	// pending is the state a prepared change goes to (Kafka's pendingState); set from the
	// preparation until the change is written (or failed), and during marker writing.
	pending    State
	hasPending bool
	// failedFence: an epoch fence could not be written; the next fence reuses its epoch.
	failedFence bool
	// markers is the marker job in flight (PrepareCommit/PrepareAbort being completed).
	markers *markerJob
}

// transit is a prepared state change (Kafka's TxnTransitMetadata): what is written to the
// log and applied once written.
type transit struct {
	producerID, lastProducerID int64
	epoch, lastEpoch           int16
	timeoutMs                  int32
	state                      State
	partitions                 []TopicPartition // sorted
	startTs, updateTs          int64
}

func newTxnMeta(id string, partition int32, producerID int64, timeoutMs int32, now int64) *txnMeta {
	return &txnMeta{
		id: id, partition: partition,
		producerID: producerID, lastProducerID: noProducerID,
		epoch: noProducerEpoch, lastEpoch: noProducerEpoch,
		timeoutMs: timeoutMs, state: Empty,
		partitions: map[TopicPartition]struct{}{},
		startTs:    -1, updateTs: now,
	}
}

func (t *txnMeta) partitionList() []TopicPartition {
	out := make([]TopicPartition, 0, len(t.partitions))
	for tp := range t.partitions {
		out = append(out, tp)
	}
	sortPartitions(out)
	return out
}

func (t *txnMeta) pendingIs(s State) bool { return t.hasPending && t.pending == s }

// hasPendingTransaction: a transaction is open or being completed.
func (t *txnMeta) hasPendingTransaction() bool {
	return t.state == Ongoing || t.state == PrepareAbort || t.state == PrepareCommit
}

// errIllegalTransition is a state change Kafka treats as a bug (IllegalStateException).
type errIllegalTransition struct{ msg string }

func (e errIllegalTransition) Error() string { return e.msg }

// prepareTransition is Kafka's prepareTransitionTo: it checks the change and sets the
// pending state.
func (t *txnMeta) prepareTransition(to State, producerID int64, epoch, lastEpoch int16, timeoutMs int32,
	partitions []TopicPartition, startTs, updateTs int64) (transit, error) {
	if t.hasPending {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: preparing %s while %s is pending", t.id, to, t.pending)}
	}
	if producerID < 0 {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: illegal producer id %d", t.id, producerID)}
	}
	if to != Dead && epoch < 0 {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: illegal producer epoch %d", t.id, epoch)}
	}
	ok := false
	for _, s := range validPrevious[to] {
		ok = ok || s == t.state
	}
	if !ok {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: no transition from %s to %s", t.id, t.state, to)}
	}
	t.pending, t.hasPending = to, true
	return transit{
		producerID: producerID, lastProducerID: t.producerID,
		epoch: epoch, lastEpoch: lastEpoch, timeoutMs: timeoutMs, state: to,
		partitions: partitions, startTs: startTs, updateTs: updateTs,
	}, nil
}

// prepareFenceEpoch is Kafka's prepareFenceProducerEpoch: bump the epoch (unless a previous
// fence failed to be written) to abort an ongoing transaction.
func (t *txnMeta) prepareFenceEpoch() (transit, error) {
	if t.epoch == math.MaxInt16 {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: cannot fence epoch %d", t.id, t.epoch)}
	}
	epoch := t.epoch + 1
	if t.failedFence {
		epoch = t.epoch
	}
	return t.prepareTransition(PrepareEpochFence, t.producerID, epoch, noProducerEpoch, t.timeoutMs, t.partitionList(), t.startTs, t.updateTs)
}

// prepareIncrementEpoch is Kafka's prepareIncrementProducerEpoch; expected is the epoch the
// client gave (KIP-360), or -1 with hasExpected false. It returns PRODUCER_FENCED for an
// epoch that is neither the current nor the previous one.
func (t *txnMeta) prepareIncrementEpoch(timeoutMs int32, expected int16, hasExpected bool, now int64) (transit, int16, error) {
	if epochExhausted(t.epoch) {
		return transit{}, 0, errIllegalTransition{fmt.Sprintf("transactional id %q: producer %d has no epochs left", t.id, t.producerID)}
	}
	bumped := t.epoch + 1
	next, last := bumped, noProducerEpoch
	if hasExpected {
		switch {
		case t.epoch == noProducerEpoch || expected == t.epoch:
			next, last = bumped, t.epoch
		case expected == t.lastEpoch:
			next, last = t.epoch, t.lastEpoch // a retry of a bump whose answer was lost
		default:
			return transit{}, errProducerFenced, nil
		}
	}
	tr, err := t.prepareTransition(Empty, t.producerID, next, last, timeoutMs, nil, -1, now)
	return tr, 0, err
}

// prepareRotation is Kafka's prepareProducerIdRotation: a new producer id at epoch 0.
func (t *txnMeta) prepareRotation(producerID int64, timeoutMs int32, now int64, recordLastEpoch bool) (transit, error) {
	if t.hasPendingTransaction() {
		return transit{}, errIllegalTransition{fmt.Sprintf("transactional id %q: rotating the producer id during a transaction", t.id)}
	}
	last := noProducerEpoch
	if recordLastEpoch {
		last = t.epoch
	}
	return t.prepareTransition(Empty, producerID, 0, last, timeoutMs, nil, -1, now)
}

// prepareAddPartitions starts (or extends) the transaction.
func (t *txnMeta) prepareAddPartitions(add []TopicPartition, now int64) (transit, error) {
	start := t.startTs
	switch t.state {
	case Empty, CompleteAbort, CompleteCommit:
		start = now
	}
	all := make(map[TopicPartition]struct{}, len(t.partitions)+len(add))
	for tp := range t.partitions {
		all[tp] = struct{}{}
	}
	for _, tp := range add {
		all[tp] = struct{}{}
	}
	list := make([]TopicPartition, 0, len(all))
	for tp := range all {
		list = append(list, tp)
	}
	sortPartitions(list)
	return t.prepareTransition(Ongoing, t.producerID, t.epoch, t.lastEpoch, t.timeoutMs, list, start, now)
}

func (t *txnMeta) prepareAbortOrCommit(to State, now int64) (transit, error) {
	return t.prepareTransition(to, t.producerID, t.epoch, t.lastEpoch, t.timeoutMs, t.partitionList(), t.startTs, now)
}

// prepareComplete moves PrepareCommit/PrepareAbort on to CompleteCommit/CompleteAbort.
func (t *txnMeta) prepareComplete(now int64) (transit, error) {
	to := CompleteAbort
	if t.state == PrepareCommit {
		to = CompleteCommit
	}
	t.failedFence = false
	return t.prepareTransition(to, t.producerID, t.epoch, t.lastEpoch, t.timeoutMs, nil, t.startTs, now)
}

func (t *txnMeta) prepareDead() (transit, error) {
	return t.prepareTransition(Dead, t.producerID, t.epoch, t.lastEpoch, t.timeoutMs, nil, t.startTs, t.updateTs)
}

// completeTransition is Kafka's completeTransitionTo: it applies a change that was written.
func (t *txnMeta) completeTransition(tr transit) error {
	if !t.hasPending || t.pending != tr.state {
		return errIllegalTransition{fmt.Sprintf("transactional id %q: completing %s without it pending", t.id, tr.state)}
	}
	bad := func() error {
		return errIllegalTransition{fmt.Sprintf("transactional id %q: unexpected transition from %s (producer %d epoch %d) to %s (producer %d epoch %d)",
			t.id, t.state, t.producerID, t.epoch, tr.state, tr.producerID, tr.epoch)}
	}
	sameEpoch := tr.epoch == t.epoch && tr.producerID == t.producerID
	switch tr.state {
	case Empty:
		bump := tr.epoch == t.epoch+1 || (tr.epoch == 0 && tr.producerID != t.producerID)
		if (t.epoch != tr.epoch && !bump) || len(tr.partitions) > 0 || tr.startTs != -1 {
			return bad()
		}
		t.timeoutMs, t.epoch, t.lastEpoch = tr.timeoutMs, tr.epoch, tr.lastEpoch
		t.producerID, t.lastProducerID = tr.producerID, tr.lastProducerID
	case Ongoing:
		if !sameEpoch || t.timeoutMs != tr.timeoutMs {
			return bad()
		}
		t.startTs = tr.startTs
		for _, tp := range tr.partitions {
			t.partitions[tp] = struct{}{}
		}
	case PrepareAbort, PrepareCommit:
		if !sameEpoch || t.timeoutMs != tr.timeoutMs || t.startTs != tr.startTs || len(t.partitions) != len(tr.partitions) {
			return bad()
		}
	case CompleteAbort, CompleteCommit:
		if !sameEpoch || t.timeoutMs != tr.timeoutMs || tr.startTs == -1 {
			return bad()
		}
		t.startTs = tr.startTs
		clear(t.partitions)
	default: // PrepareEpochFence and Dead are never completed
		return bad()
	}
	t.updateTs = tr.updateTs
	t.hasPending = false
	t.state = tr.state
	return nil
}
