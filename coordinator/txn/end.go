package txn

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// markerJob is the completion of one transaction: its markers being written to the
// partitions left in its metadata, then its CompleteCommit/CompleteAbort record (Kafka's
// PendingCompleteTxn).
type markerJob struct {
	t           *txnMeta
	epoch       int32 // coordinator epoch
	commit      bool
	complete    transit // the prepared CompleteCommit/CompleteAbort
	producerID  int64
	producerEp  int16
	outstanding int              // WriteMarkers in flight
	retry       []TopicPartition // partitions to try again after the backoff
	// answer is the EndTxn answer held back until the completion is written (or
	// Config.EndTxnWaitMs passes): nil once given.
	answer func(code int16)
}

// endTxnRequest is Kafka's handleEndTransaction.
func (m *Machine) endTxnRequest(ev *EndTxn) {
	m.endTransaction(ev.TxnID, ev.ProducerID, ev.ProducerEpoch, ev.Commit, true, func(code int16) {
		m.reply(ev.Req, ErrResult{Err: code})
	})
}

// endTransaction is Kafka's endTransaction: from a client (EndTxn), or from the coordinator
// itself aborting with a fenced epoch (InitProducerId during a transaction, timeouts).
func (m *Machine) endTransaction(txnID string, producerID int64, epoch int16, commit, fromClient bool, done func(code int16)) {
	if txnID == "" {
		done(errInvalidRequest)
		return
	}
	t, cepoch, code := m.lookup(txnID)
	switch {
	case code != errNone:
		done(code)
		return
	case t == nil || t.producerID != producerID:
		done(errInvalidMapping)
		return
	case (fromClient && epoch != t.epoch) || epoch < t.epoch:
		done(errProducerFenced)
		return
	case t.hasPending && !t.pendingIs(PrepareEpochFence):
		done(errConcurrent)
		return
	}
	invalid := func() {
		m.logger.Debug().Str("transactional_id", txnID).Str("state", t.state.String()).Bool("commit", commit).Msg("EndTxn in a state that does not allow it")
		done(errInvalidTxnState)
	}
	switch t.state {
	case Ongoing:
		next := PrepareAbort
		if commit {
			next = PrepareCommit
		}
		fence := false
		if next == PrepareAbort && t.pendingIs(PrepareEpochFence) {
			// Clear the fence to make way for PrepareAbort, and take the bumped epoch.
			fence = true
			t.hasPending = false
			t.epoch = epoch
			t.lastEpoch = noProducerEpoch
		}
		tr, err := t.prepareAbortOrCommit(next, m.now)
		if err != nil {
			done(m.illegal(err))
			return
		}
		m.appendTransit(t, cepoch, tr, false, func(code int16) {
			if code != errNone {
				if fence && m.current(t, cepoch) {
					t.failedFence = true
					m.logger.Warn().Str("transactional_id", txnID).Int16("epoch", epoch).Int16("error", code).
						Msg("could not write an epoch fence; the epoch was bumped but not returned to the client")
				}
				done(code)
				return
			}
			m.afterPrepare(t, cepoch, producerID, epoch, commit, fromClient, done)
		})
	case CompleteCommit:
		if commit {
			done(errNone)
		} else {
			invalid()
		}
	case CompleteAbort:
		if !commit {
			done(errNone)
		} else {
			invalid()
		}
	case PrepareCommit:
		if commit {
			done(errConcurrent)
		} else {
			invalid()
		}
	case PrepareAbort:
		if !commit {
			done(errConcurrent)
		} else {
			invalid()
		}
	case Empty:
		invalid()
	default:
		done(m.illegal(errIllegalTransition{"transactional id " + txnID + " in state " + t.state.String()}))
	}
}

// afterPrepare runs once PrepareCommit/PrepareAbort is written: the markers go out (Kafka's
// sendTxnMarkersCallback) and the client is answered. Kafka answers at once; with
// Config.EndTxnWaitMs a client's answer waits, that long at most, for the completion
// record, so that its next transaction does not find this one still completing
// (CONCURRENT_TRANSACTIONS, which clients retry after 20 ms) and a read_committed consumer
// sees the transaction by the time the producer's commit returns. The answer is success
// either way: the transaction is decided once its prepare record is written.
func (m *Machine) afterPrepare(t *txnMeta, cepoch int32, producerID int64, epoch int16, commit, fromClient bool, done func(int16)) {
	switch {
	case !m.current(t, cepoch):
		done(errNotCoordinator)
		return
	case t.producerID != producerID:
		done(errInvalidMapping)
		return
	case t.epoch != epoch:
		done(errProducerFenced)
		return
	case t.hasPending:
		done(errConcurrent)
		return
	case (t.state == PrepareCommit) != commit || (t.state != PrepareCommit && t.state != PrepareAbort):
		done(errInvalidTxnState)
		return
	}
	tr, err := t.prepareComplete(m.now)
	if err != nil {
		done(m.illegal(err))
		return
	}
	m.startMarkers(t, cepoch, commit, tr)
	if job := t.markers; fromClient && m.cfg.EndTxnWaitMs > 0 && job != nil {
		job.answer = done
		m.arm(TimerKey{Kind: TimerAnswerEnd, TxnID: t.id}, m.cfg.EndTxnWaitMs)
		return
	}
	done(errNone)
}

// answerEnd gives a completion's held-back EndTxn answer, if any.
func (m *Machine) answerEnd(job *markerJob) {
	if job == nil || job.answer == nil {
		return
	}
	answer := job.answer
	job.answer = nil
	m.cancel(TimerKey{Kind: TimerAnswerEnd, TxnID: job.t.id})
	answer(errNone)
}

// startMarkers begins completing a transaction (Kafka's addTxnMarkersToSend).
func (m *Machine) startMarkers(t *txnMeta, cepoch int32, commit bool, complete transit) {
	job := &markerJob{t: t, epoch: cepoch, commit: commit, complete: complete, producerID: t.producerID, producerEp: t.epoch}
	if t.markers != nil {
		m.logger.Info().Str("transactional_id", t.id).Msg("replacing a pending transaction completion")
		m.answerEnd(t.markers)
	}
	t.markers = job
	m.cancel(TimerKey{Kind: TimerRetryMarkers, TxnID: t.id})
	m.cancel(TimerKey{Kind: TimerRetryComplete, TxnID: t.id})
	m.sendMarkers(job, t.partitionList())
}

// sendMarkers asks for the markers of partitions; with none left it writes the completion.
func (m *Machine) sendMarkers(job *markerJob, partitions []TopicPartition) {
	if job.t.markers != job {
		return
	}
	job.retry = nil
	if len(partitions) > 0 {
		m.seq++
		m.markerOps[m.seq] = job
		job.outstanding++
		m.out = append(m.out, WriteMarkers{
			Token: m.seq, TxnID: job.t.id, ProducerID: job.producerID, ProducerEpoch: job.producerEp,
			CoordinatorEpoch: job.epoch, Commit: job.commit, Partitions: partitions,
		})
	}
	m.maybeComplete(job)
}

// markersWritten is Kafka's TransactionMarkerRequestCompletionHandler.
func (m *Machine) markersWritten(job *markerJob, e MarkersWritten) {
	job.outstanding--
	t := job.t
	if t.markers != job || !m.current(t, job.epoch) {
		return // the partition moved or the completion was replaced: cancel
	}
	for _, tp := range e.Gone {
		// No leader known: the topic is most likely deleted, so its marker is skipped.
		m.logger.Info().Str("transactional_id", t.id).Str("topic", tp.Topic).Int32("partition", tp.Partition).
			Msg("no leader for a partition of the transaction; skipping its marker")
		delete(t.partitions, tp)
	}
	var retry []TopicPartition
	for tp, code := range e.Errs {
		switch code {
		case errNone, errUnsupportedForFormat, errUnsupportedVersion:
			delete(t.partitions, tp)
		case errInvalidProducerEpoch, errCoordinatorFenced:
			// A newer producer epoch or coordinator took over: this completion is moot.
			m.logger.Info().Str("transactional_id", t.id).Str("topic", tp.Topic).Int32("partition", tp.Partition).
				Int16("error", code).Msg("transaction marker refused; no more markers are sent")
			t.markers = nil
			m.answerEnd(job)
			return
		case errUnknownTopicPartition, kerr.NotLeaderForPartition.Code, kerr.NotEnoughReplicas.Code,
			kerr.NotEnoughReplicasAfterAppend.Code, kerr.RequestTimedOut.Code, kerr.KafkaStorageError.Code:
			retry = append(retry, tp)
		default:
			m.logger.Warn().Str("transactional_id", t.id).Str("topic", tp.Topic).Int32("partition", tp.Partition).
				Int16("error", code).Msg("unexpected error writing a transaction marker; retrying")
			retry = append(retry, tp)
		}
	}
	if len(retry) > 0 {
		sortPartitions(retry)
		job.retry = append(job.retry, retry...)
		key := TimerKey{Kind: TimerRetryMarkers, TxnID: t.id}
		if _, armed := m.timers[key]; !armed {
			m.arm(key, m.cfg.RetryBackoffMs)
		}
	}
	m.maybeComplete(job)
}

// maybeComplete writes the completion record once every marker is written.
func (m *Machine) maybeComplete(job *markerJob) {
	if job.t.markers == job && job.outstanding == 0 && len(job.retry) == 0 && len(job.t.partitions) == 0 {
		m.writeCompletion(job)
	}
}

// writeCompletion writes CompleteCommit/CompleteAbort (Kafka's tryAppendToLog), trying
// again after the backoff while the partition cannot take it.
func (m *Machine) writeCompletion(job *markerJob) {
	t := job.t
	if t.markers != job || !m.current(t, job.epoch) {
		return
	}
	m.appendTransit(t, job.epoch, job.complete, true, func(code int16) {
		if t.markers != job {
			return
		}
		switch code {
		case errNone:
			t.markers = nil
			m.answerEnd(job)
			m.logger.Info().Str("transactional_id", t.id).Int64("producer_id", t.producerID).Int16("epoch", t.epoch).
				Str("state", t.state.String()).Msg("transaction completed")
		case errNotAvailable:
			if m.current(t, job.epoch) {
				m.arm(TimerKey{Kind: TimerRetryComplete, TxnID: t.id}, m.cfg.RetryBackoffMs)
			}
		default:
			t.markers = nil
			m.answerEnd(job)
		}
	})
}
