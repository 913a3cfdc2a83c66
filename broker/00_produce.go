package broker

// Produce (key 0), versions 0-11.
//
//   - v0-2 carry message sets of magic 0 (v0-1) or 1 (v2), which are validated (each message's
//     CRC-32, compressed wrappers and their inner messages and offsets) and stored as one magic-2
//     batch, as Kafka 3.9's LogValidator does (protocol.ConvertMessageSet): CreateTime from
//     magic 1 messages, none (-1) from magic 0 ones, the broker's time on a LogAppendTime topic;
//     compressed with the topic's compression.type, "producer" keeping the producer's codec.
//     Errors are Kafka's: CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, INVALID_TIMESTAMP.
//     A set without one complete message stores nothing and is answered with success (base
//     offset -1), as Kafka answers it. Like Kafka, v0-2 may carry a magic-2 batch instead, and
//     it is taken as a v3 batch would be. v2 answers carry the LogAppendTime. (Kafka 4.0
//     answers v0-2 with UNSUPPORTED_VERSION, KAFKA-18659; this broker follows 3.9.)
//   - v3+: each partition carries exactly one magic-2 batch, validated by
//     protocol.PrepareProduceBatch (CRC32C, lengths, record count and offset deltas,
//     max.message.bytes) before anything is stored; zstd before v7 is
//     UNSUPPORTED_COMPRESSION_TYPE. Record errors are gathered over the whole batch, as
//     Kafka's LogValidator does: on a compacted topic a record without a key is INVALID_RECORD;
//     on a CreateTime topic a timestamp outside [now - message.timestamp.before.max.ms,
//     now + message.timestamp.after.max.ms] (message.timestamp.difference.max.ms standing in
//     for either left at its default) is INVALID_TIMESTAMP, which wins. v8+ answers carry
//     Kafka's error message and record_errors (each refused record's index and reason), and
//     the log start offset. With both bounds at their default the records are not looked at
//     for timestamps at all.
//   - compression.type (topic, default: the broker's): "producer" stores the batch as sent;
//     any other codec than the batch's stores it recompressed (compression.gzip.level,
//     lz4.level, zstd.level), as Kafka rebuilds it: the same records, producer id, epoch,
//     base sequence and transactional flag kept, maxTimestamp the largest record timestamp,
//     CRC recomputed; MESSAGE_TOO_LARGE if it outgrows max.message.bytes. LogAppendTime is
//     stamped on the batch as stored.
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
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/config"
	"kbroker/broker/quota"
	"kbroker/log"
	"kbroker/protocol"
)

func (s *Server) handleProduce(rc *requestContext, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var topLevel error
	switch {
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
					setProduceErrorMessage(&sp, err)
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
	batch, numRecords, err := produceBatch(version, rp.Records, tc, now)
	if err != nil || batch == nil {
		if re := (*protocol.RecordsError)(nil); errors.As(err, &re) {
			sp.LogStartOffset = p.log.LogStartOffset() // as Kafka answers a RecordValidationException
		}
		return nil, err
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
	res, err := p.appendBatch(batch, now, appendFn)
	if err != nil {
		return nil, err
	}
	s.metrics.ProducePartition(topic, numRecords, len(rp.Records), false)
	sp.BaseOffset = res.FirstOffset
	sp.LogAppendTime = res.logAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if acks == -1 && p.highWatermark() <= res.LastOffset {
		return &hwWait{p: p, offset: res.LastOffset + 1, minISR: tc.MinInsyncReplicas}, nil
	}
	return nil, nil
}

// setProduceErrorMessage fills a v8+ partition answer's error message and, for a batch refused
// because of some of its records, Kafka's message and record_errors (one per refused record,
// its index in the batch and reason).
func setProduceErrorMessage(sp *kmsg.ProduceResponseTopicPartition, err error) {
	var re *protocol.RecordsError
	if !errors.As(err, &re) {
		sp.ErrorMessage = errorMessage(err)
		return
	}
	sp.ErrorMessage = &re.Message
	sp.ErrorRecords = make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(re.Records))
	for i := range re.Records {
		r := &sp.ErrorRecords[i]
		r.Default()
		r.RelativeOffset = re.Records[i].Index
		r.ErrorMessage = &re.Records[i].Message
	}
}

// produceBatch validates one partition's records and returns the magic-2 batch to append and
// its record count: the client's batch itself, or recompressed with the topic's
// compression.type, or a magic 0/1 message set (Produce v0-2) converted. A nil batch without an
// error means there is nothing to append.
func produceBatch(version int16, records []byte, tc *config.TopicConfig, now time.Time) ([]byte, int, error) {
	if version < 3 && protocol.MessageSetMagic(records) != 2 {
		batch, res, err := protocol.ConvertMessageSet(records, legacyOptions(tc, now))
		return batch, int(res.Records), err
	}
	if version >= 3 && version < 7 {
		// Kafka refuses zstd before any other check of the batch (ProduceRequest.validateRecords).
		if h, err := protocol.ParseBatchHeader(records); err == nil && h.Magic == 2 && h.Codec() == protocol.CodecZstd {
			return nil, 0, fmt.Errorf("%w: zstd needs produce v7 or later", kerr.UnsupportedCompressionType)
		}
	}
	// A compacted topic refuses records without a key (INVALID_RECORD), as Kafka does.
	opts := protocol.ValidateOptions{MaxBatchBytes: tc.MaxMessageBytes, RequireKeys: tc.Compact}
	if tc.MessageTimestampType != "LogAppendTime" {
		opts.Timestamps = protocol.NewTimestampBounds(now.UnixMilli(), tc.MessageTimestampBeforeMaxMs, tc.MessageTimestampAfterMaxMs)
	}
	batch, hdr, err := protocol.PrepareProduceBatch(records, opts, topicCompression(tc))
	if err != nil {
		return nil, 0, err
	}
	return batch, int(hdr.NumRecords), nil
}

// topicCompression is the topic's compression.type with the level of its codec.
func topicCompression(tc *config.TopicConfig) protocol.Compression {
	codec, err := protocol.ParseCompressionType(tc.CompressionType)
	if err != nil {
		codec = protocol.CodecProducer // the config table admits only known values
	}
	level := 0
	switch codec {
	case protocol.CodecGzip:
		level = tc.CompressionGzipLevel
	case protocol.CodecLZ4:
		level = tc.CompressionLz4Level
	case protocol.CodecZstd:
		level = tc.CompressionZstdLevel
	}
	return protocol.Compression{Codec: codec, Level: level}
}

// legacyOptions are the topic settings a magic 0/1 message set is converted with.
func legacyOptions(tc *config.TopicConfig, now time.Time) protocol.LegacyOptions {
	return protocol.LegacyOptions{
		MaxMessageBytes:      tc.MaxMessageBytes,
		RequireKeys:          tc.Compact,
		LogAppendTime:        tc.MessageTimestampType == "LogAppendTime",
		NowMs:                now.UnixMilli(),
		TimestampBeforeMaxMs: tc.MessageTimestampBeforeMaxMs,
		TimestampAfterMaxMs:  tc.MessageTimestampAfterMaxMs,
		Compression:          topicCompression(tc),
	}
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
