package txn

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator"
	"kbroker/coordinator/driver/drivertest"
)

// memMarkers records marker writes and answers NONE for every partition.
type memMarkers struct {
	mu     sync.Mutex
	writes []WriteMarkers
}

func (w *memMarkers) WriteMarkers(_ context.Context, m WriteMarkers) (map[TopicPartition]int16, []TopicPartition) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, m)
	errs := map[TopicPartition]int16{}
	for _, tp := range m.Partitions {
		errs[tp] = 0
	}
	return errs, nil
}

func (w *memMarkers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes)
}

type seqIDs struct {
	mu   sync.Mutex
	next int64
}

func (s *seqIDs) NextID(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return s.next, nil
}

func startCoordinator(t *testing.T, l Log, w MarkerWriter, ids ProducerIDs) *Coordinator {
	t.Helper()
	cfg := testConfig()
	cfg.Partitions = 3
	c := New(cfg, l, w, ids, 0, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for p := int32(0); p < 3; p++ {
		select {
		case <-c.BecomeLeader(p, 1):
		case <-time.After(5 * time.Second):
			t.Fatalf("partition %d did not load", p)
		}
		if c.Status(p) != 0 {
			t.Fatalf("partition %d status %d after loading", p, c.Status(p))
		}
	}
	return c
}

func TestDriverEndToEnd(t *testing.T) {
	l, w, ids := drivertest.NewMemLog(), &memMarkers{}, &seqIDs{next: 41}
	c := startCoordinator(t, l, w, ids)
	ctx := context.Background()
	txnID := "tx"

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &txnID, 60000
	ir, err := c.InitProducerID(ctx, 4, init)
	if err != nil || ir.ErrorCode != 0 || ir.ProducerID != 42 || ir.ProducerEpoch != 0 {
		t.Fatalf("init: %+v %v", ir, err)
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = txnID, 42, 0
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "orders", []int32{0, 1}
	add.Topics = append(add.Topics, at)
	exists := func(topic string, p int32) bool { return topic == "orders" && p < 2 }
	ar, err := c.AddPartitionsToTxn(ctx, 3, add, exists)
	if err != nil || len(ar.Topics) != 1 || len(ar.Topics[0].Partitions) != 2 || ar.Topics[0].Partitions[1].ErrorCode != 0 {
		t.Fatalf("add: %+v %v", ar, err)
	}
	// A partition that does not exist fails the whole request.
	add.Topics[0].Partitions = []int32{1, 7}
	ar, _ = c.AddPartitionsToTxn(ctx, 3, add, exists)
	if ar.Topics[0].Partitions[0].ErrorCode != kerr.OperationNotAttempted.Code || ar.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("add with a missing partition: %+v", ar)
	}
	// v4 verification by a partition leader.
	v4 := kmsg.NewPtrAddPartitionsToTxnRequest()
	vt := kmsg.NewAddPartitionsToTxnRequestTransaction()
	vt.TransactionalID, vt.ProducerID, vt.ProducerEpoch, vt.VerifyOnly = txnID, 42, 0, true
	vtt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	vtt.Topic, vtt.Partitions = "orders", []int32{0}
	vt.Topics = append(vt.Topics, vtt)
	v4.Transactions = append(v4.Transactions, vt)
	vr, err := c.AddPartitionsToTxn(ctx, 4, v4, exists)
	if err != nil || len(vr.Transactions) != 1 || vr.Transactions[0].Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("verify: %+v %v", vr, err)
	}

	desc := kmsg.NewPtrDescribeTransactionsRequest()
	desc.TransactionalIDs = []string{txnID}
	dr, err := c.DescribeTransactions(ctx, desc)
	if err != nil || dr.TransactionStates[0].State != "Ongoing" || len(dr.TransactionStates[0].Topics[0].Partitions) != 2 {
		t.Fatalf("describe: %+v %v", dr, err)
	}

	endReq := kmsg.NewPtrEndTxnRequest()
	endReq.TransactionalID, endReq.ProducerID, endReq.ProducerEpoch, endReq.Commit = txnID, 42, 0, true
	er, err := c.EndTxn(ctx, 3, endReq)
	if err != nil || er.ErrorCode != 0 {
		t.Fatalf("end: %+v %v", er, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		dr, _ = c.DescribeTransactions(ctx, desc)
		if dr.TransactionStates[0].State == "CompleteCommit" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction not completed: %+v", dr.TransactionStates[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w.count() != 1 || !w.writes[0].Commit || w.writes[0].CoordinatorEpoch != 1 || len(w.writes[0].Partitions) != 2 {
		t.Fatalf("markers: %+v", w.writes)
	}

	// Ending again is idempotent; an old client gets INVALID_PRODUCER_EPOCH for a fenced epoch.
	if er, _ = c.EndTxn(ctx, 3, endReq); er.ErrorCode != 0 {
		t.Fatalf("second commit: %d", er.ErrorCode)
	}
	endReq.ProducerEpoch = 7
	if er, _ = c.EndTxn(ctx, 1, endReq); er.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("fenced end for v1: %d", er.ErrorCode)
	}

	// A second coordinator on the same log loads the state.
	c2 := startCoordinator(t, l, &memMarkers{}, ids)
	dr, _ = c2.DescribeTransactions(ctx, desc)
	if dr.TransactionStates[0].State != "CompleteCommit" || dr.TransactionStates[0].ProducerID != 42 {
		t.Fatalf("reloaded: %+v", dr.TransactionStates[0])
	}
	lr, err := c2.ListTransactions(ctx, 1, kmsg.NewPtrListTransactionsRequest())
	if err != nil || len(lr.TransactionStates) != 1 || lr.TransactionStates[0].TransactionalID != txnID {
		t.Fatalf("list: %+v %v", lr, err)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	tr := transit{producerID: 7, epoch: 3, timeoutMs: 1000, state: Ongoing,
		partitions: []TopicPartition{{"a", 0}, {"a", 2}, {"b", 1}}, startTs: 10, updateTs: 20}
	rec := transitRecord("id", tr)
	l := newLoader(4)
	if err := l.apply(rec.Key, rec.Value); err != nil {
		t.Fatal(err)
	}
	m := l.txns["id"]
	if m == nil || m.producerID != 7 || m.epoch != 3 || m.state != Ongoing || len(m.partitions) != 3 || m.startTs != 10 || m.updateTs != 20 || m.partition != 4 {
		t.Fatalf("loaded %+v", m)
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(rec.Value); err != nil || len(v.Topics) != 2 || v.Topics[0].Topic != "a" || len(v.Topics[0].Partitions) != 2 {
		t.Fatalf("value %+v %v", v, err)
	}
	ts := tombstone("id")
	if err := l.apply(ts.Key, ts.Value); err != nil || l.txns["id"] != nil {
		t.Fatalf("tombstone: %v %+v", err, l.txns)
	}
	// Keys of another version are skipped, values of an unknown version are an error.
	if err := l.apply([]byte{0, 5, 0, 0}, nil); err != nil || l.unknown != 1 {
		t.Fatalf("unknown key version: %v", err)
	}
	bad := append([]byte{0, 9}, rec.Value[2:]...)
	if err := l.apply(rec.Key, bad); err == nil {
		t.Fatal("a value of version 9 was accepted")
	}
	// Records travel in ordinary batches.
	ev, err := Load(0, 3, [][]byte{coordinator.BuildBatch([]coordinator.Record{rec}, 1)})
	if err != nil || ev.snap["id"] == nil || ev.Epoch != 3 {
		t.Fatalf("load: %+v %v", ev, err)
	}
}

// TestDriverReloadsAtNewerEpoch: a partition already loaded is loaded again when this
// broker leads it at a newer leader epoch (Kafka's onElection on every election), so that
// the markers of a transaction completed afterwards carry the new coordinator epoch; an
// older or equal epoch changes nothing, and Resign makes the ids unknown at once.
func TestDriverReloadsAtNewerEpoch(t *testing.T) {
	l, w, ids := drivertest.NewMemLog(), &memMarkers{}, &seqIDs{next: 41}
	c := startCoordinator(t, l, w, ids) // every partition at epoch 1
	ctx := context.Background()
	txnID := "tx"
	p := c.PartitionFor(txnID)

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &txnID, 60000
	if ir, err := c.InitProducerID(ctx, 4, init); err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init: %+v %v", ir, err)
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = txnID, 42, 0
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "orders", []int32{0}
	add.Topics = append(add.Topics, at)
	if ar, err := c.AddPartitionsToTxn(ctx, 3, add, func(string, int32) bool { return true }); err != nil || ar.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add: %+v %v", ar, err)
	}

	for _, epoch := range []int32{0, 1} {
		select {
		case <-c.BecomeLeader(p, epoch):
		case <-time.After(5 * time.Second):
			t.Fatalf("BecomeLeader at the loaded epoch or an older one (%d) did not return at once", epoch)
		}
	}
	select {
	case <-c.BecomeLeader(p, 4):
	case <-time.After(5 * time.Second):
		t.Fatal("the partition was not loaded again at epoch 4")
	}
	if c.Status(p) != 0 {
		t.Fatalf("status %d after the reload", c.Status(p))
	}
	endReq := kmsg.NewPtrEndTxnRequest()
	endReq.TransactionalID, endReq.ProducerID, endReq.ProducerEpoch, endReq.Commit = txnID, 42, 0, true
	if er, err := c.EndTxn(ctx, 3, endReq); err != nil || er.ErrorCode != 0 {
		t.Fatalf("end after the reload: %+v %v", er, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no marker written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	got := w.writes[0].CoordinatorEpoch
	w.mu.Unlock()
	if got != 4 {
		t.Fatalf("marker coordinator epoch %d, want 4 (the epoch of the reload)", got)
	}

	c.Resign(p)
	if code := c.Status(p); code != kerr.NotCoordinator.Code {
		t.Fatalf("status after Resign: %d, want NOT_COORDINATOR", code)
	}
}
