package txn

// initProducerID is Kafka's handleInitProducerId for a transactional id.
func (m *Machine) initProducerID(ev *InitProducerID) {
	fail := func(code int16) {
		m.reply(ev.Req, InitResult{Err: code, ProducerID: noProducerID, ProducerEpoch: noProducerEpoch})
	}
	switch {
	case ev.TxnID == "":
		fail(errInvalidRequest)
		return
	case ev.TimeoutMs <= 0 || ev.TimeoutMs > m.cfg.MaxTimeoutMs:
		fail(errInvalidTimeout)
		return
	case (ev.ProducerID < 0) != (ev.ProducerEpoch < 0):
		fail(errInvalidRequest)
		return
	}
	t, epoch, code := m.lookup(ev.TxnID)
	if code != errNone {
		fail(code)
		return
	}
	if t != nil {
		m.initExisting(ev, t, epoch, fail)
		return
	}
	m.allocate(func(id int64, code int16) {
		if code != errNone {
			fail(code)
			return
		}
		t, epoch, code := m.lookup(ev.TxnID)
		if code != errNone {
			fail(code)
			return
		}
		if t == nil { // still unknown: create it (Kafka's putTransactionStateIfNotExists)
			t = newTxnMeta(ev.TxnID, m.partitionFor(ev.TxnID), id, ev.TimeoutMs, m.now)
			m.txns[ev.TxnID] = t
		}
		m.initExisting(ev, t, epoch, fail)
	})
}

// initExisting is Kafka's prepareInitProducerIdTransit and what follows it.
func (m *Machine) initExisting(ev *InitProducerID, t *txnMeta, epoch int32, fail func(int16)) {
	hasExpected := ev.ProducerID >= 0
	validProducer := t.epoch == noProducerEpoch || ev.ProducerID == t.producerID ||
		(ev.ProducerID == t.lastProducerID && epochExhausted(ev.ProducerEpoch))
	switch {
	case t.hasPending:
		fail(errConcurrent)
		return
	case hasExpected && !validProducer:
		fail(errProducerFenced)
		return
	}
	switch t.state {
	case PrepareAbort, PrepareCommit:
		fail(errConcurrent)
	case CompleteAbort, CompleteCommit, Empty:
		if epochExhausted(t.epoch) && (!hasExpected || ev.ProducerEpoch == t.epoch) {
			m.allocate(func(id int64, code int16) {
				switch {
				case code != errNone:
					fail(code)
					return
				case !m.current(t, epoch) || t.hasPending:
					fail(errConcurrent) // changed while the id was allocated: the client retries
					return
				}
				tr, err := t.prepareRotation(id, ev.TimeoutMs, m.now, hasExpected)
				if err != nil {
					fail(m.illegal(err))
					return
				}
				m.writeInit(ev, t, epoch, tr, fail)
			})
			return
		}
		tr, code, err := t.prepareIncrementEpoch(ev.TimeoutMs, ev.ProducerEpoch, hasExpected, m.now)
		switch {
		case err != nil:
			fail(m.illegal(err))
		case code != errNone:
			m.logger.Info().Str("transactional_id", t.id).Int16("epoch", ev.ProducerEpoch).Int16("current_epoch", t.epoch).
				Int16("last_epoch", t.lastEpoch).Msg("InitProducerId with a fenced epoch")
			fail(code)
		default:
			m.writeInit(ev, t, epoch, tr, fail)
		}
	case Ongoing:
		// Abort the ongoing transaction with a fenced epoch first; the client retries and
		// then gets the epoch after it (Kafka returns CONCURRENT_TRANSACTIONS meanwhile).
		tr, err := t.prepareFenceEpoch()
		if err != nil {
			fail(m.illegal(err))
			return
		}
		m.endTransaction(t.id, tr.producerID, tr.epoch, false, false, func(code int16) {
			if code == errNone {
				code = errConcurrent
			}
			fail(code)
		})
	default:
		fail(m.illegal(errIllegalTransition{"transactional id " + t.id + " in state " + t.state.String()}))
	}
}

func (m *Machine) writeInit(ev *InitProducerID, t *txnMeta, epoch int32, tr transit, fail func(int16)) {
	m.appendTransit(t, epoch, tr, false, func(code int16) {
		if code != errNone {
			fail(code)
			return
		}
		m.logger.Info().Str("transactional_id", t.id).Int64("producer_id", tr.producerID).Int16("epoch", tr.epoch).
			Int32("partition", t.partition).Msg("initialized transactional id")
		m.reply(ev.Req, InitResult{ProducerID: tr.producerID, ProducerEpoch: tr.epoch})
	})
}
