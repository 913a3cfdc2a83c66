package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.ProducePartition("t", 1, 10, false)
	m.FetchPartition("t", 10, false)
	m.Request(0, 9, 0.1, 0.1, 0, nil)
	m.ResponseSent(0, 0.1)
	m.Throttled(0, 1)
	m.ISRShrink()
	m.ISRExpand()
	m.LeaderElection(true)
	m.LogFlush(0.1)
	m.GroupGeneration("g", 1)
	m.SegmentsDeleted(1)
	m.ReplicationBytesIn(1)
	m.ReplicationBytesOut(1)
	m.ForgetTopic("t")
}

func TestMetricsNamesAndValues(t *testing.T) {
	m := New()
	m.ProducePartition("orders", 3, 300, false)
	m.ProducePartition("orders", 2, 200, false)
	m.ProducePartition("orders", 0, 50, true)
	m.FetchPartition("orders", 400, false)
	m.GroupGeneration("g", 1)
	m.GroupGeneration("g", 1)
	m.GroupGeneration("g", 2)
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	p0, p1 := kmsg.NewProduceResponseTopicPartition(), kmsg.NewProduceResponseTopicPartition()
	p1.ErrorCode = 6
	rt.Partitions = append(rt.Partitions, p0, p1)
	resp.Topics = append(resp.Topics, rt)
	m.Request(0, 9, 0.002, 0.001, 0.001, resp)

	if v := testutil.ToFloat64(m.messagesIn.WithLabelValues("orders")); v != 5 {
		t.Errorf("messages in %v, want 5", v)
	}
	if v := testutil.ToFloat64(m.bytesIn.WithLabelValues("orders")); v != 500 {
		t.Errorf("bytes in %v, want 500", v)
	}
	if v := testutil.ToFloat64(m.bytesRejected.WithLabelValues("orders")); v != 50 {
		t.Errorf("bytes rejected %v, want 50", v)
	}
	if v := testutil.ToFloat64(m.failedProduce.WithLabelValues("orders")); v != 1 {
		t.Errorf("failed produce %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.rebalances); v != 2 {
		t.Errorf("rebalances %v, want 2", v)
	}
	if v := testutil.ToFloat64(m.errors.WithLabelValues("Produce", "NOT_LEADER_FOR_PARTITION")); v != 1 {
		t.Errorf("NOT_LEADER errors %v, want 1", v)
	}
	n, err := testutil.GatherAndCount(m.Registry, "kafka_network_requestmetrics_totaltime_seconds")
	if err != nil || n != 1 {
		t.Errorf("totaltime series %d (%v)", n, err)
	}
	m.ForgetTopic("orders")
	if n := testutil.CollectAndCount(m.messagesIn); n != 0 {
		t.Errorf("%d series left after ForgetTopic", n)
	}
	if !strings.HasPrefix(errorName(0), "NONE") {
		t.Error(errorName(0))
	}
}
