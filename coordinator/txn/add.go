package txn

import "kbroker/coordinator"

// OffsetsTopic is the group coordinator's topic, whose partitions AddOffsetsToTxn adds.
const OffsetsTopic = "__consumer_offsets"

// addPartitions is Kafka's handleAddPartitionsToTransaction.
func (m *Machine) addPartitions(ev *AddPartitions) {
	m.addToTxn(ev.Req, ev.TxnID, ev.ProducerID, ev.ProducerEpoch, ev.Partitions)
}

// addOffsets is Kafka's handleAddOffsetsToTxn: the group's __consumer_offsets partition
// joins the transaction, so that the markers reach the group coordinator.
func (m *Machine) addOffsets(ev *AddOffsets) {
	tp := TopicPartition{Topic: OffsetsTopic, Partition: coordinator.PartitionFor(ev.Group, m.cfg.OffsetsPartitions)}
	m.addToTxn(ev.Req, ev.TxnID, ev.ProducerID, ev.ProducerEpoch, []TopicPartition{tp})
}

func (m *Machine) addToTxn(req uint64, txnID string, producerID int64, epoch int16, partitions []TopicPartition) {
	fail := func(code int16) { m.reply(req, ErrResult{Err: code}) }
	if txnID == "" {
		fail(errInvalidRequest)
		return
	}
	t, cepoch, code := m.lookup(txnID)
	switch {
	case code != errNone:
		fail(code)
		return
	case t == nil || t.producerID != producerID:
		fail(errInvalidMapping)
		return
	case t.epoch != epoch:
		fail(errProducerFenced)
		return
	case t.hasPending, t.state == PrepareCommit, t.state == PrepareAbort:
		fail(errConcurrent)
		return
	}
	if t.state == Ongoing {
		all := true
		for _, tp := range partitions {
			_, in := t.partitions[tp]
			all = all && in
		}
		if all {
			fail(errNone) // already part of the transaction: nothing to write
			return
		}
	}
	tr, err := t.prepareAddPartitions(partitions, m.now)
	if err != nil {
		fail(m.illegal(err))
		return
	}
	m.appendTransit(t, cepoch, tr, false, fail)
}

// verifyPartitions is Kafka's handleVerifyPartitionsInTransaction (KIP-890): nothing is
// written; each partition is NONE when it is part of the ongoing transaction, else
// TRANSACTION_ABORTABLE.
func (m *Machine) verifyPartitions(ev *VerifyPartitions) {
	all := func(code int16) {
		errs := make([]int16, len(ev.Partitions))
		for i := range errs {
			errs[i] = code
		}
		m.reply(ev.Req, VerifyResult{Errs: errs})
	}
	if ev.TxnID == "" {
		all(errInvalidRequest)
		return
	}
	t, _, code := m.lookup(ev.TxnID)
	switch {
	case code != errNone:
		all(code)
		return
	case t == nil || t.producerID != ev.ProducerID:
		all(errInvalidMapping)
		return
	case t.epoch != ev.ProducerEpoch:
		all(errProducerFenced)
		return
	case t.state == PrepareCommit || t.state == PrepareAbort:
		all(errConcurrent)
		return
	}
	errs := make([]int16, len(ev.Partitions))
	for i, tp := range ev.Partitions {
		if _, in := t.partitions[tp]; !in {
			errs[i] = errTransactionAbortable
		}
	}
	m.reply(ev.Req, VerifyResult{Errs: errs})
}
