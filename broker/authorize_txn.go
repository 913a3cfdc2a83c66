package broker

// Authorization of the transaction and operations APIs, as KafkaApis does it. Each check is
// a no-op without an authorizer.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// authorizeAddPartitionsToTxn answers an AddPartitionsToTxn the principal may not send: v4
// (brokers verifying for a produce) needs CLUSTER_ACTION; v0-3 need WRITE on the
// transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED everywhere) and on each topic
// (else TOPIC_AUTHORIZATION_FAILED there and OPERATION_NOT_ATTEMPTED on the rest). nil when
// allowed.
func (rc *requestContext) authorizeAddPartitionsToTxn(req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	if rc.conn.s.authz == nil {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.SetVersion(req.GetVersion())
	if req.GetVersion() >= 4 {
		if rc.authorizeCluster(opClusterAction) {
			return nil
		}
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	txnOK := rc.authorize(opWrite, resTransactionalID, req.TransactionalID)
	denied := map[string]bool{}
	for _, t := range req.Topics {
		if txnOK && !rc.authorize(opWrite, resTopic, t.Topic) {
			denied[t.Topic] = true
		}
	}
	if txnOK && len(denied) == 0 {
		return nil
	}
	for _, t := range req.Topics {
		code := kerr.OperationNotAttempted.Code
		switch {
		case !txnOK:
			code = kerr.TransactionalIDAuthorizationFailed.Code
		case denied[t.Topic]:
			code = kerr.TopicAuthorizationFailed.Code
		}
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// txnDenied is the error of a transactional request without WRITE on its transactional id,
// or (when group is not empty) without READ on the group; 0 when allowed.
func (rc *requestContext) txnDenied(txnID, group string) int16 {
	switch {
	case !rc.authorize(opWrite, resTransactionalID, txnID):
		return kerr.TransactionalIDAuthorizationFailed.Code
	case group != "" && !rc.authorize(opRead, resGroup, group):
		return kerr.GroupAuthorizationFailed.Code
	}
	return 0
}

// answerWithCode answers req with code in its top-level error field.
func answerWithCode(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	setErrorCode(resp, code)
	return resp
}

// authorizeWriteTxnMarkers answers WriteTxnMarkers with CLUSTER_AUTHORIZATION_FAILED for
// every partition when the principal lacks CLUSTER_ACTION; nil when allowed.
func (rc *requestContext) authorizeWriteTxnMarkers(req *kmsg.WriteTxnMarkersRequest) kmsg.Response {
	if rc.authorizeCluster(opClusterAction) {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.SetVersion(req.GetVersion())
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// authorizeTxnOffsetCommit keeps in req the topics the principal may READ and returns the
// answers of the others (TOPIC_AUTHORIZATION_FAILED).
func (rc *requestContext) authorizeTxnOffsetCommit(req *kmsg.TxnOffsetCommitRequest) []kmsg.TxnOffsetCommitResponseTopic {
	if rc.conn.s.authz == nil {
		return nil
	}
	var denied []kmsg.TxnOffsetCommitResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if rc.authorize(opRead, resTopic, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		denied = append(denied, rt)
	}
	req.Topics = kept
	return denied
}

// authorizeDescribeTransactions marks the transactions the principal may not DESCRIBE.
func (rc *requestContext) authorizeDescribeTransactions(resp *kmsg.DescribeTransactionsResponse) {
	if rc.conn.s.authz == nil {
		return
	}
	for i := range resp.TransactionStates {
		st := &resp.TransactionStates[i]
		if !rc.authorize(opDescribe, resTransactionalID, st.TransactionalID) {
			*st = kmsg.DescribeTransactionsResponseTransactionState{TransactionalID: st.TransactionalID,
				ErrorCode: kerr.TransactionalIDAuthorizationFailed.Code, ProducerID: -1, ProducerEpoch: -1, StartTimestamp: -1}
		}
	}
}

// authorizeListTransactions keeps the transactions the principal may DESCRIBE.
func (rc *requestContext) authorizeListTransactions(resp *kmsg.ListTransactionsResponse) {
	if rc.conn.s.authz == nil {
		return
	}
	resp.TransactionStates = slices.DeleteFunc(resp.TransactionStates, func(st kmsg.ListTransactionsResponseTransactionState) bool {
		return !rc.allowed(opDescribe, resTransactionalID, st.TransactionalID)
	})
}
