package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// sentReq is one request the controller sent.
type sentReq struct {
	to    int32
	epoch int64 // the recipient's registration epoch the queue was built for
	req   kmsg.Request
}

// recorder is a Sender that records every request and answers it with an
// empty (successful) response.
type recorder struct {
	mu   sync.Mutex
	sent []sentReq
	fail map[int32]bool // brokers whose sends fail
}

func (r *recorder) Send(ctx context.Context, to zkmeta.BrokerInfo, req kmsg.Request) (kmsg.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[to.ID] {
		return nil, fmt.Errorf("broker %d unreachable", to.ID)
	}
	r.sent = append(r.sent, sentReq{to: to.ID, epoch: to.Epoch, req: req})
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, nil
}

func (r *recorder) setFail(id int32, fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		r.fail = map[int32]bool{}
	}
	r.fail[id] = fail
}

// mark returns a position to read requests from later.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// since returns the requests sent after mark with the given API key.
func (r *recorder) since(mark int, key int16) []sentReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sentReq
	for _, s := range r.sent[mark:] {
		if s.req.Key() == key {
			out = append(out, s)
		}
	}
	return out
}

// cluster is an embedded store with one session per broker registration.
type cluster struct {
	t        *testing.T
	store    *zkmeta.Embedded
	meta     *zkmeta.Metadata
	sessions map[int32]*zkmeta.Session
	epochs   map[int32]int64
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	store, err := zkmeta.OpenEmbedded(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	meta := zkmeta.NewMetadata(store)
	if err := meta.EnsurePaths(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, store: store, meta: meta, sessions: map[int32]*zkmeta.Session{}, epochs: map[int32]int64{}}
}

func endpoint(id int32) zkmeta.Endpoint {
	return zkmeta.Endpoint{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9090 + id}
}

// register registers broker id in a new session and returns its epoch.
func (c *cluster) register(id int32) int64 {
	c.t.Helper()
	s, err := c.store.NewSession()
	if err != nil {
		c.t.Fatal(err)
	}
	epoch, err := zkmeta.NewMetadata(s).RegisterBroker(context.Background(), zkmeta.BrokerInfo{ID: id, Endpoints: []zkmeta.Endpoint{endpoint(id)}, Rack: "r1"})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sessions[id], c.epochs[id] = s, epoch
	return epoch
}

// kill ends broker id's session, deleting its registration.
func (c *cluster) kill(id int32) {
	c.t.Helper()
	if err := c.sessions[id].Close(); err != nil {
		c.t.Fatal(err)
	}
	delete(c.sessions, id)
}

func (c *cluster) createTopic(name string, parts map[int32][]int32, cfg map[string]string) {
	c.t.Helper()
	if err := c.meta.CreateTopic(context.Background(), zkmeta.TopicAssignment{Name: name, Partitions: parts}, cfg); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) topicID(name string) [16]byte {
	c.t.Helper()
	ta, _, err := c.meta.Topic(context.Background(), name)
	if err != nil {
		c.t.Fatal(err)
	}
	return ta.ID
}

func (c *cluster) state(topic string, p int32) (zkmeta.PartitionState, int32) {
	c.t.Helper()
	st, v, err := c.meta.PartitionState(context.Background(), topic, p)
	if err != nil {
		c.t.Fatalf("state of %s-%d: %v", topic, p, err)
	}
	return st, v
}

// runningController is a controller with its own session and recorder.
type runningController struct {
	*Controller
	rec     *recorder
	session *zkmeta.Session
	cancel  context.CancelFunc
	done    chan struct{}
}

func testConfig(id int32) Config {
	return Config{
		BrokerID:          id,
		DeleteTopicEnable: true,
		RequestTimeout:    time.Second,
		UncleanLeaderElection: func(o map[string]string) bool {
			return o["unclean.leader.election.enable"] == "true"
		},
	}
}

func (c *cluster) startController(cfg Config) *runningController {
	c.t.Helper()
	s, err := c.store.NewSession()
	if err != nil {
		c.t.Fatal(err)
	}
	rec := &recorder{}
	ctrl := New(zkmeta.NewMetadata(s), rec, cfg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningController{Controller: ctrl, rec: rec, session: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		ctrl.Run(ctx)
	}()
	c.t.Cleanup(rc.stop)
	return rc
}

func (rc *runningController) stop() {
	rc.cancel()
	<-rc.done
}

// eventually polls fn until it returns nil or the time is up.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitActive waits until rc is the controller and its failover is done
// (a round trip through the event loop).
func waitActive(t *testing.T, rc *runningController) {
	t.Helper()
	eventually(t, "controller active", func() error {
		if !rc.IsActive() {
			return fmt.Errorf("not active")
		}
		return nil
	})
	settle(t, rc)
}

// settle waits until the controller's event loop has processed everything
// queued before it and the brokers' queues have sent what it produced.
func settle(t *testing.T, rc *runningController) {
	t.Helper()
	eventually(t, "controller settled", func() error {
		idle, err := call(context.Background(), rc.Controller, func(t *term) (bool, error) {
			for _, q := range t.queues {
				if !q.idle() {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if !idle {
			return errors.New("requests still queued")
		}
		return nil
	})
}

// wantState waits until a partition's znode has the leader and ISR.
func (c *cluster) wantState(topic string, p int32, leader int32, isr []int32) zkmeta.PartitionState {
	c.t.Helper()
	var st zkmeta.PartitionState
	eventually(c.t, fmt.Sprintf("%s-%d leader %d isr %v", topic, p, leader, isr), func() error {
		s, _, err := c.meta.PartitionState(context.Background(), topic, p)
		if err != nil {
			return err
		}
		st = s
		if s.Leader != leader || fmt.Sprint(s.ISR) != fmt.Sprint(isr) {
			return fmt.Errorf("got leader %d isr %v epoch %d", s.Leader, s.ISR, s.LeaderEpoch)
		}
		return nil
	})
	return st
}

// alterReq builds an AlterPartition v2 request from broker for one partition.
func alterReq(c *cluster, broker int32, topic string, p int32, leaderEpoch, partitionEpoch int32, isr []int32) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(2)
	req.BrokerID, req.BrokerEpoch = broker, c.epochs[broker]
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = topic, c.topicID(topic)
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = p, leaderEpoch, partitionEpoch, isr
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
