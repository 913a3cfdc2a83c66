package broker

// The transactional side of Produce (Kafka's ReplicaManager transaction verification,
// KIP-890 part 1): before a producer's first transactional batch in a partition, the
// partition's leader asks the transaction coordinator whether the partition was added to
// the transaction; a batch of a transaction that the coordinator does not know (a
// producer that skipped AddPartitionsToTxn, or a late write after the coordinator aborted
// the transaction) would otherwise open a transaction no marker ever closes, holding the
// last stable offset, and with it every read_committed consumer, forever.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator/txn"
	"kbroker/protocol"
)

// txnCheck is a partition's verification: the guard to append with, or the error to answer.
type txnCheck struct {
	guard uint64
	err   error
}

// transactionalBatch reports whether records start with a transactional magic-2 batch header
// (the attributes' bit 4), without parsing the rest. A magic 0/1 message set (Produce v0-2)
// is never transactional.
func transactionalBatch(records []byte) bool {
	return len(records) >= protocol.BatchHeaderSize && records[16] == 2 && records[22]&0x10 != 0
}

// checkTxnProduce runs the checks a produce with transactional batches needs, keyed by
// (topic index, partition index): nil when there are none. The error, when not nil, is for
// every partition.
func (s *Server) checkTxnProduce(rc *requestContext, req *kmsg.ProduceRequest) (map[[2]int]txnCheck, error) {
	type batch struct {
		i, j       int
		p          *partition
		guard      uint64
		pid        int64
		epoch      int16
		tp         txn.TopicPartition
		needVerify bool
	}
	var batches []batch
	pid := int64(-1)
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			rec := req.Topics[i].Partitions[j].Records
			if !transactionalBatch(rec) {
				continue
			}
			h, err := protocol.ParseBatchHeader(rec)
			if err != nil {
				continue // the validation answers it
			}
			if req.TransactionID == nil {
				return nil, fmt.Errorf("%w: transactional records without a transactional id", kerr.TransactionalIDAuthorizationFailed)
			}
			if pid >= 0 && h.ProducerID != pid {
				return nil, fmt.Errorf("%w: transactional records of more than one producer id", kerr.InvalidProducerIDMapping)
			}
			pid = h.ProducerID
			b := batch{i: i, j: j, pid: h.ProducerID, epoch: h.ProducerEpoch,
				tp: txn.TopicPartition{Topic: req.Topics[i].Topic, Partition: req.Topics[i].Partitions[j].Partition}}
			batches = append(batches, b)
		}
	}
	if len(batches) == 0 || !s.cfg.TransactionPartitionVerificationEnable {
		return nil, nil
	}
	var verify []txn.TopicPartition
	for k := range batches {
		b := &batches[k]
		p, ok := s.rm.get(b.tp.Topic, b.tp.Partition)
		if !ok || !p.isLeader.Load() {
			continue // producePartition answers it
		}
		b.p = p
		if b.guard = p.log.StartVerification(b.pid); b.guard != 0 {
			b.needVerify = true
			verify = append(verify, b.tp)
		}
	}
	var codes []int16
	if len(verify) > 0 {
		codes = s.verifyTxn(rc.ctx(), *req.TransactionID, pid, batches[0].epoch, verify)
	}
	out := make(map[[2]int]txnCheck, len(batches))
	n := 0
	for _, b := range batches {
		if b.p == nil {
			continue
		}
		c := txnCheck{guard: b.guard}
		if b.needVerify {
			if code := produceVerifyError(codes[n], rc.version()); code != 0 {
				c.err = fmt.Errorf("%w: partition %s-%d not verified as part of transaction %q (%s)",
					kerr.ErrorForCode(code), b.tp.Topic, b.tp.Partition, *req.TransactionID, kerr.ErrorForCode(codes[n]))
			}
			n++
		}
		out[[2]int{b.i, b.j}] = c
	}
	return out, nil
}

// verificationError is Kafka's AddPartitionsToTxnManager mapping of a coordinator's answer:
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH, and TRANSACTION_ABORTABLE is INVALID_TXN_STATE
// for clients that predate it (abortable false).
func verificationError(code int16, abortable bool) int16 {
	switch {
	case code == kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	case code == kerr.TransactionAbortable.Code && !abortable:
		return kerr.InvalidTxnState.Code
	}
	return code
}

// produceVerifyError is the error a produce answers for a verification (Kafka's
// postVerificationCallback): coordinator errors a producer would not retry become
// NOT_ENOUGH_REPLICAS, which it does. TRANSACTION_ABORTABLE is for produce v11+.
func produceVerifyError(code, version int16) int16 {
	code = verificationError(code, version >= 11)
	switch code {
	case kerr.ConcurrentTransactions.Code, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return kerr.NotEnoughReplicas.Code
	}
	return code
}
