package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/metrics"
	"kbroker/protocol"
)

// Metrics read from the broker's state when Prometheus scrapes (metrics.listen): partitions,
// leaders, under-replicated and under-min-ISR partitions, offline partitions and the active
// controller, per-partition log size, segments and offsets, connections per listener, groups
// per state and the consumer lag of the groups this broker coordinates.

var (
	descPartitions      = prometheus.NewDesc("kafka_server_replicamanager_partitioncount", "Partitions hosted by this broker (PartitionCount).", nil, nil)
	descLeaders         = prometheus.NewDesc("kafka_server_replicamanager_leadercount", "Partitions this broker leads (LeaderCount).", nil, nil)
	descUnderReplicated = prometheus.NewDesc("kafka_server_replicamanager_underreplicatedpartitions", "Partitions this broker leads whose ISR is smaller than their replicas (UnderReplicatedPartitions).", nil, nil)
	descUnderMinISR     = prometheus.NewDesc("kafka_server_replicamanager_underminisrpartitioncount", "Partitions this broker leads whose ISR is smaller than min.insync.replicas (UnderMinIsrPartitionCount).", nil, nil)
	descAtMinISR        = prometheus.NewDesc("kafka_server_replicamanager_atminisrpartitioncount", "Partitions this broker leads whose ISR is exactly min.insync.replicas (AtMinIsrPartitionCount).", nil, nil)
	descActiveCtrl      = prometheus.NewDesc("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller, 0 elsewhere (ActiveControllerCount).", nil, nil)
	descOffline         = prometheus.NewDesc("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader, reported by the active controller (OfflinePartitionsCount).", nil, nil)
	descConnections     = prometheus.NewDesc("kafka_server_socketservermetrics_connection_count", "Open client connections, by listener (connection-count).", []string{"listener"}, nil)
	descGroups          = prometheus.NewDesc("kafka_coordinator_group_groupmetadatamanager_numgroups", "Groups this broker coordinates, by state (NumGroups, NumGroups<State>).", []string{"state"}, nil)
	descMembers         = prometheus.NewDesc("kafka_coordinator_group_members", "Members of the groups this broker coordinates.", []string{"group"}, nil)
	descLag             = prometheus.NewDesc("kafka_consumergroup_lag", "Records between a group's committed offset and the partition's high watermark, computed by the group's coordinator.", []string{"group", "topic", "partition"}, nil)
	descCommitted       = prometheus.NewDesc("kafka_consumergroup_current_offset", "A group's committed offset for a partition.", []string{"group", "topic", "partition"}, nil)
)

// stateCollector computes the state metrics at scrape time.
type stateCollector struct {
	s *Server

	mu       sync.Mutex
	hwCache  map[string]int64 // "topic/partition" -> high watermark of remote leaders
	hwCached time.Time
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitions, descLeaders, descUnderReplicated, descUnderMinISR, descAtMinISR, descActiveCtrl,
		descOffline, descConnections, descGroups, descMembers, descLag, descCommitted} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var parts, leaders, under, underMin, atMin int
	if s.rm != nil {
		for _, p := range s.rm.snapshot() {
			parts++
			if !p.isLeader.Load() {
				continue
			}
			leaders++
			p.mu.Lock()
			isr, replicas := len(p.isr), len(p.replicas)
			p.mu.Unlock()
			minISR := p.cfg.Load().MinInsyncReplicas
			if isr < replicas {
				under++
			}
			if isr < minISR {
				underMin++
			} else if isr == minISR {
				atMin++
			}
		}
	}
	gauge(descPartitions, float64(parts))
	gauge(descLeaders, float64(leaders))
	gauge(descUnderReplicated, float64(under))
	gauge(descUnderMinISR, float64(underMin))
	gauge(descAtMinISR, float64(atMin))
	active := !s.clustered() || (s.ctrl != nil && s.ctrl.IsActive())
	offline := 0
	if active {
		for _, t := range s.cache.all() {
			for _, pm := range t.partitions {
				if pm.leader < 0 {
					offline++
				}
			}
		}
		gauge(descActiveCtrl, 1)
	} else {
		gauge(descActiveCtrl, 0)
	}
	gauge(descOffline, float64(offline))
	for listener, n := range s.connectionsByListener() {
		gauge(descConnections, float64(n), listener)
	}
	c.collectGroups(gauge)
}

// partitionFamilies are the per-partition log metrics, written straight in the text format
// (metrics.TextSample): at 10,000 partitions building them as metric objects on every scrape
// would take most of the scrape's time.
var partitionFamilies = []struct {
	name, help string
	value      func(p *partition) int64
}{
	{"kafka_log_log_size", "Bytes of a partition's log segments (Log Size).", func(p *partition) int64 { return p.log.Size() }},
	{"kafka_log_log_numlogsegments", "Segments of a partition's log (NumLogSegments).", func(p *partition) int64 { return int64(p.log.NumSegments()) }},
	{"kafka_log_log_logstartoffset", "A partition's log start offset (LogStartOffset).", func(p *partition) int64 { return p.log.LogStartOffset() }},
	{"kafka_log_log_logendoffset", "A partition's log end offset (LogEndOffset).", func(p *partition) int64 { return p.log.LogEndOffset() }},
}

// writePartitionMetrics writes partitionFamilies for every hosted partition.
func (s *Server) writePartitionMetrics(w *bufio.Writer) {
	if s.rm == nil {
		return
	}
	parts := s.rm.snapshot()
	for _, f := range partitionFamilies {
		metrics.TextFamily(w, f.name, f.help)
		for _, p := range parts {
			metrics.TextSample(w, f.name, f.value(p), "topic", p.tp.Topic, "partition", strconv.Itoa(int(p.tp.Partition)))
		}
	}
}

// connectionsByListener counts the open client connections per listener name.
func (s *Server) connectionsByListener() map[string]int {
	out := map[string]int{}
	for _, l := range s.cfg.Listeners {
		out[l.Name] = 0
	}
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		out[c.lsn.name]++
	}
	return out
}

// collectGroups reports the groups this broker coordinates, their members, committed offsets
// and lag, through the coordinator's own request API.
func (c *stateCollector) collectGroups(gauge func(*prometheus.Desc, float64, ...string)) {
	s := c.s
	if s.groups == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	lg, err := s.groups.ListGroups(ctx, kmsg.NewPtrListGroupsRequest())
	if err != nil {
		return
	}
	byState := map[string]int{}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	for _, g := range lg.Groups {
		byState[g.GroupState]++
		dg.Groups = append(dg.Groups, g.Group)
	}
	for state, n := range byState {
		gauge(descGroups, float64(n), state)
	}
	if len(dg.Groups) == 0 {
		return
	}
	if resp, err := s.groups.DescribeGroups(ctx, dg); err == nil {
		for _, g := range resp.Groups {
			gauge(descMembers, float64(len(g.Members)), g.Group)
		}
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range dg.Groups {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		of.Groups = append(of.Groups, rg)
	}
	resp, err := s.groups.OffsetFetch(ctx, 8, of)
	if err != nil {
		return
	}
	hws := c.highWatermarks(ctx, resp)
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if p.Offset < 0 {
					continue
				}
				pn := strconv.Itoa(int(p.Partition))
				gauge(descCommitted, float64(p.Offset), g.Group, t.Topic, pn)
				if hw, ok := hws[t.Topic+"/"+pn]; ok {
					gauge(descLag, float64(max(hw-p.Offset, 0)), g.Group, t.Topic, pn)
				}
			}
		}
	}
}

// lagRefresh bounds how often the high watermarks of partitions led elsewhere are asked for.
const lagRefresh = 10 * time.Second

// highWatermarks returns the high watermark of every partition the groups committed to: local
// leaders directly, others asked of their leaders with ListOffsets (cached for lagRefresh).
func (c *stateCollector) highWatermarks(ctx context.Context, resp *kmsg.OffsetFetchResponse) map[string]int64 {
	s := c.s
	out := map[string]int64{}
	remote := map[int32]*kmsg.ListOffsetsRequest{}
	c.mu.Lock()
	fresh := time.Since(c.hwCached) < lagRefresh
	cached := c.hwCache
	c.mu.Unlock()
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				key := t.Topic + "/" + strconv.Itoa(int(p.Partition))
				if pp, ok := s.rm.get(t.Topic, p.Partition); ok && pp.isLeader.Load() {
					out[key] = pp.highWatermark()
					continue
				}
				if fresh {
					if hw, ok := cached[key]; ok {
						out[key] = hw
					}
					continue
				}
				leader := s.leaderOf(t.Topic, p.Partition)
				if leader < 0 {
					continue
				}
				req := remote[leader]
				if req == nil {
					req = kmsg.NewPtrListOffsetsRequest()
					req.ReplicaID = -1
					remote[leader] = req
				}
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = t.Topic
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Partition, rp.Timestamp = p.Partition, -1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
			}
		}
	}
	if fresh || len(remote) == 0 {
		return out
	}
	next := map[string]int64{}
	for leader, req := range remote {
		hws, err := s.askListOffsets(ctx, leader, req)
		if err != nil {
			s.logger.Debug().Err(err).Int32("leader", leader).Msg("high watermarks for consumer lag")
			continue
		}
		for k, v := range hws {
			next[k], out[k] = v, v
		}
	}
	c.mu.Lock()
	c.hwCache, c.hwCached = next, time.Now()
	c.mu.Unlock()
	return out
}

// leaderOf is a partition's leader in the metadata cache, -1 when unknown.
func (s *Server) leaderOf(topic string, partition int32) int32 {
	t, ok := s.cache.topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.partitions) {
		return -1
	}
	return t.partitions[partition].leader
}

// askListOffsets sends one ListOffsets to a broker and returns "topic/partition" -> offset.
func (s *Server) askListOffsets(ctx context.Context, broker int32, req *kmsg.ListOffsetsRequest) (map[string]int64, error) {
	addr, ok := s.brokerAddr(broker)
	if !ok {
		return nil, fmt.Errorf("broker %d unknown", broker)
	}
	cl, err := protocol.Dial(ctx, addr, "metrics-lag")
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req.SetVersion(4)
	raw, err := cl.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range raw.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[t.Topic+"/"+strconv.Itoa(int(p.Partition))] = p.Offset
			}
		}
	}
	return out, nil
}

// ready reports whether the broker serves: started, and in a cluster registered with a known
// controller (/readyz).
func (s *Server) ready() error {
	if !s.serving.Load() {
		return errors.New("starting")
	}
	if s.clustered() && s.cache.controller() < 0 {
		return errors.New("no controller known")
	}
	return nil
}

// startMetrics serves the metrics when metrics.listen is set.
func (s *Server) startMetrics() error {
	if s.cfg.MetricsListen == "" {
		return nil
	}
	s.metrics.Registry.MustRegister(&stateCollector{s: s})
	srv, err := metrics.Listen(s.cfg.MetricsListen, s.metrics, s.ready, s.writePartitionMetrics, s.logger)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w", s.cfg.MetricsListen, err)
	}
	s.metricsSrv = srv
	s.logger.Info().Str("addr", srv.Addr().String()).Msg("serving metrics on /metrics, /healthz, /readyz")
	return nil
}
