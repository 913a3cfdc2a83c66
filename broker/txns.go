package broker

// Glue between the broker and the transaction coordinator (package coordinator/txn):
//
//   - its Log is an internalLog over __transaction_state (created on first use: internal,
//     compacted, transaction.state.log.* settings), loaded when this broker leads a
//     partition of it (LeaderAndIsr, or at start and on first use on a single node);
//   - its MarkerWriter sends WriteTxnMarkers to each partition's leader (this broker's own
//     partitions are written in-process, the others through peers);
//   - producer ids come from the blocks of producer_ids.go (/latest_producer_id_block);
//   - the partition leaders' check before a producer's first transactional batch (KIP-890)
//     asks the coordinator of the transactional id, in-process or with AddPartitionsToTxn
//     v4 (verifyTxn).

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator/txn"
	"kbroker/log"
)

const txnTopic = "__transaction_state"

// writeTxnMarkersVersion is what this broker sends (and Kafka 3.9 brokers send).
const writeTxnMarkersVersion = 1

// endTxnWaitMs bounds how long an EndTxn answer waits for the transaction's markers and
// completion record (txn.Config.EndTxnWaitMs): a producer's next transaction then starts
// without meeting CONCURRENT_TRANSACTIONS, and its commit returns once the transaction is
// visible to read_committed consumers. Kafka answers as soon as the prepare record is
// written; the answer is the same either way.
const endTxnWaitMs = 100

// startTxns builds the transaction coordinator, starts its driver and loads the
// __transaction_state partitions this broker leads.
func (s *Server) startTxns() {
	partitions := s.cfg.TransactionStateLogNumPartitions
	t, exists := s.cache.topic(txnTopic)
	if exists && len(t.partitions) > 0 {
		partitions = int32(len(t.partitions)) // the existing topic's count, as Kafka reads it
	}
	offsetsPartitions := s.groups.Partitions()
	cfg := txn.Config{
		Partitions:              partitions,
		OffsetsPartitions:       offsetsPartitions,
		MaxTimeoutMs:            int32(s.cfg.TransactionMaxTimeoutMs),
		IDExpirationMs:          int64(s.cfg.TransactionalIDExpirationMs),
		AbortTimedOutIntervalMs: int64(s.cfg.TransactionAbortTimedOutTransactionCleanupIntervalMs),
		RemoveExpiredIntervalMs: int64(s.cfg.TransactionRemoveExpiredTransactionCleanupIntervalMs),
		EndTxnWaitMs:            endTxnWaitMs,
	}
	s.peers = newPeers(s)
	l := internalLog{s: s, topic: txnTopic, timeout: time.Duration(s.cfg.RequestTimeoutMs) * time.Millisecond}
	s.txns = txn.New(cfg, l, markerWriter{s}, s.pids, s.cfg.TransactionStateLogLoadBufferSize,
		s.logger.With().Str("component", "txn-coordinator").Logger())
	s.goroutine(func() { s.txns.Run(s.ctx) })
	if exists {
		s.loadTxnPartitions(t)
	}
	s.goroutine(s.producerExpiryLoop)
}

// loadTxnPartitions starts loading every __transaction_state partition this broker leads
// (a no-op for those loaded or loading) and returns the channel of each partition's load.
// A partition the metadata names this broker the leader of, but whose LeaderAndIsr has not
// been applied yet, is left to that LeaderAndIsr: only it knows the leader epoch, which is
// the coordinator epoch markers carry.
func (s *Server) loadTxnPartitions(t *topicMeta) map[int32]<-chan struct{} {
	out := make(map[int32]<-chan struct{})
	for p, pm := range t.partitions {
		if pm.leader != s.cfg.BrokerID {
			continue
		}
		part, ok := s.rm.get(txnTopic, int32(p))
		if !ok || !part.isLeader.Load() {
			continue
		}
		out[int32(p)] = s.txns.BecomeLeader(int32(p), part.leaderEpoch.Load())
	}
	return out
}

// ensureTxnTopic returns __transaction_state, creating it on first use: internal,
// compacted, uncompressed, transaction.state.log.num.partitions partitions. The
// replication factor is min(transaction.state.log.replication.factor, live brokers) and
// min.insync.replicas min(transaction.state.log.min.isr, that factor), so that a single
// node works out of the box (Kafka would refuse the defaults there).
func (s *Server) ensureTxnTopic(ctx context.Context) (*topicMeta, error) {
	if t, ok := s.cache.topic(txnTopic); ok {
		return t, nil
	}
	rf := s.cfg.TransactionStateLogReplicationFactor
	if live := int16(len(s.liveBrokers())); rf > live || rf <= 0 {
		rf = live
	}
	minISR := min(s.cfg.TransactionStateLogMinISR, int(rf))
	spec := topicSpec{
		name:              txnTopic,
		partitions:        s.txns.Partitions(),
		replicationFactor: rf,
		configs: map[string]string{
			"cleanup.policy":                 "compact",
			"compression.type":               "uncompressed",
			"unclean.leader.election.enable": "false",
			"min.insync.replicas":            strconv.Itoa(minISR),
			"segment.bytes":                  strconv.Itoa(int(s.cfg.TransactionStateLogSegmentBytes)),
		},
	}
	t, err := s.createTopic(ctx, spec, false)
	if err != nil {
		if t, ok := s.cache.topic(txnTopic); ok {
			return t, nil // created concurrently
		}
		return nil, err
	}
	return t, nil
}

// txnCoordinatorFor answers which broker coordinates a transactional id: the leader of its
// __transaction_state partition. When that is this broker, loading is started if needed
// and waited for briefly.
func (s *Server) txnCoordinatorFor(ctx context.Context, txnID string) (int32, error) {
	t, err := s.ensureTxnTopic(ctx)
	if err != nil {
		return -1, fmt.Errorf("%w: creating %s: %v", kerr.CoordinatorNotAvailable, txnTopic, err)
	}
	p := s.txns.PartitionFor(txnID)
	if int(p) >= len(t.partitions) {
		return -1, fmt.Errorf("%w: %s has %d partitions, transactional id %q maps to %d", kerr.CoordinatorNotAvailable, txnTopic, len(t.partitions), txnID, p)
	}
	leader := t.partitions[p].leader
	if leader < 0 {
		return -1, fmt.Errorf("%w: %s-%d has no leader", kerr.CoordinatorNotAvailable, txnTopic, p)
	}
	if leader != s.cfg.BrokerID {
		return leader, nil
	}
	if s.txns.Status(p) != 0 {
		if load, ok := s.loadTxnPartitions(t)[p]; ok {
			wait, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			select {
			case <-load:
			case <-wait.Done():
			}
		}
	}
	return leader, nil
}

// markerWriter implements txn.MarkerWriter.
type markerWriter struct{ s *Server }

func (w markerWriter) WriteMarkers(ctx context.Context, m txn.WriteMarkers) (map[txn.TopicPartition]int16, []txn.TopicPartition) {
	s := w.s
	errs := make(map[txn.TopicPartition]int16, len(m.Partitions))
	var gone []txn.TopicPartition
	byLeader := map[int32][]txn.TopicPartition{}
	for _, tp := range m.Partitions {
		t, ok := s.cache.topic(tp.Topic)
		if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.partitions) {
			gone = append(gone, tp)
			continue
		}
		leader := t.partitions[tp.Partition].leader
		if leader < 0 {
			errs[tp] = kerr.NotLeaderForPartition.Code
			continue
		}
		byLeader[leader] = append(byLeader[leader], tp)
	}
	timeout := time.Duration(s.cfg.RequestTimeoutMs) * time.Millisecond
	var mu sync.Mutex
	var wg sync.WaitGroup
	for leader, tps := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
			defer cancel()
			codes := w.writeAt(rctx, leader, m, tps, timeout)
			mu.Lock()
			for tp, code := range codes {
				errs[tp] = code
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs, gone
}

// writeAt writes one producer's markers for partitions led by broker leader.
func (w markerWriter) writeAt(ctx context.Context, leader int32, m txn.WriteMarkers, tps []txn.TopicPartition, timeout time.Duration) map[txn.TopicPartition]int16 {
	s := w.s
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.SetVersion(writeTxnMarkersVersion)
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
	for _, tp := range tps {
		if n := len(rm.Topics); n > 0 && rm.Topics[n-1].Topic == tp.Topic {
			rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
		rm.Topics = append(rm.Topics, rt)
	}
	req.Markers = append(req.Markers, rm)
	out := make(map[txn.TopicPartition]int16, len(tps))
	var resp *kmsg.WriteTxnMarkersResponse
	if leader == s.cfg.BrokerID {
		resp = s.writeTxnMarkers(ctx, req, timeout)
	} else {
		r, err := s.peers.request(ctx, leader, req)
		if err != nil {
			s.logger.Info().Err(err).Int32("broker", leader).Int64("producer_id", m.ProducerID).Msg("sending transaction markers failed; retrying")
			for _, tp := range tps {
				out[tp] = kerr.NotLeaderForPartition.Code
			}
			return out
		}
		resp = r.(*kmsg.WriteTxnMarkersResponse)
	}
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				out[txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
			}
		}
	}
	for _, tp := range tps {
		if _, ok := out[tp]; !ok {
			out[tp] = kerr.UnknownServerError.Code
		}
	}
	return out
}

// writeTxnMarkers writes the markers of a WriteTxnMarkers request at this broker's
// partitions (Kafka's handleWriteTxnMarkersRequest): each is a control batch appended as
// the partition's leader and answered once replicated (acks=all) or after timeout. A marker
// written to a __consumer_offsets partition completes the group coordinator's pending
// transactional offset commits of the producer.
func (s *Server) writeTxnMarkers(ctx context.Context, req *kmsg.WriteTxnMarkersRequest, timeout time.Duration) *kmsg.WriteTxnMarkersResponse {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	now := time.Now()
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		type pending struct {
			p      *partition
			code   *int16
			offset int64
		}
		var waits []pending
		wake := make(chan struct{}, 1)
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			for i, part := range t.Partitions {
				rp := &rt.Partitions[i]
				*rp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = part
				p, ok := s.rm.get(t.Topic, part)
				if !ok || !p.isLeader.Load() {
					rp.ErrorCode = kerr.NotLeaderForPartition.Code
					if _, known := s.cache.topic(t.Topic); !known {
						rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					}
					continue
				}
				batch := log.MarkerBatch(log.Marker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch,
					CoordinatorEpoch: m.CoordinatorEpoch, Commit: m.Committed, Timestamp: now.UnixMilli()})
				p.addWaiter(wake)
				defer p.removeWaiter(wake)
				res, err := p.appendBatch(batch, now, p.log.AppendCoordinator)
				if err != nil {
					rp.ErrorCode = errorCode(err)
					s.logger.Info().Err(err).Str("topic", t.Topic).Int32("partition", part).Int64("producer_id", m.ProducerID).Msg("transaction marker refused")
					continue
				}
				waits = append(waits, pending{p: p, code: &rp.ErrorCode, offset: res.LastOffset + 1})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		for _, w := range waits {
			if err := waitCommitted(ctx, w.p, wake, w.offset, timeout); err != nil {
				*w.code = errorCode(err)
			}
		}
		for _, rt := range rm.Topics {
			if rt.Topic != offsetsTopic {
				continue
			}
			for _, rp := range rt.Partitions {
				if rp.ErrorCode == 0 {
					s.groups.CompleteTxn(m.ProducerID, rp.Partition, m.Committed)
				}
			}
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// verifyTxn asks the coordinator of txnID whether partitions are part of the producer's
// transaction (KIP-890), and returns one code per partition.
func (s *Server) verifyTxn(ctx context.Context, txnID string, pid int64, epoch int16, tps []txn.TopicPartition) []int16 {
	all := func(code int16) []int16 {
		out := make([]int16, len(tps))
		for i := range out {
			out[i] = code
		}
		return out
	}
	t, ok := s.cache.topic(txnTopic)
	p := s.txns.PartitionFor(txnID)
	if !ok || int(p) >= len(t.partitions) || t.partitions[p].leader < 0 {
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	leader := t.partitions[p].leader
	if leader == s.cfg.BrokerID {
		codes, err := s.txns.Verify(ctx, txnID, pid, epoch, tps)
		if err != nil {
			return all(kerr.CoordinatorNotAvailable.Code)
		}
		return codes
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(4)
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = txnID, pid, epoch, true
	for _, tp := range tps {
		if n := len(tx.Topics); n > 0 && tx.Topics[n-1].Topic == tp.Topic {
			tx.Topics[n-1].Partitions = append(tx.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = tp.Topic, []int32{tp.Partition}
		tx.Topics = append(tx.Topics, tt)
	}
	req.Transactions = append(req.Transactions, tx)
	rctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.RequestTimeoutMs)*time.Millisecond)
	defer cancel()
	r, err := s.peers.request(rctx, leader, req)
	if err != nil {
		s.logger.Info().Err(err).Int32("broker", leader).Str("transactional_id", txnID).Msg("transaction verification failed")
		return all(kerr.NetworkException.Code)
	}
	resp := r.(*kmsg.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 {
		return all(resp.ErrorCode)
	}
	codes := map[txn.TopicPartition]int16{}
	for _, rt := range resp.Transactions {
		for _, rtt := range rt.Topics {
			for _, rp := range rtt.Partitions {
				codes[txn.TopicPartition{Topic: rtt.Topic, Partition: rp.Partition}] = rp.ErrorCode
			}
		}
	}
	out := make([]int16, len(tps))
	for i, tp := range tps {
		code, ok := codes[tp]
		if !ok {
			code = kerr.UnknownServerError.Code
		}
		out[i] = code
	}
	return out
}

// producerExpiryLoop forgets idle producer ids every producer.id.expiration.check.interval.ms.
func (s *Server) producerExpiryLoop() {
	interval := time.Duration(s.cfg.ProducerIDExpirationCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			for _, p := range s.rm.snapshot() {
				if n := p.log.ExpireProducers(now.UnixMilli(), int64(s.cfg.ProducerIDExpirationMs)); n > 0 {
					s.logger.Debug().Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Int("producers", n).Msg("expired producer ids")
				}
			}
		}
	}
}
