package broker

// AddOffsetsToTxn (key 25), versions 0-4: the group's __consumer_offsets partition
// (abs(javaStringHashCode(group)) % offsets partitions) joins the producer's transaction,
// so that the transaction's markers reach the group coordinator, which then applies or
// drops the producer's TxnOffsetCommit offsets. v0-1 get INVALID_PRODUCER_EPOCH instead of
// PRODUCER_FENCED.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAddOffsetsToTxn(rc *requestContext, req *kmsg.AddOffsetsToTxnRequest) (kmsg.Response, error) {
	if code := rc.txnDenied(req.TransactionalID, req.Group); code != 0 {
		return answerWithCode(req, code), nil
	}
	resp, err := s.txns.AddOffsetsToTxn(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
