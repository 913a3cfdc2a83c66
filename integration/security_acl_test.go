package integration

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclBroker is a broker with a SASL_PLAINTEXT listener (PLAIN users admin, alice, bob), the
// authorizer on and admin a super user.
func startACLBroker(t *testing.T, extra ...string) *Broker {
	t.Helper()
	b := startBrokerWith(t, brokerOpts{listener: "SASL_PLAINTEXT", overrides: append([]string{
		"sasl.enabled.mechanisms=PLAIN",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		saslPlainJAAS("SASL_PLAINTEXT", "alice=alice-secret", "bob=bob-secret", "carol=carol-secret"),
		"authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
		"super.users=User:admin",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=false",
	}, extra...)})
	return b
}

// writeProps writes a properties file into dir.
func writeProps(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecurityKafkaACLs drives the authorizer with Kafka's kafka-acls.sh (add, list, remove)
// over SASL, and checks the effect on a producer and a consumer group, the Metadata filter,
// the error codes of the reference, and that ACLs survive a restart.
func TestSecurityKafkaACLs(t *testing.T) {
	b := startACLBroker(t)
	dir := t.TempDir()
	adminProps := writeProps(t, dir, "admin.properties", "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="`+adminPass+`";`)
	acls := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-acls"),
			args: append([]string{"--bootstrap-server", b.Addr(), "--command-config", adminProps}, args...), timeout: 3 * time.Minute})
	}
	ctx := testCtx(t, 3*time.Minute)
	admin := kadm.NewClient(secureClient(t, b.Addr(), nil, plainMech("admin", adminPass)))
	for _, topic := range []string{"orders", "secret"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}

	acls("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "orders")
	acls("--add", "--allow-principal", "User:bob", "--operation", "Read", "--topic", "orders", "--group", "readers")
	acls("--add", "--allow-principal", "User:bob", "--operation", "All", "--resource-pattern-type", "prefixed", "--topic", "sec")
	acls("--add", "--deny-principal", "User:bob", "--operation", "Read", "--topic", "secret")
	out := acls("--list", "--topic", "orders")
	for _, want := range []string{"User:alice", "WRITE", "User:bob", "READ"} {
		if !strings.Contains(out, want) {
			t.Errorf("kafka-acls --list lacks %q:\n%s", want, out)
		}
	}

	alice := secureClient(t, b.Addr(), nil, plainMech("alice", "alice-secret"), kgo.DefaultProduceTopic("orders"),
		kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
	bob := secureClient(t, b.Addr(), nil, plainMech("bob", "bob-secret"), kgo.DefaultProduceTopic("orders"),
		kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
	for i := 0; i < 5; i++ {
		if err := alice.ProduceSync(ctx, kgo.StringRecord("hello")).FirstErr(); err != nil {
			t.Fatalf("alice produces to orders: %v", err)
		}
	}
	if err := bob.ProduceSync(ctx, kgo.StringRecord("nope")).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob produces to orders: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// An idempotent producer needs WRITE on some topic (or IDEMPOTENT_WRITE on the cluster).
	carol := secureClient(t, b.Addr(), nil, plainMech("carol", "carol-secret"), kgo.DefaultProduceTopic("orders"),
		kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
	if err := carol.ProduceSync(ctx, kgo.StringRecord("nope")).FirstErr(); !errors.Is(err, kerr.ClusterAuthorizationFailed) && !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("carol (no ACL) produces: %v, want an authorization failure", err)
	}
	pid := kmsg.NewPtrInitProducerIDRequest()
	pid.TransactionTimeoutMillis = 60000
	if resp, err := pid.RequestWith(ctx, carol); err != nil || resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("carol's InitProducerId: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, resp)
	}
	// Transactions need WRITE on the transactional id.
	acls("--add", "--allow-principal", "User:alice", "--operation", "Write", "--operation", "Describe", "--transactional-id", "tx-alice")
	txnProduce := func(user, pass, txnID string) error {
		cl := secureClient(t, b.Addr(), nil, plainMech(user, pass), kgo.DefaultProduceTopic("orders"), kgo.TransactionalID(txnID),
			kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, kgo.StringRecord("in a transaction")).FirstErr(); err != nil {
			cl.EndTransaction(ctx, kgo.TryAbort)
			return err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
	if err := txnProduce("alice", "alice-secret", "tx-alice"); err != nil {
		t.Errorf("alice's transaction: %v", err)
	}
	if err := txnProduce("alice", "alice-secret", "tx-other"); !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		t.Errorf("alice with another transactional id: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	// Metadata for all topics shows alice only what she may describe (WRITE implies DESCRIBE).
	md, err := kadm.NewClient(alice).ListTopics(ctx)
	if err != nil || len(md) != 1 || !md.Has("orders") {
		t.Errorf("alice sees topics %v (%v), want only orders", md.Names(), err)
	}
	// bob consumes orders in group readers, and not in another group.
	consume := func(group string) error {
		cl := secureClient(t, b.Addr(), nil, plainMech("bob", "bob-secret"), kgo.ConsumeTopics("orders"), kgo.ConsumerGroup(group),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		defer cl.Close()
		got := 0
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for got < 5 {
			fs := cl.PollFetches(cctx)
			if err := fs.Err0(); err != nil {
				return err
			}
			got += fs.NumRecords()
		}
		return cl.CommitUncommittedOffsets(cctx)
	}
	if err := consume("readers"); err != nil {
		t.Errorf("bob consumes in group readers: %v", err)
	}
	if err := consume("others"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("bob consumes in group others: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
	// A literal DENY beats the prefixed ALLOW.
	fetch := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("secret")
	fetch.Topics = append(fetch.Topics, mt)
	if resp, err := fetch.RequestWith(ctx, bob); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Errorf("bob describes secret (prefixed ALL): %v %+v", err, resp)
	}
	cl := secureClient(t, b.Addr(), nil, plainMech("bob", "bob-secret"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"secret": {0: kgo.NewOffset().AtStart()}}))
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	fs := cl.PollFetches(cctx)
	cancel()
	if err := fs.Err0(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob reads secret: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// Non-super users are refused the admin APIs.
	describe := kmsg.NewPtrDescribeACLsRequest()
	describe.ResourceType, describe.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	describe.Operation, describe.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if dres, err := describe.RequestWith(ctx, alice); err != nil || dres.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice describes ACLs: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, dres)
	}
	if _, err := kadm.NewClient(alice).CreateTopic(ctx, 1, 1, nil, "alices"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice creates a topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Removing bob's group ACL takes effect on the next request.
	acls("--remove", "--force", "--allow-principal", "User:bob", "--operation", "Read", "--group", "readers")
	if err := consume("readers"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("bob consumes after the group ACL was removed: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}

	// ACLs survive a restart.
	b.Stop()
	b.Restart(t)
	alice2 := secureClient(t, b.Addr(), nil, plainMech("alice", "alice-secret"), kgo.DefaultProduceTopic("orders"))
	eventually(t, 30*time.Second, func() error { return alice2.ProduceSync(ctx, kgo.StringRecord("again")).FirstErr() })
	if !strings.Contains(acls("--list"), "User:alice") {
		t.Error("ACLs lost in a restart")
	}
	if !strings.Contains(b.Stderr(), "authorization denied") {
		t.Error("no log line for the denials")
	}
}

// TestSecurityMutualTLS authenticates clients by certificate on an SSL listener with
// ssl.client.auth=required: the principal is the certificate's subject (mapped by
// ssl.principal.mapping.rules), ACLs apply to it, and a client without a certificate is
// refused.
func TestSecurityMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	ov := append(p.keyStoreOverrides("JKS"),
		"ssl.client.auth=required",
		`ssl.principal.mapping.rules=RULE:^CN=([^,]+),OU=ops.*$/$1-admin/L,DEFAULT`,
		"authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
		"super.users=User:root-admin",
	)
	b := startBrokerWith(t, brokerOpts{listener: "SSL", overrides: ov})
	ctx := testCtx(t, 2*time.Minute)
	root := p.client(t, pkix.Name{CommonName: "Root", OrganizationalUnit: []string{"ops"}})
	alice := p.client(t, pkix.Name{CommonName: "alice", Organization: []string{"Corp"}})
	mallory := p.client(t, pkix.Name{CommonName: "mallory"})

	admin := kadm.NewClient(secureClient(t, b.Addr(), p.tlsConfig(root), nil))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "certs"); err != nil {
		t.Fatalf("super user by mapped certificate name: %v", err)
	}
	res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:CN=alice,O=Corp").Topics("certs").Operations(kadm.OpWrite))
	if err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs: %v %v", err, res)
	}
	ac := secureClient(t, b.Addr(), p.tlsConfig(alice), nil, kgo.DefaultProduceTopic("certs"), kgo.RecordRetries(1))
	if err := ac.ProduceSync(ctx, kgo.StringRecord("from alice")).FirstErr(); err != nil {
		t.Errorf("alice (by certificate) produces: %v", err)
	}
	mc := secureClient(t, b.Addr(), p.tlsConfig(mallory), nil, kgo.DefaultProduceTopic("certs"), kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))
	if err := mc.ProduceSync(ctx, kgo.StringRecord("from mallory")).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("mallory produces: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	anon := secureClient(t, b.Addr(), p.tlsConfig(), nil, kgo.DialTimeout(5*time.Second))
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := anon.Ping(pctx); err == nil {
		t.Error("a client without a certificate was served")
	}
}
