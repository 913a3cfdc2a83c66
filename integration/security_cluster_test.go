package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"kbroker/broker/auth"
	"kbroker/zkmeta"
)

// setScramUser writes a user's SCRAM credential into ZooKeeper as Kafka's
// kafka-configs.sh --zookeeper does, before any broker runs (how a cluster whose brokers
// authenticate to each other with SCRAM is bootstrapped).
func setScramUser(t *testing.T, zk *zkProcess, mech, user, pass string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := zkmeta.OpenZooKeeper(ctx, zk.Addr()+zkChroot, 10*time.Second, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cred, err := auth.NewScramCredential(mech, pass, []byte("salt-"+user), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := zkmeta.NewMetadata(st).SetUserConfig(ctx, user, map[string]string{mech: cred.String()}); err != nil {
		t.Fatal(err)
	}
}

// TestClusterSASLSSL runs three brokers whose only listener is SASL_SSL, with the
// authorizer on: the controller's requests, follower fetches and AlterPartition all go over
// TLS with SCRAM-SHA-512 between the brokers (the broker user is a super user, as Kafka
// needs it for CLUSTER_ACTION), a client writes with acks=all to a topic replicated three
// times, and a SCRAM user and an ACL created through one broker apply on every broker (config
// and ACL change notifications in ZooKeeper).
func TestClusterSASLSSL(t *testing.T) {
	p := newTestPKI(t)
	zk := startZooKeeper(t)
	setScramUser(t, zk, auth.ScramSHA512, "broker", "broker-secret")
	setScramUser(t, zk, auth.ScramSHA512, "alice", "alice-secret")
	ov := append(p.keyStoreOverrides("PEM"),
		"sasl.enabled.mechanisms=SCRAM-SHA-512",
		"security.inter.broker.protocol=SASL_SSL",
		"sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
		`listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";`,
		"authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
		"super.users=User:broker;User:alice",
	)
	c := startClusterOn(t, zk, "SASL_SSL", []kgo.Opt{kgo.DialTLSConfig(p.tlsConfig()), kgo.SASL(scramMech(auth.ScramSHA512, "alice", "alice-secret"))}, ov...)
	topic := "secure-replicated"
	c.createTopic(t, topic, 3, nil) // waits for a full ISR: followers fetched over SASL_SSL
	cl := c.client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	ctx := testCtx(t, time.Minute)
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
			t.Fatalf("acks=all produce over SASL_SSL: %v", err)
		}
	}
	// A user and an ACL made through the cluster apply on every broker: dave may write
	// secure-replicated, whose three partitions are led by different brokers.
	adm := kadm.NewClient(cl)
	if res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "dave-secret"}}); err != nil || res.Error() != nil {
		t.Fatalf("creating dave: %v %v", err, res.Error())
	}
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:dave").Topics(topic).Operations(kadm.OpWrite)); err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs: %v %v", err, res)
	}
	dave := secureClient(t, c.seeds()[0], p.tlsConfig(), scramMech(auth.ScramSHA512, "dave", "dave-secret"),
		kgo.SeedBrokers(c.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.UnknownTopicRetries(1))
	eventually(t, 30*time.Second, func() error {
		for p := int32(0); p < 3; p++ {
			if err := dave.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("dave")}).FirstErr(); err != nil {
				return err
			}
		}
		return nil
	})
	c.createTopic(t, "not-daves", 1, nil)
	if err := dave.ProduceSync(ctx, &kgo.Record{Topic: "not-daves", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("dave writes not-daves: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// The controller moves leadership when a broker stops (ControlledShutdown and
	// LeaderAndIsr over SASL_SSL), and writes go on.
	victim := c.leader(t, topic, 0)
	c.broker(victim).Stop()
	c.waitISR(t, topic, 0, 60*time.Second, "new leader", func(pv partitionView) error {
		if pv.leader == victim || pv.leader < 0 {
			return fmt.Errorf("leader %d", pv.leader)
		}
		return nil
	})
	if err := cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatalf("produce after the leader stopped: %v", err)
	}
}
