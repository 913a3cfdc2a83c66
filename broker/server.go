package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"kbroker/broker/acl"
	"kbroker/broker/auth"
	"kbroker/broker/config"
	"kbroker/broker/controller"
	"kbroker/broker/metrics"
	"kbroker/broker/quota"
	"kbroker/coordinator"
	"kbroker/coordinator/txn"
	"kbroker/log"
	"kbroker/zkmeta"
)

// Server is one broker: listeners, connections, metadata and the partitions it hosts.
type Server struct {
	cfg    *config.Config // static: server.properties and --override (s.config() for dynamic keys)
	logger zerolog.Logger

	dyn      *config.Dynamic // the effective configuration, dynamic broker configs applied
	dynMu    sync.Mutex      // serialises dynamic config changes; guards dynHooks
	dynHooks []func(*config.Config)

	// Client quotas (client_quotas.go): byte rates and request time, and partition mutations.
	quotas, mutationQuotas *quota.Clients

	store       zkmeta.Store
	meta        *zkmeta.Metadata
	clusterID   string
	brokerEpoch atomic.Int64
	ctrl        *controller.Controller // cluster mode: the controller campaign (cluster.go)
	ctrlLink    controllerLink         // cluster mode: connection to the active controller
	// ctrlEpochSeen is the newest controller epoch that sent LeaderAndIsr/UpdateMetadata/StopReplica.
	ctrlEpochSeen atomic.Int32

	cache *metadataCache
	rm    *replicaManager
	pids  *producerIDs
	apis  map[int16]api
	// apiRanges is the ApiVersions answer, built once from apis.
	apiRanges []apiRange

	adminMu sync.Mutex
	groups  *coordinator.Coordinator // consumer groups and committed offsets (groups.go)
	txns    *txn.Coordinator         // transactions (txns.go)
	peers   *peers                   // connections to other brokers for markers and verification

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	listeners []net.Listener
	lns       []*listenerState  // the same listeners with their security settings (listeners.go)
	creds     *auth.Credentials // SCRAM credentials of every user (users.go)
	authz     *acl.Authorizer   // nil without authorizer.class.name (authorize.go, acls.go)
	// brokerDialer connects to other brokers over the inter-broker listener (cluster.go).
	brokerDialer atomic.Pointer[auth.BrokerDialer]
	// cleanerStop stops the log cleaner threads and cleanerSettings are what they run with
	// (log_manager.go; both under dynMu once started).
	cleanerStop     func()
	cleanerSettings cleanerSettings

	metrics    *metrics.Metrics // nil unless metrics.listen is set (metrics_state.go)
	metricsSrv *metrics.Server
	serving    atomic.Bool // Start has finished
	connMu     sync.Mutex
	conns      map[*conn]struct{}
	perIP      map[string]int // open connections per client IP (max.connections.per.ip)
	nconns     atomic.Int64
	connSeq    atomic.Uint64
	buffers    connBuffers // read and write buffers of connections with bytes in flight

	shutdownOnce sync.Once
	started      time.Time
}

// New builds a server from its configuration; Start opens the data and the listeners.
func New(cfg *config.Config, logger zerolog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		dyn:    config.NewDynamic(cfg),
		quotas: quota.NewClients(cfg.QuotaWindowNum, time.Duration(cfg.QuotaWindowSizeSeconds)*time.Second),
		mutationQuotas: quota.NewClients(cfg.ControllerQuotaWindowNum,
			time.Duration(cfg.ControllerQuotaWindowSizeSeconds)*time.Second),
		logger: logger,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
		perIP:  make(map[string]int),
		cache:  newMetadataCache(),
		creds:  auth.NewCredentials(),
	}
	if cfg.MetricsListen != "" {
		s.metrics = metrics.New()
	}
	s.apis, s.apiRanges = buildAPITable(s)
	return s
}

// Addrs returns the addresses the listeners are bound to (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, 0, len(s.listeners))
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// goroutine starts fn as a goroutine that Shutdown waits for.
func (s *Server) goroutine(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Start opens the log directories and the metadata store, loads the hosted partitions and
// starts accepting connections. On error everything opened so far is closed again.
func (s *Server) Start(ctx context.Context) (err error) {
	s.started = time.Now()
	defer func() {
		if err != nil {
			s.closeData()
		}
	}()
	for _, dir := range s.cfg.LogDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("log dir %s: %w", dir, err)
		}
	}
	store, err := s.openStore(ctx)
	if err != nil {
		return fmt.Errorf("opening metadata: %w", err)
	}
	s.store = store
	s.meta = zkmeta.NewMetadata(store)
	if err := s.meta.EnsurePaths(ctx); err != nil {
		return fmt.Errorf("metadata paths: %w", err)
	}
	if s.clusterID, err = s.meta.ClusterID(ctx); err != nil {
		return fmt.Errorf("cluster id: %w", err)
	}
	if err := s.loadDynamicConfig(ctx); err != nil {
		return err
	}
	if err := s.loadQuotas(ctx); err != nil {
		return err
	}
	if err := s.checkLogDirs(); err != nil {
		return err
	}
	s.pids = newProducerIDs(s.meta, s.cfg.BrokerID)
	if err := s.loadCredentials(ctx); err != nil {
		return fmt.Errorf("reading SCRAM credentials: %w", err)
	}
	if err := s.startAuthorizer(ctx); err != nil {
		return fmt.Errorf("authorizer: %w", err)
	}
	s.rm = newReplicaManager(s.cfg, s.logger)
	if s.metrics != nil {
		s.rm.onFlush = func(d time.Duration) { s.metrics.LogFlush(d.Seconds()) }
	}
	s.rm.setReplicationThrottles(s.config())
	s.onConfigChange(s.rm.setReplicationThrottles)
	s.rm.metrics = s.metrics
	if s.rm.cleaner, err = newCleaner(s.config(), s.logger, s.metrics); err != nil {
		return fmt.Errorf("log cleaner: %w", err)
	}

	if err := s.listen(); err != nil {
		return err
	}
	if s.clustered() {
		if err := s.newBrokerDialer(s.config()); err != nil {
			return err
		}
	}
	epoch, err := s.register(ctx)
	if err != nil {
		return fmt.Errorf("registering broker %d: %w", s.cfg.BrokerID, err)
	}
	s.brokerEpoch.Store(epoch)
	if s.clustered() {
		// Roles come from the controller's LeaderAndIsr; the listeners must be up first.
		if err := s.rm.scanDirs(); err != nil {
			return err
		}
		s.startGroups()
		s.startTxns()
		for _, ls := range s.lns {
			s.goroutine(func() { s.acceptLoop(ls) })
		}
		s.startCluster()
	} else {
		if _, _, _, err := s.meta.TryElectController(ctx, s.cfg.BrokerID); err != nil {
			return fmt.Errorf("controller election: %w", err)
		}
		s.cache.setBrokers([]brokerMeta{s.selfMeta()}, s.cfg.BrokerID)
		if err := s.loadTopics(ctx); err != nil {
			return err
		}
		s.startGroups()
		s.startTxns()
		for _, ls := range s.lns {
			s.goroutine(func() { s.acceptLoop(ls) })
		}
	}
	s.goroutine(s.checkpointLoop)
	s.goroutine(s.retentionLoop)
	s.startCleaner()
	s.goroutine(s.startOffsetCheckpointLoop)
	s.goroutine(s.userChangeLoop)
	if s.authz != nil {
		s.goroutine(s.aclChangeLoop)
	}
	if s.cfg.LogFlushIntervalMs > 0 && s.cfg.LogFlushIntervalMs < int64(365*24*time.Hour/time.Millisecond) {
		s.goroutine(s.flushLoop)
	}
	if err := s.startMetrics(); err != nil {
		return err
	}
	s.serving.Store(true)
	s.logger.Info().
		Int32("broker_id", s.cfg.BrokerID).
		Str("cluster_id", s.clusterID).
		Int64("broker_epoch", s.brokerEpoch.Load()).
		Strs("log_dirs", s.cfg.LogDirs).
		Str("listeners", listenerString(s.cfg.Listeners)).
		Dur("startup", time.Since(s.started)).
		Msg("broker started")
	return nil
}

// embeddedMetadataDir is where the embedded store keeps its journal, inside the first log dir.
// The leading dot keeps it apart from partition directories.
const embeddedMetadataDir = ".zkmeta"

func embeddedDir(logDir string) string { return filepath.Join(logDir, embeddedMetadataDir) }

// checkLogDirs refuses log dirs that belong to another broker or cluster, and writes
// meta.properties into new ones.
func (s *Server) checkLogDirs() error {
	for _, dir := range s.cfg.LogDirs {
		m, ok, err := log.ReadMeta(nil, dir)
		if err != nil {
			return fmt.Errorf("log dir %s: reading meta.properties: %w", dir, err)
		}
		if ok {
			if m.BrokerID != s.cfg.BrokerID {
				return fmt.Errorf("log dir %s belongs to broker.id=%d but this broker is broker.id=%d; refusing to use it", dir, m.BrokerID, s.cfg.BrokerID)
			}
			if m.ClusterID != "" && m.ClusterID != s.clusterID {
				return fmt.Errorf("log dir %s belongs to cluster.id=%s but the metadata store is cluster.id=%s; refusing to use it", dir, m.ClusterID, s.clusterID)
			}
			continue
		}
		if err := log.WriteMeta(nil, dir, log.Meta{ClusterID: s.clusterID, BrokerID: s.cfg.BrokerID}); err != nil {
			return fmt.Errorf("log dir %s: writing meta.properties: %w", dir, err)
		}
	}
	return nil
}

func (s *Server) acceptLoop(ls *listenerState) {
	var backoff time.Duration
	for {
		nc, err := ls.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.logger.Error().Err(err).Dur("backoff", backoff).Msg("accept failed")
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if max := s.cfg.MaxConnections; max > 0 && s.nconns.Load() >= int64(max) {
			s.logger.Warn().Str("remote", nc.RemoteAddr().String()).Int("max_connections", max).Msg("refusing connection: max.connections reached")
			nc.Close()
			continue
		}
		c := newConn(s, nc, ls)
		s.connMu.Lock()
		ip := remoteIP(nc)
		if max := s.cfg.MaxConnectionsPerIP; max > 0 && s.perIP[ip] >= max {
			s.connMu.Unlock()
			s.logger.Warn().Str("remote", nc.RemoteAddr().String()).Int("max_connections_per_ip", max).Msg("refusing connection: max.connections.per.ip reached")
			nc.Close()
			continue
		}
		s.perIP[ip]++
		s.conns[c] = struct{}{}
		s.connMu.Unlock()
		s.nconns.Add(1)
		s.goroutine(c.serve)
	}
}

func (s *Server) removeConn(c *conn) {
	s.connMu.Lock()
	delete(s.conns, c)
	ip := c.ip
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.connMu.Unlock()
	s.nconns.Add(-1)
}

// Shutdown stops accepting, closes every connection, flushes and closes the partitions,
// writes the checkpoint files and deregisters the broker. It waits for every goroutine the
// server started, or until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdownOnce.Do(func() {
		s.logger.Info().Msg("broker shutting down")
		if s.clustered() && s.cfg.ControlledShutdownEnable && s.rm != nil {
			s.controlledShutdown(ctx)
		}
		s.cancel()
		for _, l := range s.listeners {
			l.Close()
		}
		if s.metricsSrv != nil {
			_ = s.metricsSrv.Close(ctx)
		}
		s.connMu.Lock()
		for c := range s.conns {
			c.close()
		}
		s.connMu.Unlock()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("waiting for connections to end: %w", ctx.Err())
		}
		if cerr := s.closeData(); cerr != nil && err == nil {
			err = cerr
		}
		s.logger.Info().Err(err).Msg("broker stopped")
	})
	return err
}

// closeData flushes and closes every partition, writes checkpoints and closes the store.
func (s *Server) closeData() error {
	var first error
	if s.peers != nil {
		s.peers.close()
	}
	if s.rm != nil {
		if err := s.rm.close(); err != nil {
			first = err
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil && first == nil {
			first = err
		}
		s.store = nil
	}
	return first
}

func (s *Server) checkpointLoop() {
	interval := time.Duration(s.cfg.LogFlushOffsetCheckpointIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := s.rm.writeCheckpoints(); err != nil {
				s.logger.Error().Err(err).Msg("writing checkpoints")
			}
		}
	}
}

// flushLoop fsyncs every partition each log.flush.interval.ms.
func (s *Server) flushLoop() {
	t := time.NewTicker(time.Duration(s.cfg.LogFlushIntervalMs) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.rm.flushAll()
		}
	}
}

func listenerString(ls []config.Listener) string {
	out := ""
	for i, l := range ls {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("%s://%s:%d", l.Name, l.Host, l.Port)
	}
	return out
}

// register writes this broker's registration. After a kill -9 the previous process's
// ephemeral registration lives until its ZooKeeper session expires; rather than failing to
// start (as Kafka does), wait for that, up to 1.5 session timeouts.
func (s *Server) register(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(time.Duration(s.cfg.ZookeeperSessionTimeoutMs) * time.Millisecond * 3 / 2)
	for {
		epoch, err := s.meta.RegisterBroker(ctx, s.brokerInfo())
		if err == nil || !errors.Is(err, zkmeta.ErrNodeExists) || time.Now().After(deadline) {
			return epoch, err
		}
		s.logger.Info().Msg("broker id still registered by a previous session; waiting for it to expire")
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// remoteIP is the client's IP address, the key of max.connections.per.ip.
func remoteIP(nc net.Conn) string {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}
