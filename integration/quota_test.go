package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rateProducer produces 16 KiB records as fast as the broker lets it and records when each
// acknowledgement came and how many bytes it carried.
type rateProducer struct {
	mu    sync.Mutex
	acked []time.Time
}

func (r *rateProducer) run(ctx context.Context, cl *kgo.Client, topic string) {
	value := make([]byte, 16<<10)
	for ctx.Err() == nil {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(_ *kgo.Record, err error) {
			if err == nil {
				r.mu.Lock()
				r.acked = append(r.acked, time.Now())
				r.mu.Unlock()
			}
		})
	}
}

// rate is the acknowledged bytes per second between from and to.
func (r *rateProducer) rate(from, to time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.acked {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return float64(n*(16<<10)) / to.Sub(from).Seconds()
}

// TestClientQuotas sets producer_byte_rate=1 MiB/s for one client id with Kafka's
// kafka-configs tool: that producer settles within 20% of 1 MiB/s while another client id on
// the same broker, unthrottled, produces several times faster. kadm describes and removes the
// quota; bad values get Kafka's INVALID_REQUEST.
func TestClientQuotas(t *testing.T) {
	const (
		topic = "quota"
		limit = 1 << 20
	)
	// Two one-second samples, so that the rate settles within seconds (Kafka honours both keys).
	b := startBroker(t, "quota.window.num=2", "quota.window.size.seconds=1")
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 1, nil)
	mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs"), args: []string{
		"--bootstrap-server", b.Addr(), "--alter", "--entity-type", "clients", "--entity-name", "slow-producer",
		"--add-config", "producer_byte_rate=1048576"}})

	ctx := testCtx(t, 2*time.Minute)
	described, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(described) != 1 || len(described[0].Values) != 1 || described[0].Values[0].Key != "producer_byte_rate" || described[0].Values[0].Value != limit {
		t.Fatalf("described quotas: %+v", described)
	}

	opts := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.ClientID(id), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0)}
	}
	slowCl, fastCl := newClient(t, b, opts("slow-producer")...), newClient(t, b, opts("fast-producer")...)
	var slow, fast rateProducer
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); slow.run(runCtx, slowCl, topic) }()
	go func() { defer wg.Done(); fast.run(runCtx, fastCl, topic) }()
	start := time.Now()
	time.Sleep(8 * time.Second)
	end := time.Now()
	stop()
	wg.Wait()
	// The first seconds include the burst the sampled rate allows; measure after them.
	from := start.Add(3 * time.Second)
	slowRate, fastRate := slow.rate(from, end), fast.rate(from, end)
	t.Logf("producer_byte_rate=1 MiB/s: throttled client %.2f MiB/s, unthrottled client %.2f MiB/s", slowRate/limit, fastRate/limit)
	if slowRate < 0.8*limit || slowRate > 1.2*limit {
		t.Errorf("throttled producer at %.0f B/s, want within 20%% of %d", slowRate, limit)
	}
	if fastRate < 2*limit {
		t.Errorf("unthrottled producer at %.0f B/s only", fastRate)
	}

	// Bad input.
	bad := func(key string, v float64) {
		t.Helper()
		name := "x"
		res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
			Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}},
			Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: v}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !errors.Is(res[0].Err, kerr.InvalidRequest) {
			t.Errorf("%s=%v: %+v, want INVALID_REQUEST", key, v, res)
		}
	}
	bad("producer_byte_rate", -5)
	bad("producer_byte_rate", 1.5)
	bad("no_such_quota", 1)

	// Removing the quota through kadm.
	name := "slow-producer"
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}},
	}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("removing the quota: %+v %v", res, err)
	}
	out := mustRun(t, cmdSpec{name: kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs"), args: []string{
		"--bootstrap-server", b.Addr(), "--describe", "--entity-type", "clients", "--entity-name", "slow-producer"}})
	if strings.Contains(out, "producer_byte_rate") {
		t.Errorf("quota still described after removal:\n%s", out)
	}
}
