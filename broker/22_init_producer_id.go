package broker

// InitProducerId (key 22), versions 0-5.
//
//   - Without a transactional id (idempotent producers, on by default in the Java client,
//     franz-go and kafka-python 3): a new producer id from this broker's block and epoch 0,
//     whatever producer id and epoch the request carries (Kafka does the same).
//   - With a transactional id: the transaction coordinator (coordinator/txn) answers, on the
//     broker leading the id's __transaction_state partition (NOT_COORDINATOR elsewhere): a
//     producer id and a bumped epoch that fences the previous producer, KIP-360 recovery
//     with the current producer id and epoch (v3+), INVALID_TRANSACTION_TIMEOUT above
//     transaction.max.timeout.ms. v0-3 get INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.
//   - A producer id without an epoch (or the reverse) is INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleInitProducerID(rc *requestContext, req *kmsg.InitProducerIDRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if rc.version() >= 3 && (req.ProducerID < 0) != (req.ProducerEpoch < 0) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	switch {
	case req.TransactionalID != nil && !rc.authorize(opWrite, resTransactionalID, *req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	case req.TransactionalID == nil && !rc.mayWriteIdempotently():
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	if req.TransactionalID != nil {
		r, err := s.txns.InitProducerID(rc.ctx(), rc.version(), req)
		if err != nil {
			return nil, groupCallErr(err)
		}
		return r, nil
	}
	id, err := s.pids.nextID(rc.ctx())
	if err != nil {
		rc.conn.logger.Error().Err(err).Msg("allocating a producer id")
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
