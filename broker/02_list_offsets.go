package broker

// ListOffsets (key 2), versions 0-7.
//
//   - Timestamp -2: the log start offset; -1: the high watermark (read_uncommitted) or the last
//     stable offset (read_committed, v2+); -3 (v7+, KIP-734): the offset and timestamp of the
//     record with the largest timestamp; >= 0: the first offset whose timestamp is at least the
//     given one, found through the time index (offset -1 and timestamp -1 when there is none).
//   - v0 answers in the old style: a list of at most max_num_offsets offsets.
//   - v4+ current leader epoch is checked like Fetch; the answer carries the leader epoch.
//   - v8+ (-4 earliest local, -5 latest tiered) is not advertised.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	listLatest       = -1
	listEarliest     = -2
	listMaxTimestamp = -3
)

func (s *Server) handleListOffsets(rc *requestContext, req *kmsg.ListOffsetsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			err := error(nil)
			if !rc.authorize(opDescribe, resTopic, rt.Topic) {
				err = kerr.TopicAuthorizationFailed
			} else {
				err = s.listOffset(rc.version(), req.IsolationLevel, rt.Topic, rp, &sp)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				rc.conn.logger.Debug().Err(err).Str("topic", rt.Topic).Int32("partition", rp.Partition).Msg("list offsets failed")
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (s *Server) listOffset(version int16, isolation int8, topic string, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	p, ok := s.rm.get(topic, rp.Partition)
	if !ok {
		if t, exists := s.cache.topic(topic); exists && rp.Partition >= 0 && int(rp.Partition) < len(t.partitions) {
			return fmt.Errorf("%w: this broker does not lead %s-%d", kerr.NotLeaderForPartition, topic, rp.Partition)
		}
		return fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, rp.Partition)
	}
	if version >= 4 {
		if err := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); err != nil {
			return err
		}
	}
	epoch := p.leaderEpoch.Load()
	var offset, ts int64 = -1, -1
	switch rp.Timestamp {
	case listEarliest:
		offset = p.log.LogStartOffset()
	case listLatest:
		offset = p.highWatermark()
		if isolation == 1 {
			offset = p.lastStableOffset()
		}
	case listMaxTimestamp:
		t, off, found, err := p.log.MaxTimestamp()
		if err != nil {
			return err
		}
		if found && off < p.highWatermark() {
			offset, ts = off, t
		}
	default:
		if rp.Timestamp < 0 {
			return fmt.Errorf("%w: timestamp %d", kerr.InvalidRequest, rp.Timestamp)
		}
		off, t, found, err := p.log.OffsetForTimestamp(rp.Timestamp)
		if err != nil {
			return err
		}
		if found && off < p.highWatermark() {
			offset, ts = off, t
		}
	}
	if version == 0 {
		sp.OldStyleOffsets = nil
		if offset >= 0 && rp.MaxNumOffsets > 0 {
			sp.OldStyleOffsets = []int64{offset}
		}
		return nil
	}
	sp.Offset, sp.Timestamp = offset, ts
	if offset >= 0 {
		sp.LeaderEpoch = epoch
	}
	return nil
}
