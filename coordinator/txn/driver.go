package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/coordinator"
)

// Log is the coordinator's view of the __transaction_state partitions this broker leads.
type Log interface {
	// Append appends one record batch (built by coordinator.BuildBatch) to a partition
	// through the partition's normal append path and returns once the in-sync replicas
	// have it (acks=all).
	Append(ctx context.Context, partition int32, batch []byte) error
	// Read returns whole batches of a partition from offset (or from the log start when
	// offset is below it), at most about maxBytes but at least one batch, below the log end;
	// and the log end offset. A load reads to the log end, not the high watermark, as Kafka's
	// loaders do: a new leader's high watermark lags until its followers fetch again, and
	// the old leader's last records, which it may have acknowledged, are the partition's.
	Read(partition int32, offset int64, maxBytes int) (data []byte, logEnd int64, err error)
}

// MarkerWriter writes transaction markers at the leaders of their partitions
// (WriteTxnMarkers, to other brokers or to this one).
type MarkerWriter interface {
	// WriteMarkers writes the markers of w and returns the error code of each partition
	// (WriteTxnMarkers' answer, or a retriable code when its leader could not be reached)
	// and the partitions that no longer exist.
	WriteMarkers(ctx context.Context, w WriteMarkers) (errs map[TopicPartition]int16, gone []TopicPartition)
}

// ProducerIDs hands out producer ids (from blocks reserved in ZooKeeper).
type ProducerIDs interface {
	NextID(ctx context.Context) (int64, error)
}

// ErrClosed is returned by calls made after the driver stopped.
var ErrClosed = errors.New("transaction coordinator is shut down")

// Coordinator is the driver: one goroutine (Run) owns the Machine and feeds it requests,
// timer firings and the outcomes of its effects; appends, producer id allocations and
// marker writes run in goroutines of their own. Request methods are safe for concurrent
// use and block until their answer or until their context ends.
type Coordinator struct {
	cfg     Config
	log     Log
	markers MarkerWriter
	pids    ProducerIDs
	logger  zerolog.Logger
	loadBuf int

	in      chan envelope
	done    chan struct{}
	reqSeq  atomic.Uint64
	workers sync.WaitGroup // loaders, appends, allocations and marker writes in flight

	mu       sync.Mutex
	closed   bool
	status   map[int32]partStatus
	epoch    map[int32]int32 // the epoch each partition is loaded or loading at
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
// transaction.state.log.load.buffer.size.
func New(cfg Config, l Log, markers MarkerWriter, pids ProducerIDs, loadBufferBytes int, logger zerolog.Logger) *Coordinator {
	if loadBufferBytes <= 0 {
		loadBufferBytes = 5 << 20
	}
	c := &Coordinator{
		log:      l,
		markers:  markers,
		pids:     pids,
		logger:   logger,
		loadBuf:  loadBufferBytes,
		in:       make(chan envelope, 256),
		done:     make(chan struct{}),
		status:   map[int32]partStatus{},
		epoch:    map[int32]int32{},
		loadWait: map[int32][]chan struct{}{},
		waiters:  map[uint64]chan any{},
		timers:   map[TimerKey]*time.Timer{},
	}
	c.m = NewMachine(cfg, logger)
	c.cfg = c.m.cfg
	return c
}

// Partitions is transaction.state.log.num.partitions.
func (c *Coordinator) Partitions() int32 { return c.cfg.Partitions }

// PartitionFor is the __transaction_state partition of a transactional id.
func (c *Coordinator) PartitionFor(txnID string) int32 { return PartitionFor(txnID, c.cfg.Partitions) }

// Status tells whether this broker coordinates the ids of a partition: loaded (0), loading
// (COORDINATOR_LOAD_IN_PROGRESS) or not (NOT_COORDINATOR), as an error code.
func (c *Coordinator) Status(partition int32) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.status[partition] {
	case partActive:
		return 0
	case partLoading:
		return errLoading
	}
	return errNotCoordinator
}

// BecomeLeader starts loading a partition this broker now leads at leader epoch epoch (the
// coordinator epoch). The returned channel is closed once it is loaded (or failed to). A
// partition loaded or loading at an older epoch is loaded again at the new one, as Kafka's
// onElection does for every election: markers then carry the new coordinator epoch, and
// completions in flight at the old one are taken over by the reload.
func (c *Coordinator) BecomeLeader(partition, epoch int32) <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	st := c.status[partition]
	current := (st == partActive || st == partLoading) && epoch <= c.epoch[partition]
	if current && st == partActive {
		c.mu.Unlock()
		close(ch)
		return ch
	}
	c.loadWait[partition] = append(c.loadWait[partition], ch)
	if current || c.closed {
		c.mu.Unlock()
		return ch
	}
	if st != 0 {
		c.logger.Info().Int32("partition", partition).Int32("old_epoch", c.epoch[partition]).Int32("epoch", epoch).
			Msg("leader epoch of a __transaction_state partition moved on; loading it again")
	}
	c.status[partition] = partLoading
	c.epoch[partition] = epoch
	c.workers.Add(1)
	c.mu.Unlock()
	if !c.post(envelope{ev: PartitionLoading{Partition: partition, Epoch: epoch}}) {
		c.workers.Done()
		return ch
	}
	go func() {
		defer c.workers.Done()
		start := time.Now()
		ev, err := c.load(partition, epoch)
		if err != nil {
			c.logger.Error().Err(err).Int32("partition", partition).Msg("loading __transaction_state partition failed")
			c.post(envelope{ev: PartitionUnloaded{Partition: partition, LoadFailed: true, Epoch: epoch}})
			return
		}
		c.logger.Debug().Int32("partition", partition).Dur("took", time.Since(start)).Msg("read __transaction_state partition")
		c.post(envelope{ev: ev})
	}()
	return ch
}

// Resign forgets the ids of a partition this broker no longer leads.
func (c *Coordinator) Resign(partition int32) {
	c.mu.Lock()
	c.setStatusLocked(partition, 0)
	c.mu.Unlock()
	c.post(envelope{ev: PartitionUnloaded{Partition: partition}})
}

// load reads a partition from its start to its log end (see Log.Read).
func (c *Coordinator) load(partition, epoch int32) (PartitionLoaded, error) {
	l := newLoader(partition)
	offset := int64(0)
	for {
		data, end, err := c.log.Read(partition, offset, c.loadBuf)
		if err != nil {
			return PartitionLoaded{}, err
		}
		if len(data) == 0 || offset >= end {
			break
		}
		next, err := coordinator.ForEachBatchRecord(data, l.apply)
		if err != nil {
			return PartitionLoaded{}, fmt.Errorf("offset %d: %w", offset, err)
		}
		if next <= offset {
			break
		}
		offset = next
	}
	if l.unknown > 0 {
		c.logger.Warn().Int32("partition", partition).Int("records", l.unknown).Msg("skipped records with an unknown key version")
	}
	return PartitionLoaded{Partition: partition, Epoch: epoch, snap: l.txns}, nil
}

func (c *Coordinator) post(e envelope) bool {
	select {
	case c.in <- e:
		return true
	case <-c.done:
		return false
	}
}

// Run is the driver loop; it returns when ctx ends, after the goroutines it started.
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
		c.workers.Wait()
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

// step feeds one event and carries out the effects.
func (c *Coordinator) step(ev Event) {
	now := time.Now()
	for _, eff := range c.m.Step(now.UnixMilli(), ev) {
		switch e := eff.(type) {
		case Reply:
			if ch, ok := c.waiters[e.Req]; ok {
				delete(c.waiters, e.Req)
				ch <- e.Result
			}
		case Append:
			batch := coordinator.BuildBatch(e.Records, now.UnixMilli())
			c.spawn(func() Event {
				err := c.log.Append(c.ctx, e.Partition, batch)
				if err != nil {
					c.logger.Warn().Err(err).Int32("partition", e.Partition).Msg("append to __transaction_state failed")
				}
				return AppendDone{Token: e.Token, Err: errorCode(err)}
			})
		case AllocateProducerID:
			c.spawn(func() Event {
				id, err := c.pids.NextID(c.ctx)
				if err != nil {
					c.logger.Error().Err(err).Msg("allocating a producer id")
					return ProducerIDAllocated{Token: e.Token, ProducerID: -1, Err: errNotAvailable}
				}
				return ProducerIDAllocated{Token: e.Token, ProducerID: id}
			})
		case WriteMarkers:
			c.spawn(func() Event {
				errs, gone := c.markers.WriteMarkers(c.ctx, e)
				return MarkersWritten{Token: e.Token, Errs: errs, Gone: gone}
			})
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
			delete(c.timers, e.Key)
		}
	case PartitionLoaded:
		c.loadEnded(e.Partition, e.Epoch, partActive)
	case PartitionUnloaded:
		if e.LoadFailed {
			c.loadEnded(e.Partition, e.Epoch, 0)
		}
	}
}

// loadEnded records the end of the load of a partition at epoch, unless the partition was
// resigned or is being loaded at a newer epoch since.
func (c *Coordinator) loadEnded(p, epoch int32, st partStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status[p] == partLoading && c.epoch[p] == epoch {
		c.setStatusLocked(p, st)
	}
}

// spawn runs fn in a goroutine and posts the event it returns.
func (c *Coordinator) spawn(fn func() Event) {
	c.workers.Add(1)
	go func() {
		defer c.workers.Done()
		c.post(envelope{ev: fn()})
	}()
}

// setStatusLocked sets a partition's status and wakes those waiting for its load.
func (c *Coordinator) setStatusLocked(p int32, st partStatus) {
	if st == 0 {
		delete(c.status, p)
		delete(c.epoch, p)
	} else {
		c.status[p] = st
	}
	for _, ch := range c.loadWait[p] {
		close(ch)
	}
	delete(c.loadWait, p)
}

// errorCode is the Kafka error code of an append's failure.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	}
	return errUnknownServer
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
