package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Log is the coordinator's view of the __consumer_offsets partitions this broker leads.
type Log interface {
	// Append appends one record batch (built by BuildBatch) to a partition through the
	// partition's normal append path and returns once it is committed.
	Append(ctx context.Context, partition int32, batch []byte) error
	// Read returns whole batches of a partition from offset (or from the log start when
	// offset is below it), at most about maxBytes but at least one batch, below the log end;
	// and the log end offset. A load reads to the log end, not the high watermark, as Kafka's
	// loaders do: a new leader's high watermark lags until its followers fetch again, and
	// the old leader's last records, which it may have acknowledged, are the partition's.
	Read(partition int32, offset int64, maxBytes int) (data []byte, logEnd int64, err error)
}

// ErrClosed is returned by calls made after the driver stopped.
var ErrClosed = errors.New("group coordinator is shut down")

// Coordinator is the driver: one goroutine (Run) owns the Machine, feeds it requests, timer
// firings and append outcomes, and carries out its effects (answers, appends, timers).
// Its request methods are safe for concurrent use; each blocks until its answer or until
// its context ends (JoinGroup and SyncGroup stay parked until the rebalance completes).
// Loading a partition runs in a goroutine of its own, so other partitions stay served.
type Coordinator struct {
	cfg     Config
	log     Log
	logger  zerolog.Logger
	loadBuf int

	in      chan envelope
	done    chan struct{}
	reqSeq  atomic.Uint64
	loaders sync.WaitGroup // loading goroutines; Run waits for them before returning

	topics func() *TopicsImage // the broker's topics, for KIP-848 groups (SetTopics)

	mu       sync.Mutex
	closed   bool // Run has ended: no new loaders
	status   map[int32]partStatus
	loadWait map[int32][]chan struct{}

	// Owned by the Run goroutine.
	m       *Machine
	waiters map[uint64]chan any
	timers  map[TimerKey]*time.Timer
	ctx     context.Context
}

type envelope struct {
	ev     Event
	id     uint64
	reply  chan any
	forget uint64
}

// New returns a coordinator; Run must be started for it to answer. loadBufferBytes is
// offsets.load.buffer.size.
func New(cfg Config, l Log, loadBufferBytes int, logger zerolog.Logger) *Coordinator {
	if loadBufferBytes <= 0 {
		loadBufferBytes = 5 << 20
	}
	c := &Coordinator{
		log:      l,
		logger:   logger,
		loadBuf:  loadBufferBytes,
		in:       make(chan envelope, 256),
		done:     make(chan struct{}),
		status:   map[int32]partStatus{},
		loadWait: map[int32][]chan struct{}{},
		waiters:  map[uint64]chan any{},
		timers:   map[TimerKey]*time.Timer{},
	}
	c.m = NewMachine(cfg, logger)
	c.cfg = c.m.cfg
	return c
}

// Partitions is offsets.topic.num.partitions.
func (c *Coordinator) Partitions() int32 { return c.cfg.Partitions }

// PartitionFor is the __consumer_offsets partition of a group.
func (c *Coordinator) PartitionFor(group string) int32 { return PartitionFor(group, c.cfg.Partitions) }

// Status tells whether this broker coordinates the groups of a partition: loaded (0),
// loading (COORDINATOR_LOAD_IN_PROGRESS) or not (NOT_COORDINATOR), as an error code.
func (c *Coordinator) Status(partition int32) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.status[partition] {
	case partActive:
		return 0
	case partLoading:
		return kerr.CoordinatorLoadInProgress.Code
	}
	return kerr.NotCoordinator.Code
}

// BecomeLeader starts loading a partition this broker now leads, in the background. The
// returned channel is closed once it is loaded (or failed to load).
func (c *Coordinator) BecomeLeader(partition int32) <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	if c.status[partition] == partActive {
		c.mu.Unlock()
		close(ch)
		return ch
	}
	c.loadWait[partition] = append(c.loadWait[partition], ch)
	if c.status[partition] == partLoading {
		c.mu.Unlock()
		return ch
	}
	if c.closed {
		c.mu.Unlock()
		return ch
	}
	c.status[partition] = partLoading
	c.loaders.Add(1)
	c.mu.Unlock()
	if !c.post(envelope{ev: PartitionLoading{Partition: partition}}) {
		c.loaders.Done()
		return ch
	}
	go func() {
		defer c.loaders.Done()
		start := time.Now()
		ev, err := c.load(partition)
		if err != nil {
			c.logger.Error().Err(err).Int32("partition", partition).Msg("loading __consumer_offsets partition failed")
			c.post(envelope{ev: PartitionUnloaded{Partition: partition}})
			return
		}
		c.logger.Debug().Int32("partition", partition).Dur("took", time.Since(start)).Msg("read __consumer_offsets partition")
		c.post(envelope{ev: ev})
	}()
	return ch
}

// Resign forgets the groups of a partition this broker no longer leads.
func (c *Coordinator) Resign(partition int32) {
	c.post(envelope{ev: PartitionUnloaded{Partition: partition}})
}

// load reads a partition from its start to its log end (see Log.Read).
func (c *Coordinator) load(partition int32) (PartitionLoaded, error) {
	snap := newSnapshot()
	offset := int64(0)
	for {
		data, end, err := c.log.Read(partition, offset, c.loadBuf)
		if err != nil {
			return PartitionLoaded{}, err
		}
		if len(data) == 0 || offset >= end {
			break
		}
		next, err := forEachRecord(data, snap.applyRecord)
		if err != nil {
			return PartitionLoaded{}, fmt.Errorf("offset %d: %w", offset, err)
		}
		if next <= offset {
			break
		}
		offset = next
	}
	return PartitionLoaded{Partition: partition, snap: snap}, nil
}

func (c *Coordinator) post(e envelope) bool {
	select {
	case c.in <- e:
		return true
	case <-c.done:
		return false
	}
}

// Run is the driver loop; it returns when ctx ends, after the loading goroutines it
// started have ended.
func (c *Coordinator) Run(ctx context.Context) {
	c.ctx = ctx
	defer func() {
		for _, t := range c.timers {
			t.Stop()
		}
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.done)
		c.loaders.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-c.in:
			if e.forget != 0 {
				delete(c.waiters, e.forget)
				continue
			}
			if e.reply != nil {
				c.waiters[e.id] = e.reply
			}
			c.step(e.ev)
		}
	}
}

// step feeds one event and carries out the effects, including those of append outcomes.
func (c *Coordinator) step(ev Event) {
	queue := []Event{ev}
	for len(queue) > 0 {
		ev := queue[0]
		queue = queue[1:]
		now := time.Now()
		for _, eff := range c.m.Step(now.UnixMilli(), ev) {
			switch e := eff.(type) {
			case Reply:
				if ch, ok := c.waiters[e.Req]; ok {
					delete(c.waiters, e.Req)
					ch <- e.Result
				}
			case Append:
				batch := BuildBatch(e.Records, now.UnixMilli())
				if e.Txn != nil {
					batch = BuildTxnBatch(e.Records, now.UnixMilli(), e.Txn.ProducerID, e.Txn.ProducerEpoch)
				}
				err := c.log.Append(c.ctx, e.Partition, batch)
				code := appendErrorCode(err)
				if err != nil {
					c.logger.Warn().Err(err).Int32("partition", e.Partition).Msg("append to __consumer_offsets failed")
				}
				queue = append(queue, AppendDone{Token: e.Token, Err: code})
			case ArmTimer:
				if t := c.timers[e.Key]; t != nil {
					t.Stop()
				}
				key, seq := e.Key, e.Seq
				c.timers[key] = time.AfterFunc(time.Duration(e.AfterMs)*time.Millisecond, func() {
					c.post(envelope{ev: TimerFired{Key: key, Seq: seq}})
				})
			case CancelTimer:
				if t := c.timers[e.Key]; t != nil {
					t.Stop()
					delete(c.timers, e.Key)
				}
			}
		}
		switch e := ev.(type) {
		case TimerFired:
			if _, armed := c.m.timers[e.Key]; !armed {
				delete(c.timers, e.Key) // fired and not re-armed
			}
		case PartitionLoaded:
			c.setStatus(e.Partition, partActive)
		case PartitionUnloaded:
			c.setStatus(e.Partition, 0)
		}
	}
}

func (c *Coordinator) setStatus(p int32, st partStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st == 0 {
		delete(c.status, p)
	} else {
		c.status[p] = st
	}
	for _, ch := range c.loadWait[p] {
		close(ch)
	}
	delete(c.loadWait, p)
}

// appendErrorCode maps an append failure to the code a group request answers, as Kafka does.
func appendErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
			return kerr.CoordinatorNotAvailable.Code
		case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
			return kerr.NotCoordinator.Code
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			return kerr.InvalidCommitOffsetSize.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// call sends a request event and waits for its answer.
func (c *Coordinator) call(ctx context.Context, ev Event, setReq func(uint64)) (any, error) {
	id := c.reqSeq.Add(1)
	setReq(id)
	ch := make(chan any, 1)
	select {
	case c.in <- envelope{ev: ev, id: id, reply: ch}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		c.post(envelope{forget: id})
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
}
