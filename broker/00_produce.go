package broker

// Produce (key 0), versions 0-11 advertised.
//
//   - v0-2 carry magic 0/1 message sets, which this broker does not store: every partition is
//     answered with UNSUPPORTED_VERSION (as Kafka 4.0 does, KAFKA-18659). They stay advertised
//     because old librdkafka enables compression only when Produce min version is 0.
//   - v3+: each partition carries exactly one magic-2 batch, validated by
//     protocol.ValidateProduceBatch (CRC32C, lengths, record count and offset deltas,
//     max.message.bytes) before anything is stored; on a compacted topic a record without a
//     key is INVALID_RECORD, as in Kafka.
//   - acks 0, 1 and -1. acks=0 gets no response at all; if such a produce fails, the connection
//     is closed so the client notices (Kafka's behaviour). acks=-1 needs min.insync.replicas in
//     sync before the append (NOT_ENOUGH_REPLICAS) and is answered once the high watermark
//     covers the batch, i.e. every in-sync replica has it; if the ISR falls below
//     min.insync.replicas meanwhile the answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND, after the
//     request timeout REQUEST_TIMED_OUT, and NOT_LEADER_OR_FOLLOWER if leadership moves.
//   - Idempotent producers: the log checks producer id, epoch and sequence; a retry of one of
//     the last 5 batches is answered with the original offsets.
//   - Transactional batches need the request's transactional id (else every partition gets
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as an unauthorized one does in Kafka) and one
//     producer id per request. With transaction.partition.verification.enable (KIP-890,
//     produce_txn.go), a producer's first transactional batch in a partition is appended only
//     if the transaction coordinator confirms the partition is in the transaction:
//     INVALID_TXN_STATE otherwise (TRANSACTION_ABORTABLE from v11), NOT_ENOUGH_REPLICAS when the
//     coordinator cannot tell yet (the producer retries). In the log, a non-transactional batch
//     from a producer whose transaction is open there is INVALID_TXN_STATE, a zombie's older
//     epoch INVALID_PRODUCER_EPOCH.
//   - Authorization (authorizer on): WRITE on the transactional id of a transactional produce
//     (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED everywhere), WRITE on each topic (else
//     TOPIC_AUTHORIZATION_FAILED for its partitions).
//   - v12/v13 are not advertised (v12 implies transaction.version 2, v13 addresses topics by id).

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/quota"
	"kbroker/log"
	"kbroker/protocol"
)

func (s *Server) handleProduce(rc *requestContext, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var topLevel error
	switch {
	case rc.version() < 3:
		topLevel = fmt.Errorf("%w: produce v%d (message format v0/v1) is not supported", kerr.UnsupportedVersion, rc.version())
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		topLevel = fmt.Errorf("%w: acks=%d", kerr.InvalidRequiredAcks, req.Acks)
	case req.TransactionID != nil && !rc.authorize(opWrite, resTransactionalID, *req.TransactionID):
		topLevel = kerr.TransactionalIDAuthorizationFailed
	}
	now := time.Now()
	var checks map[[2]int]txnCheck
	if topLevel == nil {
		checks, topLevel = s.checkTxnProduce(rc, req)
	}
	failed := false
	var waits []hwWait
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		topicErr := topLevel
		if topicErr == nil && !rc.authorize(opWrite, resTopic, rt.Topic) {
			topicErr = kerr.TopicAuthorizationFailed
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			err := topicErr
			if err == nil {
				var w *hwWait
				var check *txnCheck
				if c, ok := checks[[2]int{i, j}]; ok {
					check = &c
				}
				w, err = s.producePartition(rc.version(), rt.Topic, rp, req.Acks, now, &sp, check)
				if w != nil {
					w.topic, w.index = len(resp.Topics), len(st.Partitions)
					waits = append(waits, *w)
				}
			}
			if err != nil {
				failed = true
				s.metrics.ProducePartition(rt.Topic, 0, len(rp.Records), true)
				sp.ErrorCode = errorCode(err)
				if rc.version() >= 8 {
					sp.ErrorMessage = errorMessage(err)
				}
				ev := rc.conn.logger.Debug()
				if isUnexpected(err) {
					ev = rc.conn.logger.Error()
				}
				ev.Err(err).Str("topic", rt.Topic).Int32("partition", rp.Partition).Msg("produce failed")
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) > 0 {
		waitStart := time.Now()
		if err := s.awaitReplication(rc, resp, waits, time.Duration(req.TimeoutMillis)*time.Millisecond); err != nil {
			return nil, err
		}
		rc.waited += time.Since(waitStart)
	}
	bytes := 0
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			bytes += len(req.Topics[i].Partitions[j].Records)
		}
	}
	rc.throttleFor(s.quotas, quota.ProducerByteRate, float64(bytes), time.Now())
	if req.Acks == 0 {
		if failed {
			return nil, fmt.Errorf("acks=0 produce failed: %w", errCloseQuietly)
		}
		return nil, nil
	}
	return resp, nil
}

// producePartition validates and appends one partition's batch, filling sp on success.
func (s *Server) producePartition(version int16, topic string, rp *kmsg.ProduceRequestTopicPartition, acks int16, now time.Time, sp *kmsg.ProduceResponseTopicPartition, check *txnCheck) (*hwWait, error) {
	p, ok := s.rm.get(topic, rp.Partition)
	if !ok || !p.isLeader.Load() {
		if t, exists := s.cache.topic(topic); exists && int(rp.Partition) < len(t.partitions) && rp.Partition >= 0 {
			return nil, fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, rp.Partition)
		}
		return nil, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, rp.Partition)
	}
	tc := p.cfg.Load()
	if acks == -1 {
		if n := p.inSyncCount(); n < tc.MinInsyncReplicas {
			return nil, fmt.Errorf("%w: %d in-sync replicas, min.insync.replicas=%d", kerr.NotEnoughReplicas, n, tc.MinInsyncReplicas)
		}
	}
	maxBatch := tc.MaxMessageBytes
	// A compacted topic refuses records without a key (INVALID_RECORD), as Kafka does.
	hdr, err := protocol.ValidateProduceBatch(rp.Records, protocol.ValidateOptions{MaxBatchBytes: maxBatch, RequireKeys: tc.Compact})
	if err != nil {
		return nil, err
	}
	if hdr.Codec() == protocol.CodecZstd && version < 7 {
		return nil, fmt.Errorf("%w: zstd needs produce v7 or later", kerr.UnsupportedCompressionType)
	}
	appendFn := p.log.Append
	if check != nil {
		if check.err != nil {
			return nil, check.err
		}
		appendFn = func(b []byte, epoch int32) (log.AppendResult, error) {
			return p.log.AppendVerified(b, epoch, check.guard)
		}
	}
	res, err := p.appendBatch(rp.Records, now, appendFn)
	if err != nil {
		return nil, err
	}
	s.metrics.ProducePartition(topic, int(hdr.NumRecords), len(rp.Records), false)
	sp.BaseOffset = res.FirstOffset
	sp.LogAppendTime = res.logAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if acks == -1 && p.highWatermark() <= res.LastOffset {
		return &hwWait{p: p, offset: res.LastOffset + 1, minISR: tc.MinInsyncReplicas}, nil
	}
	return nil, nil
}

// hwWait is an acks=all partition waiting for its high watermark to reach offset.
type hwWait struct {
	p      *partition
	offset int64
	minISR int
	topic  int // index of the partition's answer in the response: Topics[topic].Partitions[index]
	index  int
}

// awaitReplication parks an acks=all produce until every partition's high watermark covers its
// batch, the timeout passes, or leadership moves; partitions that fail get their error code.
func (s *Server) awaitReplication(rc *requestContext, resp *kmsg.ProduceResponse, waits []hwWait, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	wake := make(chan struct{}, 1)
	for _, w := range waits {
		w.p.addWaiter(wake)
		defer w.p.removeWaiter(wake)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	pending := len(waits)
	done := make([]bool, len(waits))
	for {
		for i, w := range waits {
			if done[i] {
				continue
			}
			var code int16 = -1
			switch {
			case !w.p.isLeader.Load():
				code = kerr.NotLeaderForPartition.Code
			case w.p.highWatermark() >= w.offset:
				code = 0
			case w.p.inSyncCount() < w.minISR:
				code = kerr.NotEnoughReplicasAfterAppend.Code
			}
			if code >= 0 {
				resp.Topics[w.topic].Partitions[w.index].ErrorCode = code
				done[i] = true
				pending--
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-wake:
		case <-deadline.C:
			for i, w := range waits {
				if !done[i] {
					resp.Topics[w.topic].Partitions[w.index].ErrorCode = kerr.RequestTimedOut.Code
				}
			}
			return nil
		case <-rc.ctx().Done():
			return fmt.Errorf("produce interrupted: %w", errCloseQuietly)
		}
	}
}
