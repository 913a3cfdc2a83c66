package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scrape reads the broker's /metrics and returns the families by name.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// metricValue sums the samples of a family whose labels include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	sum := 0.0
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func httpStatus(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetrics scrapes /metrics of a broker under load: the counters move while records are
// produced, and once the load stops they agree with what the test produced and read; the
// partition gauges and a consumer group's lag are right; /healthz and /readyz answer.
func TestMetrics(t *testing.T) {
	const (
		topic   = "metered"
		records = 2000
		size    = 200
	)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b := startBroker(t, "metrics.listen="+addr)
	if s := httpStatus(t, "http://"+addr+"/healthz"); s != http.StatusOK {
		t.Fatalf("/healthz %d", s)
	}
	if s := httpStatus(t, "http://"+addr+"/readyz"); s != http.StatusOK {
		t.Fatalf("/readyz %d", s)
	}
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := testCtx(t, time.Minute)

	before := scrape(t, addr)
	value := strings.Repeat("x", size)
	for i := 0; i < records; i++ {
		if i == records/2 {
			mid := scrape(t, addr)
			if got, was := metricValue(mid, "kafka_server_brokertopicmetrics_messagesin_total", nil), metricValue(before, "kafka_server_brokertopicmetrics_messagesin_total", nil); got <= was {
				t.Errorf("messages in did not move under load: %v then %v", was, got)
			}
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumer := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	read := 0
	for read < records {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		read += fs.NumRecords()
	}
	// A group that committed a quarter of partition 0.
	ends := endOffsets(t, adm, topic)
	committed := ends[0] / 4
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: committed, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "lagging", offs); err != nil {
		t.Fatal(err)
	}

	after := scrape(t, addr)
	tl := map[string]string{"topic": topic}
	if v := metricValue(after, "kafka_server_brokertopicmetrics_messagesin_total", tl); v != records {
		t.Errorf("messages in %v, want %d", v, records)
	}
	bytesIn := metricValue(after, "kafka_server_brokertopicmetrics_bytesin_total", tl)
	if bytesIn < records*size || bytesIn > records*(size+100) {
		t.Errorf("bytes in %v for %d records of %d bytes", bytesIn, records, size)
	}
	if v := metricValue(after, "kafka_server_brokertopicmetrics_bytesout_total", tl); v < bytesIn {
		t.Errorf("bytes out %v, less than the %v bytes in that the consumer read", v, bytesIn)
	}
	if v := metricValue(after, "kafka_log_log_size", tl); v != bytesIn {
		t.Errorf("log size %v, want the %v bytes appended", v, bytesIn)
	}
	if v := metricValue(after, "kafka_log_log_logendoffset", tl); v != records {
		t.Errorf("log end offsets sum %v, want %d", v, records)
	}
	if v := metricValue(after, "kafka_network_requestmetrics_requests_total", map[string]string{"request": "Produce"}); v < records {
		t.Errorf("produce requests %v, want at least %d", v, records)
	}
	if v := metricValue(after, "kafka_network_requestmetrics_totaltime_seconds", map[string]string{"request": "Fetch"}); v < 1 {
		t.Errorf("no fetch latency samples: %v", v)
	}
	if v := metricValue(after, "kafka_server_replicamanager_leadercount", nil); v < 2 {
		t.Errorf("leader count %v", v)
	}
	if v := metricValue(after, "kafka_controller_kafkacontroller_activecontrollercount", nil); v != 1 {
		t.Errorf("active controller count %v on a single node", v)
	}
	if v := metricValue(after, "kafka_server_socketservermetrics_connection_count", nil); v < 2 {
		t.Errorf("connection count %v with three clients open", v)
	}
	lag := metricValue(after, "kafka_consumergroup_lag", map[string]string{"group": "lagging", "topic": topic, "partition": "0"})
	if want := float64(ends[0] - committed); lag != want {
		t.Errorf("lag of group lagging on %s-0: %v, want %v", topic, lag, want)
	}
	if v := metricValue(after, "kafka_coordinator_group_groupmetadatamanager_numgroups", nil); v < 1 {
		t.Errorf("groups %v", v)
	}
	t.Logf("after %d records: bytes in %v, lag %v", records, bytesIn, lag)
}
