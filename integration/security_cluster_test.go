package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
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

// TestClusterSASLSSL runs three brokers whose only listener is SASL_SSL: the controller's
// requests, follower fetches and AlterPartition all go over TLS with SCRAM-SHA-512 between
// the brokers, and a client writes with acks=all to a topic replicated three times.
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
