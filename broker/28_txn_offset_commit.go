package broker

// TxnOffsetCommit (key 28), versions 0-4: a transactional producer commits a consumer
// group's offsets as part of its transaction (sendOffsetsToTransaction). The group
// coordinator writes them in a transactional batch of the producer and applies them when
// the transaction's commit marker reaches the group's partition (coordinator/txn_offsets.go).
//
//   - As with a produce, the group's __consumer_offsets partition must be part of the
//     transaction (AddOffsetsToTxn) when transaction.partition.verification.enable is on
//     (KIP-890): otherwise INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v4), PRODUCER_FENCED
//     becomes INVALID_PRODUCER_EPOCH, an unreachable coordinator COORDINATOR_LOAD_IN_PROGRESS.
//   - v3+ (KIP-447) carry the member id, instance id and generation: a commit from a member
//     that is not in the group's current generation is refused (UNKNOWN_MEMBER_ID,
//     ILLEGAL_GENERATION, FENCED_INSTANCE_ID), also for a group that does not exist.
//   - Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION; v0-1 get
//     COORDINATOR_NOT_AVAILABLE instead of COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator/txn"
)

func (s *Server) handleTxnOffsetCommit(rc *requestContext, req *kmsg.TxnOffsetCommitRequest) (kmsg.Response, error) {
	code := int16(0)
	if s.authz != nil {
		code = rc.txnDenied(req.TransactionalID, req.Group)
	}
	var denied []kmsg.TxnOffsetCommitResponseTopic
	if code == 0 {
		denied = rc.authorizeTxnOffsetCommit(req)
		code = s.verifyTxnOffsetCommit(rc, req)
	}
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		resp.Topics = append(resp.Topics, denied...)
		return resp, nil
	}
	if len(req.Topics) == 0 && len(denied) > 0 {
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		resp.Topics = denied
		return resp, nil
	}
	resp, err := s.groups.TxnOffsetCommit(rc.ctx(), rc.version(), req, s.knownPartition)
	if err != nil {
		return nil, groupCallErr(err)
	}
	resp.Topics = append(resp.Topics, denied...)
	return resp, nil
}

// verifyTxnOffsetCommit checks with the transaction coordinator that the group's offsets
// partition is part of the producer's transaction, as Kafka's group coordinator does
// before writing (maybeStartTransactionVerificationForPartition), and returns the error to
// answer every partition with, or 0.
func (s *Server) verifyTxnOffsetCommit(rc *requestContext, req *kmsg.TxnOffsetCommitRequest) int16 {
	if !s.cfg.TransactionPartitionVerificationEnable || req.Group == "" {
		return 0
	}
	part := s.groups.PartitionFor(req.Group)
	p, ok := s.rm.get(offsetsTopic, part)
	if !ok || !p.isLeader.Load() {
		return 0 // the group coordinator answers NOT_COORDINATOR
	}
	if p.log.StartVerification(req.ProducerID) == 0 {
		return 0 // the producer's transaction is open there already
	}
	codes := s.verifyTxn(rc.ctx(), req.TransactionalID, req.ProducerID, req.ProducerEpoch,
		[]txn.TopicPartition{{Topic: offsetsTopic, Partition: part}})
	code := verificationError(codes[0], rc.version() >= 4)
	if code == kerr.NetworkException.Code {
		code = kerr.CoordinatorLoadInProgress.Code // Kafka's maybeConvertOffsetCommitError
	}
	return code
}
