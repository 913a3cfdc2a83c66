package broker

// EndTxn (key 26), versions 0-4: commit or abort the producer's transaction. The
// coordinator writes PrepareCommit/PrepareAbort to __transaction_state, which decides the
// transaction; the markers then go to every partition of the transaction (WriteTxnMarkers)
// and the transaction ends with CompleteCommit/CompleteAbort. Kafka answers after the
// prepare record; this broker answers after the completion record, or 100 ms after the
// prepare record if the markers take longer (endTxnWaitMs), with the same answer: the
// producer's next transaction then does not meet CONCURRENT_TRANSACTIONS, and a
// read_committed consumer sees the transaction once the commit returns. Without a
// transaction the answer is INVALID_TXN_STATE; a retry of a completed commit (or abort) is
// NONE; v0-1 get INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleEndTxn(rc *requestContext, req *kmsg.EndTxnRequest) (kmsg.Response, error) {
	if code := rc.txnDenied(req.TransactionalID, ""); code != 0 {
		return answerWithCode(req, code), nil
	}
	resp, err := s.txns.EndTxn(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	return resp, nil
}
