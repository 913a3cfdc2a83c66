// Package metrics is the broker's Prometheus instrumentation, named after Kafka's JMX metrics
// the way the Prometheus JMX exporter's common Kafka rules render them (lower case, the MBean
// type and name joined by underscores, counters ending in _total, times in seconds), so that
// dashboards built for Kafka translate: kafka_server_brokertopicmetrics_messagesin_total{topic}
// for kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=..., and so on. Kafka's
// all-topics values are the sums over the topic label.
//
// Metrics holds the collectors the broker updates on its paths (cheap: counters and
// histograms are looked up once per topic or API key and cached); values that can be read from
// the broker's state (partition, leader and ISR counts, log sizes, connections, groups and
// consumer lag) are computed when Prometheus scrapes, by the Collector functions the broker
// registers. Handler serves /metrics, /healthz and /readyz. Everything here is safe for
// concurrent use.
package metrics

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metrics is the broker's registry and the collectors its paths update. A nil *Metrics (metrics
// off) records nothing: every method may be called on it.
type Metrics struct {
	Registry *prometheus.Registry

	messagesIn, bytesIn, bytesOut, bytesRejected   *prometheus.CounterVec
	failedProduce, failedFetch, produceRequests    *prometheus.CounterVec
	fetchRequests                                  *prometheus.CounterVec
	replicationBytesIn, replicationBytesOut        prometheus.Counter
	requests                                       *prometheus.CounterVec
	errors                                         *prometheus.CounterVec
	totalTime, localTime, remoteTime, responseSend *prometheus.HistogramVec
	throttleTime                                   *prometheus.HistogramVec
	isrShrinks, isrExpands                         prometheus.Counter
	leaderElections, uncleanElections              prometheus.Counter
	logFlush                                       prometheus.Histogram
	rebalances                                     prometheus.Counter
	retentionDeletes                               prometheus.Counter
	cleanerRead, cleanerWritten, cleanerPasses     prometheus.Counter
	cleanerTime                                    prometheus.Histogram

	topics sync.Map // topic -> *Topic
	apis   [128]apiMetrics

	gensMu sync.Mutex
	gens   map[string]int32 // group -> latest generation seen
}

// Topic holds one topic's counters (BrokerTopicMetrics with the topic tag).
type Topic struct {
	MessagesIn, BytesIn, BytesOut, BytesRejected prometheus.Counter
	FailedProduce, FailedFetch                   prometheus.Counter
	ProduceRequests, FetchRequests               prometheus.Counter
}

type apiMetrics struct {
	once                                           sync.Once
	name                                           string
	totalTime, localTime, remoteTime, responseSend prometheus.Observer
	versions                                       [32]atomic.Pointer[prometheus.Counter]
	noError                                        prometheus.Counter // errors{error="NONE"}
}

// latencyBuckets spans 0.1 ms to 30 s.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// New registers the broker's collectors, and Go's and the process's, in a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	topicCounter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_" + name + "_total", Help: help}, []string{"topic"})
	}
	m.messagesIn = topicCounter("messagesin", "Records appended by produce requests (MessagesInPerSec).")
	m.bytesIn = topicCounter("bytesin", "Bytes of record batches appended by produce requests (BytesInPerSec).")
	m.bytesOut = topicCounter("bytesout", "Bytes of record batches sent to consumers (BytesOutPerSec).")
	m.bytesRejected = topicCounter("bytesrejected", "Bytes of record batches refused (BytesRejectedPerSec).")
	m.failedProduce = topicCounter("failedproducerequests", "Partitions of produce requests that failed (FailedProduceRequestsPerSec).")
	m.failedFetch = topicCounter("failedfetchrequests", "Partitions of consumer fetch requests that failed (FailedFetchRequestsPerSec).")
	m.produceRequests = topicCounter("totalproducerequests", "Partitions of produce requests (TotalProduceRequestsPerSec).")
	m.fetchRequests = topicCounter("totalfetchrequests", "Partitions of consumer fetch requests (TotalFetchRequestsPerSec).")
	m.replicationBytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_replicationbytesin_total", Help: "Bytes this broker fetched as a follower (ReplicationBytesInPerSec)."})
	m.replicationBytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_replicationbytesout_total", Help: "Bytes this broker sent to followers (ReplicationBytesOutPerSec)."})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_network_requestmetrics_requests_total", Help: "Requests handled, by API and version (RequestsPerSec)."}, []string{"request", "version"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_network_requestmetrics_errors_total", Help: "Error codes in responses, by API and error (ErrorsPerSec)."}, []string{"request", "error"})
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kafka_network_requestmetrics_" + name + "_seconds", Help: help, Buckets: latencyBuckets}, []string{"request"})
	}
	m.totalTime = hist("totaltime", "Time from reading a request to writing its response (TotalTimeMs).")
	m.localTime = hist("localtime", "Time the handler worked on a request (LocalTimeMs).")
	m.remoteTime = hist("remotetime", "Time a request waited for other brokers or data: acks=all, fetch long polls (RemoteTimeMs).")
	m.responseSend = hist("responsesendtime", "Time to write a response to the socket (ResponseSendTimeMs).")
	m.throttleTime = hist("throttletime", "Throttle time given to clients over their quotas (ThrottleTimeMs).")
	m.isrShrinks = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_server_replicamanager_isrshrinks_total", Help: "ISR shrinks of partitions this broker leads (IsrShrinksPerSec)."})
	m.isrExpands = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_server_replicamanager_isrexpands_total", Help: "ISR expansions of partitions this broker leads (IsrExpandsPerSec)."})
	m.leaderElections = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_controller_controllerstats_leaderelections_total", Help: "Leader elections run by this broker as controller (LeaderElectionRateAndTimeMs count)."})
	m.uncleanElections = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_controller_controllerstats_uncleanleaderelections_total", Help: "Unclean leader elections run by this broker as controller (UncleanLeaderElectionsPerSec)."})
	m.logFlush = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kafka_log_logflushstats_logflush_seconds", Help: "Time of log flushes (fsync) (LogFlushRateAndTimeMs).", Buckets: latencyBuckets})
	m.rebalances = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_coordinator_group_rebalances_total", Help: "Rebalances completed by the groups this broker coordinates (generations started)."})
	m.retentionDeletes = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_log_retention_deleted_segments_total", Help: "Log segments deleted by retention or DeleteRecords."})
	m.cleanerRead = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_log_logcleaner_read_bytes_total", Help: "Bytes of dirty segments the log cleaner rewrote."})
	m.cleanerWritten = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_log_logcleaner_written_bytes_total", Help: "Bytes the log cleaner wrote in their place."})
	m.cleanerPasses = prometheus.NewCounter(prometheus.CounterOpts{Name: "kafka_log_logcleaner_cleanings_total", Help: "Logs cleaned (passes that moved a log's first dirty offset)."})
	m.cleanerTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kafka_log_logcleaner_clean_seconds", Help: "Time of one cleaning pass (max-clean-time-secs).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)})
	r.MustRegister(m.cleanerRead, m.cleanerWritten, m.cleanerPasses, m.cleanerTime)
	r.MustRegister(m.messagesIn, m.bytesIn, m.bytesOut, m.bytesRejected, m.failedProduce, m.failedFetch,
		m.produceRequests, m.fetchRequests, m.replicationBytesIn, m.replicationBytesOut, m.requests, m.errors,
		m.totalTime, m.localTime, m.remoteTime, m.responseSend, m.throttleTime, m.isrShrinks, m.isrExpands,
		m.leaderElections, m.uncleanElections, m.logFlush, m.rebalances, m.retentionDeletes,
		prometheus.NewGoCollector())
	return m
}

// ProducePartition records one partition of a produce request: the records and bytes
// appended, or the bytes refused.
func (m *Metrics) ProducePartition(topic string, records, bytes int, failed bool) {
	if m == nil {
		return
	}
	t := m.topic(topic)
	t.ProduceRequests.Inc()
	if failed {
		t.FailedProduce.Inc()
		t.BytesRejected.Add(float64(bytes))
		return
	}
	t.MessagesIn.Add(float64(records))
	t.BytesIn.Add(float64(bytes))
}

// FetchPartition records one partition of a consumer fetch: the bytes sent, or a failure.
func (m *Metrics) FetchPartition(topic string, bytes int, failed bool) {
	if m == nil {
		return
	}
	t := m.topic(topic)
	t.FetchRequests.Inc()
	if failed {
		t.FailedFetch.Inc()
		return
	}
	t.BytesOut.Add(float64(bytes))
}

// GroupGeneration notes a group's generation in a JoinGroup answer; a new one is a rebalance.
func (m *Metrics) GroupGeneration(group string, generation int32) {
	if m == nil {
		return
	}
	m.gensMu.Lock()
	defer m.gensMu.Unlock()
	if m.gens == nil {
		m.gens = map[string]int32{}
	}
	if prev, ok := m.gens[group]; !ok || generation > prev {
		m.gens[group] = generation
		m.rebalances.Inc()
	}
}

// topic returns a topic's counters, created at first use.
func (m *Metrics) topic(name string) *Topic {
	if t, ok := m.topics.Load(name); ok {
		return t.(*Topic)
	}
	t := &Topic{
		MessagesIn: m.messagesIn.WithLabelValues(name), BytesIn: m.bytesIn.WithLabelValues(name),
		BytesOut: m.bytesOut.WithLabelValues(name), BytesRejected: m.bytesRejected.WithLabelValues(name),
		FailedProduce: m.failedProduce.WithLabelValues(name), FailedFetch: m.failedFetch.WithLabelValues(name),
		ProduceRequests: m.produceRequests.WithLabelValues(name), FetchRequests: m.fetchRequests.WithLabelValues(name),
	}
	actual, _ := m.topics.LoadOrStore(name, t)
	return actual.(*Topic)
}

// ForgetTopic drops a deleted topic's series.
func (m *Metrics) ForgetTopic(name string) {
	if m == nil {
		return
	}
	m.topics.Delete(name)
	for _, v := range []*prometheus.CounterVec{m.messagesIn, m.bytesIn, m.bytesOut, m.bytesRejected, m.failedProduce, m.failedFetch, m.produceRequests, m.fetchRequests} {
		v.DeleteLabelValues(name)
	}
}

func (m *Metrics) api(key int16) *apiMetrics {
	if key < 0 || int(key) >= len(m.apis) {
		key = int16(len(m.apis) - 1)
	}
	a := &m.apis[key]
	a.once.Do(func() {
		a.name = kmsg.NameForKey(key)
		if a.name == "" {
			a.name = "Unknown"
		}
		a.totalTime = m.totalTime.WithLabelValues(a.name)
		a.localTime = m.localTime.WithLabelValues(a.name)
		a.remoteTime = m.remoteTime.WithLabelValues(a.name)
		a.responseSend = m.responseSend.WithLabelValues(a.name)
		a.noError = m.errors.WithLabelValues(a.name, "NONE")
	})
	return a
}

// Request records one handled request: its times in seconds and the error codes of its answer.
func (m *Metrics) Request(key, version int16, total, local, remote float64, resp kmsg.Response) {
	if m == nil {
		return
	}
	a := m.api(key)
	m.requestCounter(a, version).Inc()
	a.totalTime.Observe(total)
	a.localTime.Observe(local)
	a.remoteTime.Observe(remote)
	if resp != nil {
		eachErrorCode(resp, func(code int16) {
			if code == 0 {
				a.noError.Inc()
			} else {
				m.errors.WithLabelValues(a.name, errorName(code)).Inc()
			}
		})
	}
}

// requestCounter is the requests counter of an API and version, cached.
func (m *Metrics) requestCounter(a *apiMetrics, version int16) prometheus.Counter {
	if version < 0 || int(version) >= len(a.versions) {
		return m.requests.WithLabelValues(a.name, strconv.Itoa(int(version)))
	}
	if c := a.versions[version].Load(); c != nil {
		return *c
	}
	c := m.requests.WithLabelValues(a.name, strconv.Itoa(int(version)))
	a.versions[version].Store(&c)
	return c
}

// ResponseSent records the time to write a response.
func (m *Metrics) ResponseSent(key int16, seconds float64) {
	if m != nil {
		m.api(key).responseSend.Observe(seconds)
	}
}

// Throttled records a throttle given to a client.
func (m *Metrics) Throttled(key int16, seconds float64) {
	if m == nil {
		return
	}
	m.throttleTime.WithLabelValues(m.api(key).name).Observe(seconds)
}

// ReplicationBytesIn counts bytes fetched as a follower; ReplicationBytesOut bytes sent to
// followers.
func (m *Metrics) ReplicationBytesIn(n int) {
	if m != nil {
		m.replicationBytesIn.Add(float64(n))
	}
}

func (m *Metrics) ReplicationBytesOut(n int) {
	if m != nil {
		m.replicationBytesOut.Add(float64(n))
	}
}

// ISRShrink and ISRExpand count ISR changes of partitions this broker leads.
func (m *Metrics) ISRShrink() {
	if m != nil {
		m.isrShrinks.Inc()
	}
}

func (m *Metrics) ISRExpand() {
	if m != nil {
		m.isrExpands.Inc()
	}
}

// LeaderElection counts a leader election by the controller (unclean or not).
func (m *Metrics) LeaderElection(unclean bool) {
	if m == nil {
		return
	}
	m.leaderElections.Inc()
	if unclean {
		m.uncleanElections.Inc()
	}
}

// LogFlush records one fsync of a log.
func (m *Metrics) LogFlush(seconds float64) {
	if m != nil {
		m.logFlush.Observe(seconds)
	}
}

// LogCleaned records one cleaning pass: bytes rewritten and written, and its time.
func (m *Metrics) LogCleaned(read, written int64, seconds float64) {
	if m == nil {
		return
	}
	m.cleanerRead.Add(float64(read))
	m.cleanerWritten.Add(float64(written))
	m.cleanerPasses.Inc()
	m.cleanerTime.Observe(seconds)
}

// SegmentsDeleted counts log segments removed by retention or DeleteRecords.
func (m *Metrics) SegmentsDeleted(n int) {
	if m != nil {
		m.retentionDeletes.Add(float64(n))
	}
}

// errorName is Kafka's name of an error code (NONE for 0, UNKNOWN_<code> for unknown ones).
func errorName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) {
		return ke.Message
	}
	return "UNKNOWN_" + strconv.Itoa(int(code))
}
