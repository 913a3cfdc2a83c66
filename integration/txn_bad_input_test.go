package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnBatch is buildBatch with the transactional attribute.
func txnBatch(id producerIdent, values ...string) []byte {
	return txnBatchAt(id, time.Now().UnixMilli(), values...)
}

// rawTxn is a transactional producer spoken to with raw requests.
type rawTxn struct {
	t     *testing.T
	rc    *rawConn
	id    string
	pid   int64
	epoch int16
	seq   int32
}

// initRawTxn finds the coordinator (creating __transaction_state) and gets a producer id.
func initRawTxn(t *testing.T, b *Broker, id string) *rawTxn {
	t.Helper()
	rc := dialRaw(t, b)
	eventually(t, 30*time.Second, func() error {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKeys = 1, []string{id}
		r := rc.roundTrip(fc, 4).(*kmsg.FindCoordinatorResponse)
		if code := r.Coordinators[0].ErrorCode; code != 0 {
			return kerr.ErrorForCode(code)
		}
		return nil
	})
	x := &rawTxn{t: t, rc: rc, id: id}
	eventually(t, 30*time.Second, func() error {
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = &id, 60000
		r := rc.roundTrip(init, 4).(*kmsg.InitProducerIDResponse)
		if r.ErrorCode != 0 {
			return kerr.ErrorForCode(r.ErrorCode)
		}
		x.pid, x.epoch = r.ProducerID, r.ProducerEpoch
		return nil
	})
	return x
}

func (x *rawTxn) addPartitions(version int16, epoch int16, topic string, partitions ...int32) int16 {
	x.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = x.id, x.pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = append(req.Topics, rt)
	r := x.rc.roundTrip(req, version).(*kmsg.AddPartitionsToTxnResponse)
	return r.Topics[0].Partitions[0].ErrorCode
}

func (x *rawTxn) produce(version int16, topic string, partition int32, values ...string) kmsg.ProduceResponseTopicPartition {
	x.t.Helper()
	req := produceRequest(topic, partition, -1, txnBatch(producerIdent{x.pid, x.epoch, x.seq}, values...))
	req.TransactionID = &x.id
	p := producePartition(x.t, x.rc.roundTrip(req, version))
	if p.ErrorCode == 0 {
		x.seq += int32(len(values))
	}
	return p
}

func (x *rawTxn) end(commit bool) int16 {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.pid, x.epoch, commit
	return x.rc.roundTrip(req, 3).(*kmsg.EndTxnResponse).ErrorCode
}

// TestTxnBadInput: the requests a confused or zombie producer sends get Kafka's error codes
// and write nothing.
func TestTxnBadInput(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic = "txn-bad"
	createTopic(t, adm, topic, 2, nil)
	wantEnd := func(t *testing.T, want int64) {
		t.Helper()
		if e := endOffsets(t, adm, topic); e[0] != want || e[1] != 0 {
			t.Fatalf("end offsets %v, want %d and 0: something was written", e, want)
		}
	}

	t.Run("EndTxn without a transaction", func(t *testing.T) {
		x := initRawTxn(t, b, "bad-end")
		if code := x.end(true); code != kerr.InvalidTxnState.Code {
			t.Fatalf("EndTxn commit: %s, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
		}
		if code := x.end(false); code != kerr.InvalidTxnState.Code {
			t.Fatalf("EndTxn abort: %s, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
		}
		wantEnd(t, 0)
	})

	t.Run("AddPartitionsToTxn from a fenced epoch", func(t *testing.T) {
		old := initRawTxn(t, b, "bad-fenced")
		fresh := initRawTxn(t, b, "bad-fenced")
		if fresh.epoch != old.epoch+1 || fresh.pid != old.pid {
			t.Fatalf("second InitProducerId: producer %d epoch %d after %d/%d", fresh.pid, fresh.epoch, old.pid, old.epoch)
		}
		if code := old.addPartitions(3, old.epoch, topic, 0); code != kerr.ProducerFenced.Code {
			t.Fatalf("v3: %s, want PRODUCER_FENCED", kerr.ErrorForCode(code))
		}
		if code := old.addPartitions(1, old.epoch, topic, 0); code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("v1: %s, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
		}
		// Nothing was added: the fenced producer's write is refused too (the coordinator's
		// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH in a produce answer).
		if p := old.produce(10, topic, 0, "zombie"); p.ErrorCode != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("fenced produce: %s", kerr.ErrorForCode(p.ErrorCode))
		}
		wantEnd(t, 0)
		// An unknown partition fails the whole request.
		if code := fresh.addPartitions(3, fresh.epoch, "no-such-topic", 0); code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("unknown topic: %s", kerr.ErrorForCode(code))
		}
	})

	t.Run("transactional produce to a partition not added", func(t *testing.T) {
		x := initRawTxn(t, b, "bad-produce")
		if code := x.addPartitions(3, x.epoch, topic, 1); code != 0 {
			t.Fatalf("AddPartitionsToTxn: %s", kerr.ErrorForCode(code))
		}
		if p := x.produce(10, topic, 0, "stray"); p.ErrorCode != kerr.InvalidTxnState.Code {
			t.Fatalf("produce v10: %s, want INVALID_TXN_STATE", kerr.ErrorForCode(p.ErrorCode))
		}
		if p := x.produce(11, topic, 0, "stray"); p.ErrorCode != kerr.TransactionAbortable.Code {
			t.Fatalf("produce v11: %s, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(p.ErrorCode))
		}
		wantEnd(t, 0)
		// Without a transactional id a transactional batch is refused outright.
		req := produceRequest(topic, 0, -1, txnBatch(producerIdent{x.pid, x.epoch, 0}, "anon"))
		if p := producePartition(t, x.rc.roundTrip(req, 9)); p.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("no transactional id: %s", kerr.ErrorForCode(p.ErrorCode))
		}
		wantEnd(t, 0)
		if code := x.end(false); code != 0 {
			t.Fatalf("abort: %s", kerr.ErrorForCode(code))
		}
	})

	t.Run("TxnOffsetCommit for an unknown group", func(t *testing.T) {
		x := initRawTxn(t, b, "bad-offsets")
		commit := func(version int16, member string, generation int32) int16 {
			req := kmsg.NewPtrTxnOffsetCommitRequest()
			req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = x.id, "no-such-group", x.pid, x.epoch
			req.MemberID, req.Generation = member, generation
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = 0, 5
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			var code int16
			eventually(t, 30*time.Second, func() error { // the group coordinator may still be loading
				code = x.rc.roundTrip(req, version).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
				if code == kerr.CoordinatorLoadInProgress.Code || code == kerr.NotCoordinator.Code || code == kerr.CoordinatorNotAvailable.Code {
					return kerr.ErrorForCode(code)
				}
				return nil
			})
			return code
		}
		// Find the group coordinator first (creates __consumer_offsets).
		eventually(t, 30*time.Second, func() error {
			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKeys = []string{"no-such-group"}
			if code := x.rc.roundTrip(fc, 4).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode; code != 0 {
				return kerr.ErrorForCode(code)
			}
			return nil
		})
		// Its offsets partition was never added to the transaction (no AddOffsetsToTxn).
		if code := commit(3, "", -1); code != kerr.InvalidTxnState.Code {
			t.Fatalf("without AddOffsetsToTxn: %s, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
		}
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = x.id, x.pid, x.epoch, "no-such-group"
		if code := x.rc.roundTrip(ao, 3).(*kmsg.AddOffsetsToTxnResponse).ErrorCode; code != 0 {
			t.Fatalf("AddOffsetsToTxn: %s", kerr.ErrorForCode(code))
		}
		// A member of a group that does not exist (KIP-447 fields).
		if code := commit(3, "member-1", 4); code != kerr.UnknownMemberID.Code {
			t.Fatalf("unknown group with a member id: %s, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
		}
		if code := x.end(true); code != 0 {
			t.Fatalf("commit: %s", kerr.ErrorForCode(code))
		}
		ctx := testCtx(t, 15*time.Second)
		offs, err := adm.FetchOffsets(ctx, "no-such-group")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup(topic, 0); ok && o.At >= 0 {
			t.Fatalf("an offset was committed: %+v", o)
		}
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := groups["no-such-group"]; ok {
			t.Fatal("the refused commit created the group")
		}
	})

	t.Run("InitProducerId timeout above transaction.max.timeout.ms", func(t *testing.T) {
		rc := dialRaw(t, b)
		id := "bad-timeout"
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = &id, 900001
		var code int16
		eventually(t, 30*time.Second, func() error {
			code = rc.roundTrip(init, 4).(*kmsg.InitProducerIDResponse).ErrorCode
			if code == kerr.CoordinatorLoadInProgress.Code {
				return kerr.ErrorForCode(code)
			}
			return nil
		})
		if code != kerr.InvalidTransactionTimeout.Code {
			t.Fatalf("%s, want INVALID_TRANSACTION_TIMEOUT", kerr.ErrorForCode(code))
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKeys = 1, []string{""}
		if code := rc.roundTrip(fc, 4).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode; code != kerr.InvalidRequest.Code {
			t.Fatalf("FindCoordinator with an empty transactional id: %s", kerr.ErrorForCode(code))
		}
	})
}
