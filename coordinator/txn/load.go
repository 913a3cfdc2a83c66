package txn

import "sort"

// loaded installs the transactional ids read from a partition and completes the
// transactions it finds in PrepareCommit or PrepareAbort (Kafka's
// loadTransactionsForTxnTopicPartition).
func (m *Machine) loaded(e PartitionLoaded) {
	ps := m.parts[e.Partition]
	if ps == nil || ps.status != partLoading || ps.epoch != e.Epoch {
		return // unloaded (or reloaded at another epoch) while loading
	}
	// Anything left from an earlier time as leader is replaced.
	m.forget(e.Partition)
	ps.status = partActive
	var pending []*txnMeta
	for id, t := range e.snap {
		t.partition = e.Partition
		m.txns[id] = t
		if t.state == PrepareCommit || t.state == PrepareAbort {
			pending = append(pending, t)
		}
	}
	m.logger.Info().Int32("partition", e.Partition).Int32("coordinator_epoch", e.Epoch).Int("transactional_ids", len(e.snap)).
		Int("completing", len(pending)).Msg("loaded transaction metadata")
	sortByID(pending)
	for _, t := range pending {
		tr, err := t.prepareComplete(m.now)
		if err != nil {
			m.illegal(err)
			continue
		}
		m.logger.Info().Str("transactional_id", t.id).Str("state", t.state.String()).Msg("completing a transaction found while loading")
		m.startMarkers(t, e.Epoch, t.state == PrepareCommit, tr)
	}
	if _, armed := m.timers[TimerKey{Kind: TimerAbortTimedOut}]; !armed && m.cfg.AbortTimedOutIntervalMs > 0 {
		m.arm(TimerKey{Kind: TimerAbortTimedOut}, m.cfg.AbortTimedOutIntervalMs)
	}
	if _, armed := m.timers[TimerKey{Kind: TimerExpireIDs}]; !armed && m.cfg.RemoveExpiredIntervalMs > 0 {
		m.arm(TimerKey{Kind: TimerExpireIDs}, m.cfg.RemoveExpiredIntervalMs)
	}
}

// unload forgets the transactional ids of a partition this broker no longer leads; their
// pending markers are cancelled (the new leader completes them).
func (m *Machine) unload(p int32) {
	delete(m.parts, p)
	m.forget(p)
	m.logger.Info().Int32("partition", p).Msg("unloaded transaction metadata")
}

func (m *Machine) forget(p int32) {
	for id, t := range m.txns {
		if t.partition != p {
			continue
		}
		m.answerEnd(t.markers) // the transaction is decided: the new leader completes it
		t.markers = nil
		m.cancel(TimerKey{Kind: TimerRetryMarkers, TxnID: id})
		m.cancel(TimerKey{Kind: TimerRetryComplete, TxnID: id})
		delete(m.txns, id)
	}
}

func sortByID(ts []*txnMeta) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
}
