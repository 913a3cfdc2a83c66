package broker

// Fetch (key 1), versions 4-12.
//
//   - Consumers (replica id -1) read up to the high watermark (read_uncommitted) or the last
//     stable offset (read_committed: below the first transaction still open or whose marker
//     is not replicated yet). A read_committed answer lists the aborted transactions that
//     overlap the batches returned (from the .txnindex), so that the consumer skips their
//     records; read_uncommitted answers carry none (a null list).
//   - A partition without records carries an empty record set (size 0), never a null one
//     (size -1), as Kafka does; librdkafka 2.0 rejects -1 and never reaches a partition's end.
//   - Whole batches only, as stored (never recompressed), sent from the segment files without
//     copying them (fetch_regions.go). Per-partition and total byte limits;
//     the first batch of the first partition with data is returned even when larger (KIP-74).
//   - min_bytes / max_wait_ms long poll: a fetch that has less than min_bytes registers with
//     each partition it reads and waits until an append wakes it or max_wait_ms passes.
//   - Fetch sessions (KIP-227) are declined: the answer carries session id 0, and clients go on
//     with full fetches. A request naming a session id we never gave gets
//     FETCH_SESSION_ID_NOT_FOUND.
//   - v9+ current leader epoch: older -> FENCED_LEADER_EPOCH, newer -> UNKNOWN_LEADER_EPOCH.
//   - Followers (replica id >= 0) read up to the log end; their fetch offset is their log end,
//     which moves the high watermark and may bring them back into the ISR. A follower whose
//     last fetched epoch ends earlier on the leader (or is unknown to it, only an earlier
//     epoch being known) gets DivergingEpoch and no records at once, even in a long poll, and
//     truncates (KIP-320 truncation on fetch); one whose epoch has no end on the leader, or
//     whose fetch offset is below the log start, gets OFFSET_OUT_OF_RANGE (Kafka's
//     Partition.readRecords).
//   - Authorization (authorizer on): a follower needs CLUSTER_ACTION on the cluster, a consumer
//     READ on each topic; other partitions get TOPIC_AUTHORIZATION_FAILED.
//   - A follower reports its log start offset in each fetch (the leader's low watermark for
//     DeleteRecords) and takes the leader's from the answer.
//   - v13+ (topic ids) is not advertised.

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/quota"
	"kbroker/log"
)

func (s *Server) handleFetch(rc *requestContext, req *kmsg.FetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	if s.authz != nil {
		rc.fetchDenied = s.fetchDenied(rc, req)
	}
	rc.replica = req.ReplicaID >= 0
	total, err := s.fetchLoop(rc, req, resp)
	if err != nil || rc.replica {
		return resp, err
	}
	// A consumer over its byte-rate quota is throttled and gets no records this time; the
	// bytes it does not get are not counted (Kafka's fetch quota).
	now := time.Now()
	if d := rc.throttleFor(s.quotas, quota.ConsumerByteRate, float64(total), now); d > 0 {
		s.quotas.Record(quota.ConsumerByteRate, rc.principal(), clientID(rc.hdr), -float64(total), now)
		dropRecords(rc, resp)
	}
	return resp, nil
}

// dropRecords empties every partition's record set (a throttled answer).
func dropRecords(rc *requestContext, resp *kmsg.FetchResponse) {
	rc.regions.release()
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			resp.Topics[i].Partitions[j].RecordBatches = []byte{}
		}
	}
}

// fetchLoop reads, waiting (long poll) until there is enough to answer; it returns the record
// bytes in the answer.
func (s *Server) fetchLoop(rc *requestContext, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) (int, error) {
	maxWait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	var wake chan struct{}
	var registered []*partition
	defer func() {
		for _, p := range registered {
			p.removeWaiter(wake)
		}
	}()
	for {
		if wake == nil && maxWait > 0 && req.MinBytes > 0 {
			// Register before reading so that an append between the read and the wait is not missed.
			wake = make(chan struct{}, 1)
			for i := range req.Topics {
				for j := range req.Topics[i].Partitions {
					if p, ok := s.rm.get(req.Topics[i].Topic, req.Topics[i].Partitions[j].Partition); ok {
						p.addWaiter(wake)
						registered = append(registered, p)
					}
				}
			}
		}
		total, answerNow := s.readFetch(rc, req, resp)
		if answerNow || total >= int(req.MinBytes) || wake == nil {
			return total, nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return total, nil
		}
		t := time.NewTimer(remaining)
		waitStart := time.Now()
		select {
		case <-wake:
			t.Stop()
		case <-t.C:
		case <-rc.ctx().Done():
			t.Stop()
			return 0, fmt.Errorf("fetch interrupted: %w", errCloseQuietly)
		}
		rc.waited += time.Since(waitStart)
	}
}

// fetchDenied is the set of requested topics the principal may not fetch, decided once per
// request as KafkaApis does: a follower needs CLUSTER_ACTION on the cluster, a consumer READ
// on each topic.
func (s *Server) fetchDenied(rc *requestContext, req *kmsg.FetchRequest) map[string]struct{} {
	denied := map[string]struct{}{}
	follower := req.ReplicaID >= 0
	clusterOK := follower && rc.authorizeCluster(opClusterAction)
	for i := range req.Topics {
		t := req.Topics[i].Topic
		if _, seen := denied[t]; seen {
			continue
		}
		if (follower && !clusterOK) || (!follower && !rc.authorize(opRead, resTopic, t)) {
			denied[t] = struct{}{}
		}
	}
	return denied
}

// readFetch fills resp.Topics from the logs and returns the record bytes gathered and
// whether the fetch must be answered at once: a partition had an error, or a follower's log
// diverged and must be cut back before it fetches again (as Kafka does).
func (s *Server) readFetch(rc *requestContext, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) (int, bool) {
	resp.Topics = resp.Topics[:0]
	rc.regions.release() // a long poll's earlier read
	total := 0
	answerNow := false
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = int(^uint32(0) >> 1)
	}
	if !rc.replica {
		maxBytes = min(maxBytes, s.quotaWindowBytes(rc))
	}
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			var n int
			var err error
			if _, denied := rc.fetchDenied[rt.Topic]; denied {
				err = kerr.TopicAuthorizationFailed
			} else {
				n, err = s.fetchPartition(req, rt.Topic, rp, maxBytes-total, total == 0, &sp, &rc.regions)
			}
			if rc.replica {
				s.metrics.ReplicationBytesOut(n)
			} else {
				s.metrics.FetchPartition(rt.Topic, n, err != nil)
			}
			if sp.DivergingEpoch.EndOffset >= 0 {
				answerNow = true
			}
			if err != nil {
				answerNow = true
				sp.ErrorCode = errorCode(err)
				ev := rc.conn.logger.Debug()
				if isUnexpected(err) {
					ev = rc.conn.logger.Error()
				}
				ev.Err(err).Str("topic", rt.Topic).Int32("partition", rp.Partition).Int64("offset", rp.FetchOffset).Msg("fetch failed")
			}
			if sp.RecordBatches == nil {
				// An empty record set, not a null one: librdkafka 2.0 rejects size -1.
				sp.RecordBatches = []byte{}
			}
			total += n
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return total, answerNow
}

// fetchPartition reads one partition into sp and returns the bytes read.
func (s *Server) fetchPartition(req *kmsg.FetchRequest, topic string, rp *kmsg.FetchRequestTopicPartition, budget int, first bool, sp *kmsg.FetchResponseTopicPartition, regions *fetchRegions) (int, error) {
	p, ok := s.rm.get(topic, rp.Partition)
	if !ok {
		if t, exists := s.cache.topic(topic); exists && rp.Partition >= 0 && int(rp.Partition) < len(t.partitions) {
			return 0, fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, rp.Partition)
		}
		return 0, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, rp.Partition)
	}
	if !p.isLeader.Load() {
		return 0, fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, rp.Partition)
	}
	if err := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); err != nil {
		return 0, err
	}
	if req.ReplicaID >= 0 {
		return s.fetchForFollower(req.ReplicaID, p, rp, budget, first, sp, regions)
	}
	hw := p.highWatermark()
	sp.HighWatermark = hw
	sp.LastStableOffset = p.lastStableOffset()
	sp.LogStartOffset = p.log.LogStartOffset()
	upTo := hw
	if req.IsolationLevel == 1 {
		upTo = p.lastStableOffset()
	}
	if rp.FetchOffset > hw && rp.FetchOffset <= p.log.LogEndOffset() {
		// Between the high watermark and the log end: nothing visible yet, not out of range.
		return 0, nil
	}
	limit := int(rp.PartitionMaxBytes)
	if budget < limit {
		limit = budget
	}
	if limit <= 0 && !first {
		return 0, nil
	}
	if limit < 0 {
		limit = 0
	}
	res, err := p.log.ReadRegion(rp.FetchOffset, int32(limit), upTo, first)
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return 0, fmt.Errorf("%w: offset %d not in [%d, %d]", kerr.OffsetOutOfRange, rp.FetchOffset, p.log.LogStartOffset(), p.log.LogEndOffset())
		}
		return 0, err
	}
	if req.IsolationLevel == 1 {
		sp.AbortedTransactions = abortedTransactions(p, rp.FetchOffset, res)
	}
	regions.add(sp, res)
	return int(res.Size), nil
}

// abortedTransactions lists, for a read_committed answer, the aborted transactions that
// overlap the batches of res (never a null list).
func abortedTransactions(p *partition, from int64, res log.Region) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	out := []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	if res.Size == 0 {
		return out
	}
	for _, a := range p.log.AbortedTxns(from, res.NextOffset) {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, at)
	}
	return out
}

// checkLeaderEpoch compares a client's view of the leader epoch (-1 = unknown) with ours.
func checkLeaderEpoch(p *partition, clientEpoch int32) error {
	if clientEpoch < 0 {
		return nil
	}
	ours := p.leaderEpoch.Load()
	switch {
	case clientEpoch < ours:
		return fmt.Errorf("%w: request epoch %d, leader epoch %d", kerr.FencedLeaderEpoch, clientEpoch, ours)
	case clientEpoch > ours:
		return fmt.Errorf("%w: request epoch %d, leader epoch %d", kerr.UnknownLeaderEpoch, clientEpoch, ours)
	}
	return nil
}

// fetchForFollower serves a follower's fetch: divergence check, follower state, then records
// up to the log end.
func (s *Server) fetchForFollower(replica int32, p *partition, rp *kmsg.FetchRequestTopicPartition, budget int, first bool, sp *kmsg.FetchResponseTopicPartition, regions *fetchRegions) (int, error) {
	sp.LogStartOffset = p.log.LogStartOffset()
	if rp.LastFetchedEpoch >= 0 {
		epoch, end, diverged, err := p.log.DivergingEpoch(rp.LastFetchedEpoch, rp.FetchOffset)
		sp.HighWatermark, sp.LastStableOffset = p.highWatermark(), p.lastStableOffset()
		if err != nil {
			return 0, fmt.Errorf("%w: follower %d: %w", kerr.OffsetOutOfRange, replica, err)
		}
		if diverged {
			sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = epoch, end
			return 0, nil
		}
	}
	now := time.Now()
	moved, expand := p.recordFollowerFetch(replica, rp.FetchOffset, rp.LogStartOffset, now)
	if moved {
		p.wake()
	}
	if _, live := s.cache.broker(replica); expand && live {
		s.rm.proposeISRExpand(p, replica)
	}
	sp.HighWatermark, sp.LastStableOffset = p.highWatermark(), p.lastStableOffset()
	limit := min(int(rp.PartitionMaxBytes), budget)
	if limit <= 0 && !first {
		return 0, nil
	}
	// A throttled replica outside the ISR gets nothing while the leader's replication throttle
	// is exceeded (Kafka's ReplicationQuotaManager); its fetch still counts as above.
	throttled := quota.ThrottledReplicas(p.cfg.Load().LeaderThrottledReplicas, p.tp.Partition, s.cfg.BrokerID) && !p.inISR(replica)
	if throttled && s.rm.leaderQuota.Exceeded(now) {
		return 0, nil
	}
	res, err := p.log.ReadRegion(rp.FetchOffset, int32(max(limit, 0)), p.log.LogEndOffset(), first)
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return 0, fmt.Errorf("%w: offset %d not in [%d, %d]", kerr.OffsetOutOfRange, rp.FetchOffset, p.log.LogStartOffset(), p.log.LogEndOffset())
		}
		return 0, err
	}
	if throttled {
		s.rm.leaderQuota.Record(int(res.Size), now)
	}
	regions.add(sp, res)
	return int(res.Size), nil
}
