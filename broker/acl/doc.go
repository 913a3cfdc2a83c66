// Package acl is the ACL authorizer, Kafka's AclAuthorizer: ACL bindings (resource
// pattern, principal, host, operation, allow or deny), the decision for one request, and
// the filters of DescribeAcls and DeleteAcls.
//
// A decision, as AclAuthorizer makes it: super users may do everything; otherwise the
// ACLs whose pattern matches the resource (literal name, the wildcard "*", or a prefix of
// the name) and whose principal (or User:*) and host (or *) match are looked at. Any DENY
// for the operation (or ALL) wins. Then an ALLOW for the operation, ALL, or an operation
// that implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
// DESCRIBE_CONFIGS) allows. A resource with no matching ACL at all is allowed only with
// allow.everyone.if.no.acl.found.
//
// The bindings live in an immutable index swapped atomically on every change, so
// Authorize takes no lock and allocates nothing: a few map lookups (the literal name, "*",
// and one per distinct prefix length). The broker keeps the bindings in ZooKeeper
// (package zkmeta) and calls Load after each change notification.
package acl
