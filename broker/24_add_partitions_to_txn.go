package broker

// AddPartitionsToTxn (key 24), versions 0-4.
//
//   - v0-3 come from producers: the partitions join the producer's transaction (the
//     coordinator writes the new state to __transaction_state before answering). A partition
//     that does not exist fails the request: UNKNOWN_TOPIC_OR_PARTITION for it,
//     OPERATION_NOT_ATTEMPTED for the others. v0-1 get INVALID_PRODUCER_EPOCH instead of
//     PRODUCER_FENCED.
//   - v4 batches transactions and comes from partition leaders (KIP-890): a transaction with
//     verify_only is only checked (NONE or TRANSACTION_ABORTABLE per partition), nothing
//     written; without it, it is added as in v0-3.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAddPartitionsToTxn(rc *requestContext, req *kmsg.AddPartitionsToTxnRequest) (kmsg.Response, error) {
	if denied := rc.authorizeAddPartitionsToTxn(req); denied != nil {
		return denied, nil
	}
	resp, err := s.txns.AddPartitionsToTxn(rc.ctx(), rc.version(), req, s.knownPartition)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
