package broker

// Cluster mode (zookeeper.connect set): this broker registers in ZooKeeper, runs the
// controller campaign (package controller), takes its partitions' roles from the
// controller's LeaderAndIsr, replicates followed partitions from their leaders, reports ISR
// changes with AlterPartition, re-registers after a session expiry, follows topic config
// changes, and moves its leadership away with ControlledShutdown before stopping.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth"
	"kbroker/broker/config"
	"kbroker/broker/controller"
	"kbroker/protocol"
	"kbroker/zkmeta"
)

// clustered reports whether the broker runs with ZooKeeper.
func (s *Server) clustered() bool { return s.cfg.ZookeeperConnect != "" }

// openStore opens ZooKeeper in cluster mode, the embedded store otherwise.
func (s *Server) openStore(ctx context.Context) (zkmeta.Store, error) {
	if s.clustered() {
		timeout := time.Duration(s.cfg.ZookeeperSessionTimeoutMs) * time.Millisecond
		cctx, cancel := context.WithTimeout(ctx, max(time.Duration(s.cfg.ZookeeperConnectionTimeoutMs)*time.Millisecond, timeout))
		defer cancel()
		st, err := zkmeta.OpenZooKeeper(cctx, s.cfg.ZookeeperConnect, timeout, s.logger.With().Str("component", "zookeeper").Logger())
		if err != nil {
			return nil, fmt.Errorf("connecting to zookeeper.connect=%s: %w", s.cfg.ZookeeperConnect, err)
		}
		return st, nil
	}
	return zkmeta.OpenEmbedded(embeddedDir(s.cfg.LogDirs[0]), s.logger.With().Str("component", "zkmeta").Logger())
}

// startCluster starts the controller campaign and the replication machinery.
func (s *Server) startCluster() {
	id := s.cfg.BrokerID
	sender := controller.NewNetworkSender(fmt.Sprintf("controller-%d", id), s.cfg.InterBrokerListenerName, s.dial,
		s.logger.With().Str("component", "controller-sender").Logger())
	s.ctrl = controller.New(s.meta, sender,
		controller.Config{
			BrokerID:                           id,
			AutoLeaderRebalanceEnable:          s.cfg.AutoLeaderRebalanceEnable,
			LeaderImbalanceCheckInterval:       time.Duration(s.cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second,
			LeaderImbalancePerBrokerPercentage: s.cfg.LeaderImbalancePerBrokerPercentage,
			UncleanLeaderElection: func(overrides map[string]string) bool {
				tc, err := s.config().ResolveTopic(overrides)
				return err == nil && tc.UncleanLeaderElectionEnable
			},
			DeleteTopicEnable:   s.cfg.DeleteTopicEnable,
			RequestTimeout:      30 * time.Second,
			OnElection:          s.metrics.LeaderElection,
			InterBrokerListener: s.cfg.InterBrokerListenerName,
		}, s.logger.With().Str("component", "controller").Logger())
	s.goroutine(func() { s.ctrl.Run(s.ctx) })
	s.rm.fetchers = newFetcherManager(s.ctx, id, s.logger.With().Str("component", "replica-fetcher").Logger(), s.brokerAddr, s.dial, s.goroutine, s.rm.followerQuota)
	s.rm.fetchers.metrics = s.metrics
	s.rm.isr = &isrChanger{self: id, brokerEpoch: s.brokerEpoch.Load, send: s.sendToController, spawn: s.goroutine,
		logger: s.logger.With().Str("component", "isr").Logger(), ctx: s.ctx, metrics: s.metrics}
	s.goroutine(func() { s.rm.isrShrinkLoop(s.ctx, time.Duration(s.cfg.ReplicaLagTimeMaxMs)*time.Millisecond) })
	s.goroutine(s.sessionLoop)
	s.goroutine(s.configChangeLoop)
}

// dial is the one way this broker connects to another: controller requests, follower
// fetches and AlterPartition all come through it, over the inter-broker listener's
// security protocol (security.inter.broker.protocol / inter.broker.listener.name, with
// sasl.mechanism.inter.broker.protocol).
func (s *Server) dial(ctx context.Context, addr, clientID string) (*protocol.Client, error) {
	return s.brokerDialer.Load().Dial(ctx, addr, clientID)
}

// newBrokerDialer builds the inter-broker dialer from the inter-broker listener's settings in
// c (again when a dynamic update changes that listener's key or trust store).
func (s *Server) newBrokerDialer(c *config.Config) error {
	ib := s.cfg.InterBrokerListener()
	d, err := auth.NewBrokerDialer(ib.SecurityProtocol, listenerGetter(c, ib.Name), s.cfg.Security.InterBrokerMechanism)
	if err != nil {
		return fmt.Errorf("inter-broker listener %s: %w", ib.Name, err)
	}
	s.brokerDialer.Store(d)
	return nil
}

// brokerAddr is a live broker's address from the metadata cache.
func (s *Server) brokerAddr(id int32) (string, bool) {
	b, ok := s.cache.broker(id)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s:%d", b.host, b.port), true
}

// controllerLink is the connection to the active controller, redialled when it moves.
type controllerLink struct {
	mu     sync.Mutex
	id     int32
	addr   string
	client *protocol.Client
}

// sendToController delivers a broker-to-controller request (AlterPartition,
// ControlledShutdown), in-process when this broker is the controller.
func (s *Server) sendToController(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	id := s.cache.controller()
	if id == s.cfg.BrokerID && s.ctrl != nil && s.ctrl.IsActive() {
		switch r := req.(type) {
		case *kmsg.AlterPartitionRequest:
			return s.ctrl.AlterPartition(ctx, r), nil
		case *kmsg.ControlledShutdownRequest:
			return s.ctrl.ControlledShutdown(ctx, r), nil
		}
	}
	addr, ok := s.brokerAddr(id)
	if id < 0 || !ok {
		return nil, fmt.Errorf("%w: no known controller", kerr.NotController)
	}
	l := &s.ctrlLink
	l.mu.Lock()
	if l.client == nil || l.client.Err() != nil || l.id != id || l.addr != addr {
		if l.client != nil {
			l.client.Close()
		}
		c, err := s.dial(ctx, addr, fmt.Sprintf("broker-%d", s.cfg.BrokerID))
		if err != nil {
			l.client = nil
			l.mu.Unlock()
			return nil, err
		}
		l.client, l.id, l.addr = c, id, addr
	}
	c := l.client
	l.mu.Unlock()
	return c.Request(ctx, req)
}

// sessionLoop re-registers the broker after a ZooKeeper session expiry (a new broker epoch).
func (s *Server) sessionLoop() {
	events := s.store.SessionEvents()
	var current int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.State {
			case zkmeta.SessionExpired:
				s.logger.Warn().Int64("session", ev.SessionID).Msg("zookeeper session expired")
			case zkmeta.SessionConnected:
				if current != 0 && ev.SessionID != current {
					s.reregister()
				}
				current = ev.SessionID
			}
		}
	}
}

func (s *Server) reregister() {
	for s.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		epoch, err := s.meta.RegisterBroker(ctx, s.brokerInfo())
		cancel()
		if err == nil {
			s.brokerEpoch.Store(epoch)
			s.logger.Info().Int64("broker_epoch", epoch).Msg("broker registered again after session expiry")
			return
		}
		s.logger.Error().Err(err).Msg("re-registering broker")
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// configChangeLoop reloads topic configs when /config/changes gets a notification.
func (s *Server) configChangeLoop() {
	for s.ctx.Err() == nil {
		_, _, ch, err := s.store.ChildrenW(s.ctx, zkmeta.ConfigChangesPath)
		if err != nil {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		s.reloadDynamicConfigSoon()
		s.reloadQuotas()
		s.reloadTopicConfigs()
		select {
		case <-s.ctx.Done():
			return
		case <-ch:
		}
	}
}

// reloadTopicConfigs re-reads the overrides of every known topic and applies changes.
func (s *Server) reloadTopicConfigs() {
	for _, t := range s.cache.all() {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		overrides, err := s.meta.TopicConfig(ctx, t.name)
		cancel()
		if err != nil || equalConfig(overrides, t.overrides) {
			continue
		}
		tc, err := s.config().ResolveTopic(overrides)
		if err != nil {
			s.logger.Warn().Err(err).Str("topic", t.name).Msg("ignoring invalid topic config change")
			continue
		}
		s.applyTopicConfig(t.name, overrides, tc)
	}
}

func equalConfig(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// controlledShutdown asks the controller to move this broker's leadership away before it
// stops (controlled.shutdown.enable), retrying a few times like Kafka.
func (s *Server) controlledShutdown(ctx context.Context) {
	for attempt := 1; attempt <= 3 && ctx.Err() == nil; attempt++ {
		req := kmsg.NewPtrControlledShutdownRequest()
		req.SetVersion(3)
		req.BrokerID, req.BrokerEpoch = s.cfg.BrokerID, s.brokerEpoch.Load()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		raw, err := s.sendToController(rctx, req)
		cancel()
		if err == nil {
			resp := raw.(*kmsg.ControlledShutdownResponse)
			if resp.ErrorCode == 0 && len(resp.PartitionsRemaining) == 0 {
				s.logger.Info().Msg("controlled shutdown: leadership moved")
				return
			}
			err = fmt.Errorf("error %v, %d partitions remaining", kerr.ErrorForCode(resp.ErrorCode), len(resp.PartitionsRemaining))
		}
		s.logger.Warn().Err(err).Int("attempt", attempt).Msg("controlled shutdown incomplete")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// waitForMetadata waits until cond holds on the metadata cache or the timeout passes.
func (s *Server) waitForMetadata(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := s.cache.changes()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("%w: metadata did not propagate within %v", kerr.RequestTimedOut, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// requireController refuses admin requests that Kafka serves only on the active controller
// (CreateTopics, DeleteTopics, CreatePartitions) when this broker is not it.
func (s *Server) requireController() error {
	if s.clustered() && (s.ctrl == nil || !s.ctrl.IsActive()) {
		return fmt.Errorf("%w: broker %d is not the controller", kerr.NotController, s.cfg.BrokerID)
	}
	return nil
}
