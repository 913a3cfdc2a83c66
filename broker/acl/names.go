package acl

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// pascal turns kmsg's enum names (IDEMPOTENT_WRITE, TRANSACTIONAL_ID) into the names
// Kafka writes into ZooKeeper (IdempotentWrite, TransactionalId).
func pascal(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(s), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// same compares names ignoring case and underscores (Kafka parses them case-insensitively).
func same(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, "_", ""), strings.ReplaceAll(b, "_", ""))
}

// ToZK is a binding as Kafka stores it.
func ToZK(b Binding) (zkmeta.ACLResource, zkmeta.ACLEntry) {
	return zkmeta.ACLResource{Type: pascal(b.ResourceType.String()), Name: b.ResourceName, Prefixed: b.Pattern == kmsg.ACLResourcePatternTypePrefixed},
		zkmeta.ACLEntry{Principal: b.Principal, Host: b.Host, Operation: pascal(b.Operation.String()), PermissionType: pascal(b.Permission.String())}
}

// FromZK reads a stored binding.
func FromZK(r zkmeta.ACLResource, e zkmeta.ACLEntry) (Binding, error) {
	b := Binding{ResourceName: r.Name, Principal: e.Principal, Host: e.Host, Pattern: kmsg.ACLResourcePatternTypeLiteral}
	if r.Prefixed {
		b.Pattern = kmsg.ACLResourcePatternTypePrefixed
	}
	var ok bool
	if b.ResourceType, ok = parseEnum(r.Type, resourceTypes); !ok {
		return b, fmt.Errorf("unknown resource type %q", r.Type)
	}
	if b.Operation, ok = parseEnum(e.Operation, operations); !ok {
		return b, fmt.Errorf("unknown operation %q", e.Operation)
	}
	if b.Permission, ok = parseEnum(e.PermissionType, permissions); !ok {
		return b, fmt.Errorf("unknown permission type %q", e.PermissionType)
	}
	return b, nil
}

var (
	resourceTypes = []kmsg.ACLResourceType{kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster,
		kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourceTypeDelegationToken, kmsg.ACLResourceTypeUser}
	operations = []kmsg.ACLOperation{kmsg.ACLOperationAll, kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationClusterAction,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
		kmsg.ACLOperationCreateTokens, kmsg.ACLOperationDescribeTokens}
	permissions = []kmsg.ACLPermissionType{kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny}
)

func parseEnum[T interface{ String() string }](s string, values []T) (T, bool) {
	for _, v := range values {
		if same(v.String(), s) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Valid reports why a binding cannot be stored, as CreateAcls checks it ("" when fine).
func Valid(b Binding) string {
	switch {
	case b.ResourceName == "":
		return "Resource name must not be empty"
	case b.Pattern != kmsg.ACLResourcePatternTypeLiteral && b.Pattern != kmsg.ACLResourcePatternTypePrefixed:
		return "Invalid ACL creation pattern type"
	case b.Pattern == kmsg.ACLResourcePatternTypePrefixed && b.ResourceName == Wildcard:
		return "A prefixed ACL cannot use the wildcard name"
	case !contains(resourceTypes, b.ResourceType):
		return "Invalid resource type"
	case !contains(operations, b.Operation):
		return "Invalid operation"
	case !contains(permissions, b.Permission):
		return "Invalid permission type"
	case b.ResourceType == kmsg.ACLResourceTypeCluster && b.ResourceName != "kafka-cluster":
		return "The only valid name for the CLUSTER resource is kafka-cluster"
	case !strings.Contains(b.Principal, ":"):
		return "Could not parse principal from `" + b.Principal + "` (no colon is present separating the principal type from the principal name)"
	case b.Host == "":
		return "Host must not be empty"
	case strings.Contains(b.ResourceName, "/"):
		return "Resource name must not contain '/'"
	}
	return ""
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
