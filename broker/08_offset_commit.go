package broker

// OffsetCommit (key 8), versions 0-9.
//
//   - Offsets are appended to the group's __consumer_offsets partition (OffsetCommitKey v1,
//     OffsetCommitValue v3, or v1 with an expire timestamp) and answered once written.
//   - Generation -1 with an empty member id is accepted for Empty or unknown groups (simple
//     consumers, kafka-consumer-groups --reset-offsets); otherwise member and generation are
//     checked (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID); a group in
//     CompletingRebalance answers REBALANCE_IN_PROGRESS (Kafka 3.9 handleCommitOffsets).
//   - v0 was ZooKeeper-backed in Kafka: here it is stored like v1 without member/generation.
//     v1 per-partition commit timestamp; v2-4 retention time (sets an expire timestamp);
//     v6+ leader epoch; v7+ group.instance.id.
//   - Metadata longer than offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE; unknown
//     topic or partition: UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetCommit(rc *requestContext, req *kmsg.OffsetCommitRequest) (kmsg.Response, error) {
	denied, groupOK := rc.authorizeOffsetCommit(req)
	if !groupOK || (len(req.Topics) == 0 && len(denied) > 0) {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Topics = denied
		return resp, nil
	}
	resp, err := s.groups.OffsetCommit(rc.ctx(), rc.version(), req, s.knownPartition)
	if err != nil {
		return nil, groupCallErr(err)
	}
	if r := resp; r != nil {
		r.Topics = append(r.Topics, denied...)
	}
	return resp, nil
}
