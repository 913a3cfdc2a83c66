package broker

// DeleteRecords (key 21), versions 0-2 (v2 flexible). Kafka's ReplicaManager.deleteRecords:
//
//   - A partition the metadata does not know is UNKNOWN_TOPIC_OR_PARTITION; an internal topic
//     (__consumer_offsets, __transaction_state) INVALID_TOPIC_EXCEPTION; a partition this
//     broker does not lead NOT_LEADER_OR_FOLLOWER; a topic whose cleanup.policy lacks delete
//     POLICY_VIOLATION.
//   - Offset -1 means the high watermark; any other negative offset, or one beyond the high
//     watermark, is OFFSET_OUT_OF_RANGE. Otherwise the leader's log start offset moves to the
//     offset (never back), the segments wholly below it go at the next retention pass, and
//     log-start-offset-checkpoint is written before the answer, so the new start survives a
//     kill -9.
//   - The answer's low watermark is the smallest log start offset among the leader and the
//     replicas on live brokers (Kafka's Partition.lowWatermarkIfLeader); followers learn the
//     leader's log start from their fetches and report theirs in the next one. While some
//     partition's low watermark is below its requested offset the answer waits (Kafka's
//     DelayedDeleteRecords), up to the request's timeout: a partition still short then is
//     answered REQUEST_TIMED_OUT with its low watermark at the start of the wait; one whose
//     leadership moved meanwhile NOT_LEADER_OR_FOLLOWER.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteRecordsWait is a partition whose low watermark must reach offset before the answer,
// which is resp.Topics[topic].Partitions[index].
type deleteRecordsWait struct {
	p            *partition
	offset       int64
	topic, index int
}

func (s *Server) handleDeleteRecords(rc *requestContext, req *kmsg.DeleteRecordsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	var waits []deleteRecordsWait
	dirs := map[string]bool{}
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			var p *partition
			var offset int64
			err := error(kerr.TopicAuthorizationFailed)
			if rc.authorize(opDelete, resTopic, rt.Topic) {
				p, offset, err = s.deleteRecords(rt.Topic, rp.Partition, rp.Offset)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				ev := rc.conn.logger.Debug()
				if isUnexpected(err) {
					ev = rc.conn.logger.Error()
				}
				ev.Err(err).Str("topic", rt.Topic).Int32("partition", rp.Partition).Int64("offset", rp.Offset).Msg("delete records failed")
			} else {
				dirs[p.root] = true
				sp.LowWatermark = s.lowWatermark(p)
				if sp.LowWatermark < offset {
					waits = append(waits, deleteRecordsWait{p: p, offset: offset, topic: len(resp.Topics), index: len(st.Partitions)})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(dirs) > 0 {
		if err := s.rm.writeStartCheckpoints(dirs); err != nil {
			s.logger.Error().Err(err).Msg("writing log-start-offset-checkpoint after DeleteRecords")
		}
	}
	if len(waits) == 0 {
		return resp, nil
	}
	return resp, s.awaitLowWatermarks(rc, resp, waits, time.Duration(req.TimeoutMillis)*time.Millisecond)
}

// deleteRecords moves one partition's log start offset for DeleteRecords and returns the
// partition and the offset asked for (-1 resolved to the high watermark).
func (s *Server) deleteRecords(topic string, partition int32, offset int64) (*partition, int64, error) {
	t, ok := s.cache.topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.partitions) {
		return nil, 0, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, partition)
	}
	if isInternalTopic(topic) {
		return nil, 0, fmt.Errorf("%w: cannot delete records of internal topic %s", kerr.InvalidTopicException, topic)
	}
	p, ok := s.rm.get(topic, partition)
	if !ok || !p.isLeader.Load() {
		return nil, 0, fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, partition)
	}
	if !p.cfg.Load().Delete {
		return nil, 0, fmt.Errorf("%w: records of %s-%d cannot be deleted: cleanup.policy has no delete", kerr.PolicyViolation, topic, partition)
	}
	hw := p.highWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return nil, 0, fmt.Errorf("%w: cannot move the log start offset of %s-%d to %d: the high watermark is %d", kerr.OffsetOutOfRange, topic, partition, offset, hw)
	}
	if _, err := p.log.IncrementLogStartOffset(offset, "records deleted by a client"); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	return p, offset, nil
}

// lowWatermark is the smallest log start offset among p's leader (this broker) and its
// replicas on live brokers, as the leader last heard them.
func (s *Server) lowWatermark(p *partition) int64 {
	return p.lowWatermark(func(id int32) bool {
		_, alive := s.cache.broker(id)
		return alive || !s.clustered()
	})
}

// awaitLowWatermarks parks a DeleteRecords answer until each partition's low watermark
// reaches its offset, the timeout passes or leadership moves.
func (s *Server) awaitLowWatermarks(rc *requestContext, resp *kmsg.DeleteRecordsResponse, waits []deleteRecordsWait, timeout time.Duration) error {
	wake := make(chan struct{}, 1)
	for _, w := range waits {
		w.p.addWaiter(wake)
		defer w.p.removeWaiter(wake)
	}
	deadline := time.NewTimer(max(timeout, time.Millisecond))
	defer deadline.Stop()
	pending := len(waits)
	done := make([]bool, len(waits))
	for {
		for i, w := range waits {
			if done[i] {
				continue
			}
			sp := &resp.Topics[w.topic].Partitions[w.index]
			switch lw := s.lowWatermark(w.p); {
			case !w.p.isLeader.Load():
				sp.ErrorCode, sp.LowWatermark = kerr.NotLeaderForPartition.Code, -1
			case lw >= w.offset:
				sp.LowWatermark = lw
			default:
				continue
			}
			done[i] = true
			pending--
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
			return fmt.Errorf("delete records interrupted: %w", errCloseQuietly)
		}
	}
}
