package broker

// WriteTxnMarkers (key 27), versions 0-1: a transaction coordinator (this broker's own, or
// another broker's) asks this broker, as leader, to write commit or abort markers (control
// batches with an EndTxnMarker carrying the coordinator epoch) for a producer. Each
// partition is answered once the marker is replicated (acks=all) or after
// request.timeout.ms: NOT_LEADER_OR_FOLLOWER where this broker does not lead,
// UNKNOWN_TOPIC_OR_PARTITION for an unknown topic, INVALID_PRODUCER_EPOCH for a marker of an
// older producer epoch, TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch. A
// marker written to __consumer_offsets completes the group coordinator's pending
// transactional offset commits (txns.go).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleWriteTxnMarkers(rc *requestContext, req *kmsg.WriteTxnMarkersRequest) (kmsg.Response, error) {
	if denied := rc.authorizeWriteTxnMarkers(req); denied != nil {
		return denied, nil
	}
	return s.writeTxnMarkers(rc.ctx(), req, time.Duration(s.cfg.RequestTimeoutMs)*time.Millisecond), nil
}
