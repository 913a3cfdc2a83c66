package broker

// ListTransactions (key 66), versions 0-1 (KIP-664, kafka-transactions.sh list): the
// transactional ids this broker coordinates, filtered by state, producer id and (v1,
// KIP-994) by having run longer than a duration; unknown state names are echoed back.
// COORDINATOR_LOAD_IN_PROGRESS while a __transaction_state partition loads.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleListTransactions(rc *requestContext, req *kmsg.ListTransactionsRequest) (kmsg.Response, error) {
	resp, err := s.txns.ListTransactions(rc.ctx(), rc.version(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	rc.authorizeListTransactions(resp)
	return resp, nil
}
