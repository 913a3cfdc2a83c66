package broker

// DescribeTransactions (key 65), version 0 (KIP-664, kafka-transactions.sh describe): the
// state, producer id and epoch, timeout, start time and partitions of transactional ids
// this broker coordinates (NOT_COORDINATOR for others, TRANSACTIONAL_ID_NOT_FOUND for
// unknown ones).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeTransactions(rc *requestContext, req *kmsg.DescribeTransactionsRequest) (kmsg.Response, error) {
	resp, err := s.txns.DescribeTransactions(rc.ctx(), req)
	if err != nil {
		return nil, groupCallErr(err)
	}
	rc.authorizeDescribeTransactions(resp)
	return resp, nil
}
