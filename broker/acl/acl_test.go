package acl

import (
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

const (
	topic   = kmsg.ACLResourceTypeTopic
	group   = kmsg.ACLResourceTypeGroup
	cluster = kmsg.ACLResourceTypeCluster
	lit     = kmsg.ACLResourcePatternTypeLiteral
	pre     = kmsg.ACLResourcePatternTypePrefixed
	allow   = kmsg.ACLPermissionTypeAllow
	deny    = kmsg.ACLPermissionTypeDeny
	read    = kmsg.ACLOperationRead
	write   = kmsg.ACLOperationWrite
	descr   = kmsg.ACLOperationDescribe
	all     = kmsg.ACLOperationAll
)

func bind(rt kmsg.ACLResourceType, name string, p kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) Binding {
	return Binding{ResourceType: rt, ResourceName: name, Pattern: p, Principal: principal, Host: host, Operation: op, Permission: perm}
}

func TestAuthorize(t *testing.T) {
	a := New([]string{"User:admin"}, false, zerolog.Nop())
	a.Load([]Binding{
		bind(topic, "orders", lit, "User:alice", "*", write, allow),
		bind(topic, "orders", lit, "User:alice", "10.0.0.9", write, deny),
		bind(topic, "pay-", pre, "User:bob", "*", all, allow),
		bind(topic, "pay-secret", lit, "User:bob", "*", read, deny),
		bind(topic, "*", lit, "User:*", "*", descr, allow),
		bind(topic, "audit", lit, "User:carol", "127.0.0.1", read, allow),
		bind(group, "g-", pre, "User:alice", "*", read, allow),
		bind(cluster, "kafka-cluster", lit, "User:ops", "*", kmsg.ACLOperationAlterConfigs, allow),
	})
	for _, tc := range []struct {
		principal, host string
		op              kmsg.ACLOperation
		rt              kmsg.ACLResourceType
		name            string
		want            bool
	}{
		{"User:alice", "127.0.0.1", write, topic, "orders", true},
		{"User:alice", "10.0.0.9", write, topic, "orders", false},                                   // deny for the host wins
		{"User:alice", "127.0.0.1", read, topic, "orders", false},                                   // no READ granted
		{"User:alice", "127.0.0.1", descr, topic, "orders", true},                                   // WRITE implies DESCRIBE (and * DESCRIBE)
		{"User:dave", "127.0.0.1", descr, topic, "anything", true},                                  // wildcard topic, User:*
		{"User:dave", "127.0.0.1", write, topic, "anything", false},                                 //
		{"User:bob", "127.0.0.1", write, topic, "pay-1", true},                                      // prefixed ALL
		{"User:bob", "127.0.0.1", read, topic, "pay-secret", false},                                 // literal DENY beats prefixed ALLOW
		{"User:bob", "127.0.0.1", write, topic, "pay-secret", true},                                 // the deny is for READ only
		{"User:bob", "127.0.0.1", write, topic, "pa", false},                                        // shorter than the prefix
		{"User:carol", "127.0.0.1", read, topic, "audit", true},                                     // host match
		{"User:carol", "127.0.0.2", read, topic, "audit", false},                                    // other host
		{"User:admin", "10.0.0.9", write, topic, "orders", true},                                    // super user
		{"User:alice", "127.0.0.1", read, group, "g-1", true},                                       //
		{"User:alice", "127.0.0.1", read, group, "other", false},                                    // no ACL on the group, allow.everyone false
		{"User:ops", "127.0.0.1", kmsg.ACLOperationDescribeConfigs, cluster, "kafka-cluster", true}, // ALTER_CONFIGS implies DESCRIBE_CONFIGS
		{"User:ops", "127.0.0.1", kmsg.ACLOperationAlter, cluster, "kafka-cluster", false},
		{"User:alice", "127.0.0.1", write, kmsg.ACLResourceTypeTransactionalId, "tx", false},
	} {
		if got := a.Authorize(tc.principal, tc.host, tc.op, tc.rt, tc.name); got != tc.want {
			t.Errorf("%s from %s %v %v %q: %v, want %v", tc.principal, tc.host, tc.op, tc.rt, tc.name, got, tc.want)
		}
	}

	// allow.everyone.if.no.acl.found: a resource without ACLs is open, one with ACLs is not.
	open := New(nil, true, zerolog.Nop())
	open.Load([]Binding{bind(topic, "closed", lit, "User:alice", "*", read, allow)})
	if !open.Authorize("User:bob", "h", read, topic, "free") || open.Authorize("User:bob", "h", read, topic, "closed") ||
		!open.Authorize("User:bob", "h", read, group, "g") {
		t.Error("allow.everyone.if.no.acl.found not applied as Kafka does")
	}

	if !a.AllowedAnyOfType("User:alice", "127.0.0.1", write, topic) || a.AllowedAnyOfType("User:carol", "127.0.0.1", write, topic) {
		t.Error("AllowedAnyOfType")
	}
	a.Load(append(a.Bindings(), bind(topic, "*", lit, "User:alice", "*", write, deny)))
	if a.AllowedAnyOfType("User:alice", "127.0.0.1", write, topic) {
		t.Error("a wildcard DENY must cancel WRITE on any topic")
	}
}

func TestFilter(t *testing.T) {
	b := bind(topic, "pay-", pre, "User:bob", "*", all, allow)
	name, other := "pay-1", "orders"
	bob, alice := "User:bob", "User:alice"
	for _, tc := range []struct {
		f    Filter
		want bool
	}{
		{Filter{ResourceType: kmsg.ACLResourceTypeAny, Pattern: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, true},
		{Filter{ResourceType: topic, ResourceName: &name, Pattern: kmsg.ACLResourcePatternTypeMatch, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, true},
		{Filter{ResourceType: topic, ResourceName: &other, Pattern: kmsg.ACLResourcePatternTypeMatch, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, false},
		{Filter{ResourceType: topic, ResourceName: &name, Pattern: pre, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, false},
		{Filter{ResourceType: group, Pattern: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, false},
		{Filter{ResourceType: kmsg.ACLResourceTypeAny, Pattern: kmsg.ACLResourcePatternTypeAny, Principal: &bob, Operation: all, Permission: allow}, true},
		{Filter{ResourceType: kmsg.ACLResourceTypeAny, Pattern: kmsg.ACLResourcePatternTypeAny, Principal: &alice, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, false},
	} {
		if got := tc.f.Matches(b); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestZKNames(t *testing.T) {
	b := bind(kmsg.ACLResourceTypeTransactionalId, "tx", pre, "User:bob", "*", kmsg.ACLOperationIdempotentWrite, deny)
	r, e := ToZK(b)
	if r != (zkmeta.ACLResource{Type: "TransactionalId", Name: "tx", Prefixed: true}) ||
		e != (zkmeta.ACLEntry{Principal: "User:bob", Host: "*", Operation: "IdempotentWrite", PermissionType: "Deny"}) {
		t.Errorf("%+v %+v", r, e)
	}
	back, err := FromZK(r, e)
	if err != nil || back != b {
		t.Errorf("round trip %+v %v", back, err)
	}
	if _, err := FromZK(zkmeta.ACLResource{Type: "Topic", Name: "t"}, zkmeta.ACLEntry{Operation: "Fly", PermissionType: "Allow"}); err == nil {
		t.Error("unknown operation accepted")
	}
}

// BenchmarkAuthorize measures one decision with 1,000 ACLs: 900 literal topic ACLs of other
// users, 50 prefixed, a wildcard, and the principal's own ACL.
func BenchmarkAuthorize(b *testing.B) {
	var bs []Binding
	for i := 0; i < 900; i++ {
		bs = append(bs, bind(topic, fmt.Sprintf("topic-%d", i), lit, fmt.Sprintf("User:u%d", i), "*", write, allow))
	}
	for i := 0; i < 50; i++ {
		bs = append(bs, bind(topic, fmt.Sprintf("team-%d-", i), pre, fmt.Sprintf("User:t%d", i), "*", all, allow))
	}
	for i := 0; i < 48; i++ {
		bs = append(bs, bind(group, fmt.Sprintf("group-%d", i), lit, "User:alice", "*", read, allow))
	}
	bs = append(bs, bind(topic, "*", lit, "User:*", "*", descr, allow), bind(topic, "topic-500", lit, "User:alice", "*", write, allow))
	a := New([]string{"User:admin"}, false, zerolog.Nop())
	a.Load(bs)
	if len(a.Bindings()) != 1000 {
		b.Fatalf("%d bindings", len(a.Bindings()))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !a.Allowed("User:alice", "127.0.0.1", write, topic, "topic-500") {
			b.Fatal("denied")
		}
	}
}
