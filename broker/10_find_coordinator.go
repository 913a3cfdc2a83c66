package broker

// FindCoordinator (key 10), versions 0-6.
//
//   - Key type 0 (group): the coordinator is the leader of __consumer_offsets partition
//     abs(javaStringHashCode(group)) % partitions; the topic is created on first use
//     (groups.go). As in Kafka, the answer names the leader even while it loads the
//     partition; group requests then get COORDINATOR_LOAD_IN_PROGRESS (Sarama treats that
//     code as fatal in FindCoordinator, so it is not used here).
//   - Key type 1 (transaction): the leader of __transaction_state partition
//     abs(javaStringHashCode(transactional id)) % partitions, the topic created on first use
//     (txns.go); an empty transactional id is INVALID_REQUEST.
//   - Other key types: INVALID_REQUEST.
//   - v4+ batches keys (CoordinatorKeys -> Coordinators[]); v0-3 carry one key at the top
//     level. v0 has no key type (always a group).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleFindCoordinator(rc *requestContext, req *kmsg.FindCoordinatorRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if rc.version() < 4 {
		node, host, port, err := int32(-1), "", int32(-1), rc.coordinatorDenied(req.CoordinatorType, req.CoordinatorKey)
		if err == nil {
			node, host, port, err = s.findCoordinator(rc.ctx(), rc.conn.lsn.name, req.CoordinatorType, req.CoordinatorKey)
		}
		resp.NodeID, resp.Host, resp.Port = node, host, port
		if err != nil {
			resp.ErrorCode = errorCode(err)
			resp.ErrorMessage = errorMessage(err)
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		node, host, port, err := int32(-1), "", int32(-1), rc.coordinatorDenied(req.CoordinatorType, key)
		if err == nil {
			node, host, port, err = s.findCoordinator(rc.ctx(), rc.conn.lsn.name, req.CoordinatorType, key)
		}
		c.NodeID, c.Host, c.Port = node, host, port
		if err != nil {
			c.ErrorCode = errorCode(err)
			c.ErrorMessage = errorMessage(err)
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}

// coordinatorDenied is FindCoordinator's check: DESCRIBE on the group or transactional id.
func (rc *requestContext) coordinatorDenied(keyType int8, key string) error {
	switch {
	case keyType == 0 && !rc.authorize(opDescribe, resGroup, key):
		return kerr.GroupAuthorizationFailed
	case keyType == 1 && !rc.authorize(opDescribe, resTransactionalID, key):
		return kerr.TransactionalIDAuthorizationFailed
	}
	return nil
}

func (s *Server) findCoordinator(ctx context.Context, listener string, keyType int8, key string) (int32, string, int32, error) {
	var node int32
	var err error
	switch keyType {
	case 0:
		node, err = s.groupCoordinator(ctx, key)
	case 1:
		if key == "" {
			return -1, "", -1, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
		}
		node, err = s.txnCoordinatorFor(ctx, key)
	default:
		return -1, "", -1, fmt.Errorf("%w: unknown coordinator key type %d", kerr.InvalidRequest, keyType)
	}
	if err != nil {
		rcLogger := s.logger.Debug()
		if isUnexpected(err) {
			rcLogger = s.logger.Error()
		}
		rcLogger.Err(err).Str("key", key).Int8("key_type", keyType).Msg("find coordinator failed")
		return -1, "", -1, err
	}
	b, ok := s.cache.broker(node)
	if !ok {
		return -1, "", -1, fmt.Errorf("%w: coordinator broker %d is not live", kerr.CoordinatorNotAvailable, node)
	}
	host, port, ok := b.endpoint(listener)
	if !ok {
		return -1, "", -1, fmt.Errorf("%w: coordinator broker %d has no listener %s", kerr.CoordinatorNotAvailable, node, listener)
	}
	return node, host, port, nil
}
