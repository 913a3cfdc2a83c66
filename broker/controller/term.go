package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"kbroker/zkmeta"
)

// term is one period as active controller. Everything below is owned by the
// event goroutine (run), except events, done and the fields set in newTerm.
type term struct {
	c         *Controller
	ctx       context.Context
	cancel    context.CancelFunc
	epoch     int32
	zkVersion int32
	fenced    *zkmeta.Metadata
	logger    zerolog.Logger
	events    chan event
	done      chan struct{} // closed when the event loop has ended

	brokers      map[int32]zkmeta.BrokerInfo // live brokers, shutting-down ones included
	shuttingDown map[int32]bool
	topics       map[string]*topicInfo
	topicIDs     map[[16]byte]string
	deleting     map[string]bool // topics queued for deletion
	queues       map[int32]*brokerQueue
	watchedTopic map[string]bool // a data watch on /brokers/topics/<t> is pending
	watchedBrkr  map[int32]bool  // a data watch on /brokers/ids/<id> is pending
	batch        *batch
	rebalance    *time.Timer
}

// topicInfo is the controller's view of a topic.
type topicInfo struct {
	name     string
	id       [16]byte
	replicas map[int32][]int32    // the full replica set (during a reassignment, target + original)
	adding   map[int32][]int32    // partitions being reassigned: replicas being added
	removing map[int32][]int32    // and removed (reassign.go)
	states   map[int32]*partState // partitions without a state znode are absent
}

// partState is a partition's state and the version of its znode (the
// partition epoch).
type partState struct {
	zkmeta.PartitionState
	version int32
}

type tp struct {
	topic     string
	partition int32
}

// event is something for the event goroutine to do.
type event interface{}

type (
	evBrokersChanged struct{}
	evTopicsChanged  struct{}
	evDeletions      struct{}
	evTopicData      struct{ topic string }
	evBrokerData     struct{ id int32 }
	evControllerNode struct{}
	evSessionExpired struct{}
	evRebalance      struct{}
	evZkReassignment struct{}
	// evCall runs fn on the event goroutine (requests from brokers).
	evCall struct{ fn func(t *term) error }
)

var errSessionExpired = errors.New("controller: session expired")
var errNotOwner = errors.New("controller: /controller is no longer this session's")

func newTerm(parent context.Context, c *Controller, epoch, zkVersion int32) *term {
	ctx, cancel := context.WithCancel(parent)
	return &term{
		c:            c,
		ctx:          ctx,
		cancel:       cancel,
		epoch:        epoch,
		zkVersion:    zkVersion,
		fenced:       c.meta.Fenced(zkVersion),
		logger:       c.logger.With().Int32("controller_epoch", epoch).Logger(),
		events:       make(chan event, 1024),
		done:         make(chan struct{}),
		brokers:      map[int32]zkmeta.BrokerInfo{},
		shuttingDown: map[int32]bool{},
		topics:       map[string]*topicInfo{},
		topicIDs:     map[[16]byte]string{},
		deleting:     map[string]bool{},
		queues:       map[int32]*brokerQueue{},
		watchedTopic: map[string]bool{},
		watchedBrkr:  map[int32]bool{},
		batch:        newBatch(),
	}
}

// close stops the queues and the watch forwarders; run must have returned.
func (t *term) close() {
	t.cancel()
	if t.rebalance != nil {
		t.rebalance.Stop()
	}
	for id, q := range t.queues {
		q.stop()
		delete(t.queues, id)
	}
}

// run performs the failover and then processes events until the term ends.
func (t *term) run() error {
	defer close(t.done)
	if err := t.watchController(); err != nil {
		return err
	}
	if err := t.failover(); err != nil {
		return fmt.Errorf("controller failover: %w", err)
	}
	for {
		select {
		case <-t.ctx.Done():
			return t.ctx.Err()
		case ev := <-t.events:
			if err := t.handle(ev); err != nil {
				return err
			}
		}
	}
}

// handle processes one event; an error ends the term.
func (t *term) handle(ev event) error {
	var err error
	switch e := ev.(type) {
	case evBrokersChanged:
		err = t.onBrokersChanged()
	case evTopicsChanged:
		err = t.onTopicsChanged()
	case evDeletions:
		err = t.onDeletions()
	case evTopicData:
		err = t.onTopicData(e.topic)
	case evBrokerData:
		err = t.onBrokerData(e.id)
	case evControllerNode:
		err = t.watchController()
	case evSessionExpired:
		err = errSessionExpired
	case evRebalance:
		err = t.onRebalance()
	case evZkReassignment:
		err = t.onZkReassignment()
	case evCall:
		err = e.fn(t)
	}
	t.flush()
	if err != nil && !errors.Is(err, zkmeta.ErrControllerMoved) && !errors.Is(err, errSessionExpired) &&
		!errors.Is(err, errNotOwner) && !isSessionGone(err) {
		t.logger.Error().Err(err).Msg("controller event failed; resigning to start over")
	}
	return err
}

// post hands an event to the event goroutine (from any goroutine).
func (t *term) post(ev event) {
	select {
	case t.events <- ev:
	case <-t.ctx.Done():
	}
}

// forward posts ev when the watch fires, or evSessionExpired when the
// session ended.
func (t *term) forward(ch <-chan zkmeta.Event, ev event) {
	if ch == nil {
		return
	}
	go func() {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Type == zkmeta.EventSessionExpired {
				t.post(evSessionExpired{})
				return
			}
			t.post(ev)
		case <-t.ctx.Done():
		}
	}()
}

// watchController checks that /controller is still this session's and
// watches it.
func (t *term) watchController() error {
	store := t.c.meta.Store()
	ok, st, ch, err := store.ExistsW(t.ctx, zkmeta.ControllerPath)
	if err != nil {
		return err
	}
	t.forward(ch, evControllerNode{})
	if !ok || st.EphemeralOwner != store.SessionID() {
		return errNotOwner
	}
	id, ok, err := t.c.meta.Controller(t.ctx)
	if err != nil {
		return err
	}
	if !ok || id != t.c.cfg.BrokerID {
		return errNotOwner
	}
	return nil
}

// ---- helpers over the state

// live reports whether a broker can take leadership or be in an ISR: it is
// registered and not shutting down.
func (t *term) live(id int32) bool {
	_, ok := t.brokers[id]
	return ok && !t.shuttingDown[id]
}

// registered reports whether a broker is registered (shutting down or not).
func (t *term) registered(id int32) bool {
	_, ok := t.brokers[id]
	return ok
}

func (t *term) liveBrokerIDs() []int32 {
	ids := make([]int32, 0, len(t.brokers))
	for id := range t.brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (t *term) sortedTopics() []string {
	names := make([]string, 0, len(t.topics))
	for n := range t.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedParts[V any](m map[int32]V) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (t *term) state(p tp) *partState {
	ti := t.topics[p.topic]
	if ti == nil {
		return nil
	}
	return ti.states[p.partition]
}

func (t *term) replicas(p tp) []int32 {
	ti := t.topics[p.topic]
	if ti == nil {
		return nil
	}
	return ti.replicas[p.partition]
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// fencedMulti runs ops behind the controller-epoch check.
func (t *term) fencedMulti(ops ...zkmeta.Op) error {
	all := append([]zkmeta.Op{zkmeta.CheckOp{Path: zkmeta.ControllerEpochPath, Version: t.zkVersion}}, ops...)
	err := t.c.meta.Store().Multi(t.ctx, all...)
	var oe *zkmeta.OpError
	if errors.As(err, &oe) && oe.Index == 0 {
		return fmt.Errorf("%w: %v", zkmeta.ErrControllerMoved, err)
	}
	return err
}

// startQueue opens the send queue of a newly live broker.
func (t *term) startQueue(b zkmeta.BrokerInfo) {
	if q := t.queues[b.ID]; q != nil {
		q.stop()
	}
	t.queues[b.ID] = startQueue(t.ctx, b, t.c.sender, t.c.cfg.RequestTimeout, t.logger)
}

func (t *term) stopQueue(id int32) {
	if q := t.queues[id]; q != nil {
		q.stop()
		delete(t.queues, id)
	}
}

// logState logs a partition state change.
func (t *term) logState(p tp, st zkmeta.PartitionState, why string) {
	t.logger.Info().Str("topic", p.topic).Int32("partition", p.partition).Int32("leader", st.Leader).
		Int32("epoch", st.LeaderEpoch).Ints32("isr", st.ISR).Str("reason", why).Msg("partition leader and ISR")
}
