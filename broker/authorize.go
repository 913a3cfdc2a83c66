package broker

// Authorization: with authorizer.class.name set, handlers ask the authorizer (package acl)
// whether the connection's principal, from its host, may do an operation on a resource, as
// Kafka's KafkaApis does. Without one, everything is allowed and nothing is looked up: the
// check costs one nil comparison.

import (
	"net"

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

// authorizer decides; package acl implements it.
type authorizer interface {
	Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool
}

// host is the client's IP address, the host of ACLs.
func (c *conn) host() string {
	h, _, err := net.SplitHostPort(c.raw.RemoteAddr().String())
	if err != nil {
		return c.raw.RemoteAddr().String()
	}
	return h
}

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
