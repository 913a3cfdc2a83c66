package broker

// Authorization: with authorizer.class.name set, handlers ask the authorizer (package acl)
// whether the connection's principal, from its host, may do an operation on a resource, as
// Kafka's KafkaApis does. Without one, everything is allowed and nothing is looked up: the
// check costs one nil comparison.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Operations and resource types, Kafka's AclOperation and ResourceType ids.
const (
	opAll             = kmsg.ACLOperationAll
	opRead            = kmsg.ACLOperationRead
	opWrite           = kmsg.ACLOperationWrite
	opCreate          = kmsg.ACLOperationCreate
	opDelete          = kmsg.ACLOperationDelete
	opAlter           = kmsg.ACLOperationAlter
	opDescribe        = kmsg.ACLOperationDescribe
	opClusterAction   = kmsg.ACLOperationClusterAction
	opDescribeConfigs = kmsg.ACLOperationDescribeConfigs
	opAlterConfigs    = kmsg.ACLOperationAlterConfigs
	opIdempotentWrite = kmsg.ACLOperationIdempotentWrite

	resTopic           = kmsg.ACLResourceTypeTopic
	resGroup           = kmsg.ACLResourceTypeGroup
	resCluster         = kmsg.ACLResourceTypeCluster
	resTransactionalID = kmsg.ACLResourceTypeTransactionalId
)

// clusterResource is the name of the one cluster resource.
const clusterResource = "kafka-cluster"

// host is the client's IP address, the host of ACLs.
func (c *conn) host() string { return c.ip }

// authorize reports whether the request's principal may do op on a resource.
func (rc *requestContext) authorize(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	a := rc.conn.s.authz
	if a == nil {
		return true
	}
	return a.Authorize(rc.conn.principal, rc.conn.host(), op, rt, name)
}

// authorizeCluster is authorize on the cluster resource.
func (rc *requestContext) authorizeCluster(op kmsg.ACLOperation) bool {
	return rc.authorize(op, resCluster, clusterResource)
}

// allowed is authorize without the denial log line, for filtering (Kafka does not log
// topics left out of a Metadata answer for all topics).
func (rc *requestContext) allowed(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	a := rc.conn.s.authz
	return a == nil || a.Allowed(rc.conn.principal, rc.conn.host(), op, rt, name)
}

// mayCreateTopic is CREATE on the cluster or on the topic.
func (rc *requestContext) mayCreateTopic(name string) bool {
	return rc.allowed(opCreate, resCluster, clusterResource) || rc.authorize(opCreate, resTopic, name)
}

// supportedOps are the operations of each resource type that authorized-operations fields
// report (Kafka's AclEntry.supportedOperations).
var supportedOps = map[kmsg.ACLResourceType][]kmsg.ACLOperation{
	resTopic:           {opRead, opWrite, opCreate, opDescribe, opDelete, opAlter, opDescribeConfigs, opAlterConfigs},
	resGroup:           {opRead, opDescribe, opDelete},
	resCluster:         {opCreate, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite, opAlter, opDescribe},
	resTransactionalID: {opDescribe, opWrite},
}

// authorizedOps is the bit field of the operations the principal may do on a resource (bit
// i for operation code i), as Metadata, DescribeGroups and DescribeCluster report it.
// Without an authorizer every supported operation is allowed.
func (rc *requestContext) authorizedOps(rt kmsg.ACLResourceType, name string) int32 {
	var bits int32
	for _, op := range supportedOps[rt] {
		if rc.allowed(op, rt, name) {
			bits |= 1 << uint(op)
		}
	}
	return bits
}

// mayWriteIdempotently is InitProducerId's check for an idempotent producer: IDEMPOTENT_WRITE
// on the cluster, or WRITE on at least one topic.
func (rc *requestContext) mayWriteIdempotently() bool {
	a := rc.conn.s.authz
	if a == nil || rc.allowed(opIdempotentWrite, resCluster, clusterResource) {
		return true
	}
	if a.AllowedAnyOfType(rc.conn.principal, rc.conn.host(), opWrite, resTopic) {
		return true
	}
	return rc.authorizeCluster(opIdempotentWrite) // logs the denial
}

// configResourceDenied checks an operation on a config resource: the topic, or the cluster
// for broker resources.
func (rc *requestContext) configResourceDenied(rt kmsg.ConfigResourceType, name string, op kmsg.ACLOperation) error {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		if !rc.authorize(op, resTopic, name) {
			return kerr.TopicAuthorizationFailed
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !rc.authorizeCluster(op) {
			return kerr.ClusterAuthorizationFailed
		}
	}
	return nil
}

// interBrokerDenied answers an inter-broker request (LeaderAndIsr, StopReplica,
// UpdateMetadata, ControlledShutdown, AlterPartition) with CLUSTER_AUTHORIZATION_FAILED when
// the principal lacks CLUSTER_ACTION on the cluster; nil when allowed.
func (rc *requestContext) interBrokerDenied(req kmsg.Request) kmsg.Response {
	if rc.authorizeCluster(opClusterAction) {
		return nil
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	setErrorCode(resp, kerr.ClusterAuthorizationFailed.Code)
	return resp
}
