package txn

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The request methods below translate kmsg requests (of the given version) into machine
// events and the answers back into kmsg responses. An error means the caller's context
// ended or the coordinator stopped: no answer is to be sent.

// oldFenced is what clients that predate PRODUCER_FENCED get instead (KIP-588).
func oldFenced(code int16, old bool) int16 {
	if old && code == errProducerFenced {
		return errInvalidProducerEpoch
	}
	return code
}

// InitProducerID answers an InitProducerId request (v0-5) that has a transactional id.
func (c *Coordinator) InitProducerID(ctx context.Context, version int16, req *kmsg.InitProducerIDRequest) (*kmsg.InitProducerIDResponse, error) {
	ev := &InitProducerID{TxnID: *req.TransactionalID, TimeoutMs: req.TransactionTimeoutMillis, ProducerID: -1, ProducerEpoch: -1}
	if version >= 3 {
		ev.ProducerID, ev.ProducerEpoch = req.ProducerID, req.ProducerEpoch
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(InitResult)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ErrorCode = oldFenced(res.Err, version < 4)
	resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.ProducerEpoch
	return resp, nil
}

// AddPartitionsToTxn answers an AddPartitionsToTxn request: v0-3 from producers (one
// transaction), v4 from brokers (a batch of transactions, each added or only verified,
// KIP-890). exists tells whether a partition exists; a transaction naming one that does
// not gets UNKNOWN_TOPIC_OR_PARTITION for it and OPERATION_NOT_ATTEMPTED for the others.
func (c *Coordinator) AddPartitionsToTxn(ctx context.Context, version int16, req *kmsg.AddPartitionsToTxnRequest, exists func(topic string, partition int32) bool) (*kmsg.AddPartitionsToTxnResponse, error) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if version < 4 {
		var parts []TopicPartition
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, TopicPartition{t.Topic, p})
			}
		}
		codes, err := c.addOrVerify(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, parts, exists)
		if err != nil {
			return nil, err
		}
		for i, code := range codes {
			codes[i] = oldFenced(code, version < 2)
		}
		for _, rt := range partitionResults(parts, codes) {
			t := kmsg.NewAddPartitionsToTxnResponseTopic()
			t.Topic = rt.topic
			for j, p := range rt.partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, rt.codes[j]
				t.Partitions = append(t.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	}
	for _, tx := range req.Transactions {
		var parts []TopicPartition
		for _, t := range tx.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, TopicPartition{t.Topic, p})
			}
		}
		codes, err := c.addOrVerify(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, parts, exists)
		if err != nil {
			return nil, err
		}
		rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtx.TransactionalID = tx.TransactionalID
		for _, rt := range partitionResults(parts, codes) {
			t := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			t.Topic = rt.topic
			for j, p := range rt.partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, rt.codes[j]
				t.Partitions = append(t.Partitions, rp)
			}
			rtx.Topics = append(rtx.Topics, t)
		}
		resp.Transactions = append(resp.Transactions, rtx)
	}
	return resp, nil
}

type topicResult struct {
	topic      string
	partitions []int32
	codes      []int16
}

// partitionResults groups per-partition codes by topic, in request order.
func partitionResults(parts []TopicPartition, codes []int16) []topicResult {
	var out []topicResult
	idx := map[string]int{}
	for i, tp := range parts {
		j, ok := idx[tp.Topic]
		if !ok {
			j = len(out)
			idx[tp.Topic] = j
			out = append(out, topicResult{topic: tp.Topic})
		}
		out[j].partitions = append(out[j].partitions, tp.Partition)
		out[j].codes = append(out[j].codes, codes[i])
	}
	return out
}

// addOrVerify runs one transaction of an AddPartitionsToTxn and returns a code per partition.
func (c *Coordinator) addOrVerify(ctx context.Context, txnID string, pid int64, epoch int16, verifyOnly bool, parts []TopicPartition, exists func(string, int32) bool) ([]int16, error) {
	codes := make([]int16, len(parts))
	missing := false
	for i, tp := range parts {
		if !exists(tp.Topic, tp.Partition) {
			codes[i], missing = errUnknownTopicPartition, true
		}
	}
	if missing {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = kerr.OperationNotAttempted.Code
			}
		}
		return codes, nil
	}
	if verifyOnly {
		ev := &VerifyPartitions{TxnID: txnID, ProducerID: pid, ProducerEpoch: epoch, Partitions: parts}
		r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
		if err != nil {
			return nil, err
		}
		return r.(VerifyResult).Errs, nil
	}
	ev := &AddPartitions{TxnID: txnID, ProducerID: pid, ProducerEpoch: epoch, Partitions: parts}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	for i := range codes {
		codes[i] = r.(ErrResult).Err
	}
	return codes, nil
}

// Verify asks whether partitions are part of the producer's ongoing transaction (the
// partition leader's check before a transactional produce, KIP-890), when this broker is
// the transaction coordinator. One code per partition.
func (c *Coordinator) Verify(ctx context.Context, txnID string, pid int64, epoch int16, parts []TopicPartition) ([]int16, error) {
	ev := &VerifyPartitions{TxnID: txnID, ProducerID: pid, ProducerEpoch: epoch, Partitions: parts}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	return r.(VerifyResult).Errs, nil
}

// AddOffsetsToTxn answers an AddOffsetsToTxn request (v0-4).
func (c *Coordinator) AddOffsetsToTxn(ctx context.Context, version int16, req *kmsg.AddOffsetsToTxnRequest) (*kmsg.AddOffsetsToTxnResponse, error) {
	ev := &AddOffsets{TxnID: req.TransactionalID, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Group: req.Group}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.ErrorCode = oldFenced(r.(ErrResult).Err, version < 2)
	return resp, nil
}

// EndTxn answers an EndTxn request (v0-4).
func (c *Coordinator) EndTxn(ctx context.Context, version int16, req *kmsg.EndTxnRequest) (*kmsg.EndTxnResponse, error) {
	ev := &EndTxn{TxnID: req.TransactionalID, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Commit: req.Commit}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode = oldFenced(r.(ErrResult).Err, version < 2)
	return resp, nil
}

// DescribeTransactions answers a DescribeTransactions request (v0).
func (c *Coordinator) DescribeTransactions(ctx context.Context, req *kmsg.DescribeTransactionsRequest) (*kmsg.DescribeTransactionsResponse, error) {
	ev := &DescribeTxns{TxnIDs: req.TransactionalIDs}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, d := range r.(DescribeResult).Txns {
		rs := kmsg.NewDescribeTransactionsResponseTransactionState()
		rs.TransactionalID, rs.ErrorCode = d.TxnID, d.Err
		if d.Err == 0 {
			rs.State, rs.TimeoutMillis, rs.StartTimestamp = d.State, d.TimeoutMs, d.StartTs
			rs.ProducerID, rs.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			for _, rt := range partitionResults(d.Partitions, make([]int16, len(d.Partitions))) {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic, t.Partitions = rt.topic, rt.partitions
				rs.Topics = append(rs.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, rs)
	}
	return resp, nil
}

// ListTransactions answers a ListTransactions request (v0-1).
func (c *Coordinator) ListTransactions(ctx context.Context, version int16, req *kmsg.ListTransactionsRequest) (*kmsg.ListTransactionsResponse, error) {
	ev := &ListTxns{States: req.StateFilters, ProducerIDs: req.ProducerIDFilters, DurationMs: -1}
	if version >= 1 {
		ev.DurationMs = req.DurationFilterMillis
	}
	r, err := c.call(ctx, ev, func(id uint64) { ev.Req = id })
	if err != nil {
		return nil, err
	}
	res := r.(ListResult)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.ErrorCode = res.Err
	resp.UnknownStateFilters = res.UnknownStates
	for _, t := range res.Txns {
		rs := kmsg.NewListTransactionsResponseTransactionState()
		rs.TransactionalID, rs.ProducerID, rs.TransactionState = t.TxnID, t.ProducerID, t.State
		resp.TransactionStates = append(resp.TransactionStates, rs)
	}
	return resp, nil
}
