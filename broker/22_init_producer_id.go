package broker

// InitProducerId (key 22), versions 0-4.
//
//   - Without a transactional id (idempotent producers, on by default in the Java client,
//     franz-go and kafka-python 3): a new producer id from this broker's block and epoch 0,
//     whatever producer id and epoch the request carries (Kafka does the same).
//   - With a transactional id: transactions are not supported yet, so the answer is
//     COORDINATOR_NOT_AVAILABLE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleInitProducerID(rc *requestContext, req *kmsg.InitProducerIDRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		if !rc.authorize(opWrite, resTransactionalID, *req.TransactionalID) {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		}
		return resp, nil
	}
	if !rc.mayWriteIdempotently() {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
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
