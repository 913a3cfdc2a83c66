package txn

import (
	"sort"

	"kbroker/coordinator"
)

// describe is Kafka's handleDescribeTransactions.
func (m *Machine) describe(ev *DescribeTxns) {
	res := DescribeResult{Txns: make([]TxnDescription, 0, len(ev.TxnIDs))}
	for _, id := range ev.TxnIDs {
		d := TxnDescription{TxnID: id, ProducerID: noProducerID, ProducerEpoch: noProducerEpoch, StartTs: -1}
		if id == "" {
			d.Err = errInvalidRequest
			res.Txns = append(res.Txns, d)
			continue
		}
		t, _, code := m.lookup(id)
		switch {
		case code != errNone:
			d.Err = code
		case t == nil || t.state == Dead:
			d.Err = errTxnIDNotFound
		default:
			d.State = t.state.String()
			d.TimeoutMs = t.timeoutMs
			d.StartTs = t.startTs
			d.ProducerID = t.producerID
			d.ProducerEpoch = t.epoch
			d.Partitions = t.partitionList()
		}
		res.Txns = append(res.Txns, d)
	}
	m.reply(ev.Req, res)
}

// list is Kafka's listTransactionStates.
func (m *Machine) list(ev *ListTxns) {
	for _, ps := range m.parts {
		if ps.status == partLoading {
			m.reply(ev.Req, ListResult{Err: errLoading})
			return
		}
	}
	var res ListResult
	states := map[State]bool{}
	for _, name := range ev.States {
		found := false
		for s := Empty; s <= PrepareEpochFence; s++ {
			if s.String() == name {
				states[s], found = true, true
			}
		}
		if !found {
			res.UnknownStates = append(res.UnknownStates, name)
		}
	}
	pids := map[int64]bool{}
	for _, p := range ev.ProducerIDs {
		pids[p] = true
	}
	for _, t := range m.txns {
		switch {
		case t.state == Dead,
			len(pids) > 0 && !pids[t.producerID],
			len(ev.States) > 0 && !states[t.state],
			ev.DurationMs >= 0 && m.now-t.startTs <= ev.DurationMs:
			continue
		}
		res.Txns = append(res.Txns, TxnListing{TxnID: t.id, ProducerID: t.producerID, State: t.state.String()})
	}
	sort.Slice(res.Txns, func(i, j int) bool { return res.Txns[i].TxnID < res.Txns[j].TxnID })
	m.reply(ev.Req, res)
}

// sortedIDs lists the loaded transactional ids in order, so that sweeps are deterministic.
func (m *Machine) sortedIDs() []string {
	ids := make([]string, 0, len(m.txns))
	for id := range m.txns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// abortTimedOut is Kafka's abortTimedOutTransactions: an Ongoing transaction older than its
// timeout is aborted with a fenced epoch, so its producer cannot go on with it.
func (m *Machine) abortTimedOut() {
	for _, id := range m.sortedIDs() {
		t := m.txns[id]
		if t.hasPending || t.state != Ongoing || t.startTs+int64(t.timeoutMs) >= m.now {
			continue
		}
		if ps := m.parts[t.partition]; ps == nil || ps.status != partActive {
			continue
		}
		tr, err := t.prepareFenceEpoch()
		if err != nil {
			m.illegal(err)
			continue
		}
		m.logger.Info().Str("transactional_id", id).Int64("producer_id", t.producerID).Int16("epoch", t.epoch).
			Int32("timeout_ms", t.timeoutMs).Msg("aborting a transaction past its timeout")
		m.endTransaction(id, tr.producerID, tr.epoch, false, false, func(code int16) {
			switch code {
			case errNone:
				m.logger.Info().Str("transactional_id", id).Msg("rolled back a timed-out transaction")
			case errInvalidMapping, errProducerFenced, errConcurrent:
				m.logger.Debug().Str("transactional_id", id).Int16("error", code).Msg("rollback of a timed-out transaction cancelled")
			default:
				m.logger.Warn().Str("transactional_id", id).Int16("error", code).Msg("rollback of a timed-out transaction failed")
			}
		})
	}
}

// expireIDs is Kafka's removeExpiredTransactionalIds: ids idle (Empty or complete) for
// transactional.id.expiration.ms get a tombstone and are forgotten once it is written.
func (m *Machine) expireIDs() {
	byPartition := map[int32][]*txnMeta{}
	for _, id := range m.sortedIDs() {
		t := m.txns[id]
		if t.hasPending || !expirationAllowed(t.state) || t.updateTs > m.now-m.cfg.IDExpirationMs {
			continue
		}
		if ps := m.parts[t.partition]; ps == nil || ps.status != partActive {
			continue
		}
		if _, err := t.prepareDead(); err != nil {
			m.illegal(err)
			continue
		}
		byPartition[t.partition] = append(byPartition[t.partition], t)
	}
	parts := make([]int32, 0, len(byPartition))
	for p := range byPartition {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		expired := byPartition[p]
		epoch := m.parts[p].epoch
		records := make([]coordinator.Record, len(expired))
		for i, t := range expired {
			records[i] = tombstone(t.id)
		}
		m.seq++
		m.appends[m.seq] = func(code int16) {
			for _, t := range expired {
				if !t.pendingIs(Dead) {
					continue
				}
				t.hasPending = false
				if code == errNone && m.current(t, epoch) {
					delete(m.txns, t.id)
					m.logger.Info().Str("transactional_id", t.id).Msg("expired transactional id")
				} else if code != errNone {
					m.logger.Warn().Str("transactional_id", t.id).Int16("error", code).Msg("writing the tombstone of an expired transactional id failed")
				}
			}
		}
		m.out = append(m.out, Append{Token: m.seq, Partition: p, Records: records})
	}
}
