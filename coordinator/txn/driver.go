package txn

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/coordinator"
	"kbroker/coordinator/driver"
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
var ErrClosed = driver.ErrClosed

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

	loop  *driver.Loop[Event, TimerKey]
	loads *driver.Loads

	// Owned by the Run goroutine.
	m   *Machine
	ctx context.Context
}

// New returns a coordinator; Run must be started for it to answer. loadBufferBytes is
// transaction.state.log.load.buffer.size.
func New(cfg Config, l Log, markers MarkerWriter, pids ProducerIDs, loadBufferBytes int, logger zerolog.Logger) *Coordinator {
	if loadBufferBytes <= 0 {
		loadBufferBytes = 5 << 20
	}
	c := &Coordinator{
		log:     l,
		markers: markers,
		pids:    pids,
		logger:  logger,
		loadBuf: loadBufferBytes,
		loop:    driver.New(func(k TimerKey, seq uint64) Event { return TimerFired{Key: k, Seq: seq} }),
		loads:   driver.NewLoads(),
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
func (c *Coordinator) Status(partition int32) int16 { return c.loads.Code(partition) }

// BecomeLeader starts loading a partition this broker now leads at leader epoch epoch (the
// coordinator epoch). The returned channel is closed once it is loaded (or failed to). A
// partition loaded or loading at an older epoch is loaded again at the new one, as Kafka's
// onElection does for every election: markers then carry the new coordinator epoch, and
// completions in flight at the old one are taken over by the reload.
func (c *Coordinator) BecomeLeader(partition, epoch int32) <-chan struct{} {
	done, start, reload := c.loads.Begin(partition, epoch)
	if !start {
		return done
	}
	if reload {
		c.logger.Info().Int32("partition", partition).Int32("epoch", epoch).
			Msg("leader epoch of a __transaction_state partition moved on; loading it again")
	}
	if !c.loop.Post(PartitionLoading{Partition: partition, Epoch: epoch}) {
		return done
	}
	c.loop.Go(func() {
		begun := time.Now()
		ev, err := c.load(partition, epoch)
		if err != nil {
			c.logger.Error().Err(err).Int32("partition", partition).Msg("loading __transaction_state partition failed")
			c.loop.Post(PartitionUnloaded{Partition: partition, LoadFailed: true, Epoch: epoch})
			return
		}
		c.logger.Debug().Int32("partition", partition).Dur("took", time.Since(begun)).Msg("read __transaction_state partition")
		c.loop.Post(ev)
	})
	return done
}

// Resign forgets the ids of a partition this broker no longer leads.
func (c *Coordinator) Resign(partition int32) {
	c.loads.Resign(partition)
	c.loop.Post(PartitionUnloaded{Partition: partition})
}

// load reads a partition from its start to its log end (see Log.Read).
func (c *Coordinator) load(partition, epoch int32) (PartitionLoaded, error) {
	l := newLoader(partition)
	err := driver.ReadToEnd(func(offset int64) ([]byte, int64, error) { return c.log.Read(partition, offset, c.loadBuf) },
		func(data []byte) (int64, error) { return coordinator.ForEachBatchRecord(data, l.apply) })
	if err != nil {
		return PartitionLoaded{}, err
	}
	if l.unknown > 0 {
		c.logger.Warn().Int32("partition", partition).Int("records", l.unknown).Msg("skipped records with an unknown key version")
	}
	return PartitionLoaded{Partition: partition, Epoch: epoch, snap: l.txns}, nil
}

// Run is the driver loop; it returns when ctx ends, after the goroutines it started.
func (c *Coordinator) Run(ctx context.Context) {
	c.ctx = ctx
	c.loop.Run(ctx, c.step)
}

// step feeds one event and carries out the effects.
func (c *Coordinator) step(ev Event) {
	now := time.Now()
	for _, eff := range c.m.Step(now.UnixMilli(), ev) {
		switch e := eff.(type) {
		case Reply:
			c.loop.Answer(e.Req, e.Result)
		case Append:
			batch := coordinator.BuildBatch(e.Records, now.UnixMilli())
			c.loop.Spawn(func() Event {
				err := c.log.Append(c.ctx, e.Partition, batch)
				if err != nil {
					c.logger.Warn().Err(err).Int32("partition", e.Partition).Msg("append to __transaction_state failed")
				}
				return AppendDone{Token: e.Token, Err: errorCode(err)}
			})
		case AllocateProducerID:
			c.loop.Spawn(func() Event {
				id, err := c.pids.NextID(c.ctx)
				if err != nil {
					c.logger.Error().Err(err).Msg("allocating a producer id")
					return ProducerIDAllocated{Token: e.Token, ProducerID: -1, Err: errNotAvailable}
				}
				return ProducerIDAllocated{Token: e.Token, ProducerID: id}
			})
		case WriteMarkers:
			c.loop.Spawn(func() Event {
				errs, gone := c.markers.WriteMarkers(c.ctx, e)
				return MarkersWritten{Token: e.Token, Errs: errs, Gone: gone}
			})
		case ArmTimer:
			c.loop.Arm(e.Key, e.Seq, time.Duration(e.AfterMs)*time.Millisecond)
		case CancelTimer:
			c.loop.Cancel(e.Key)
		}
	}
	switch e := ev.(type) {
	case TimerFired:
		if _, armed := c.m.timers[e.Key]; !armed {
			c.loop.Forget(e.Key)
		}
	case PartitionLoaded:
		c.loads.Ended(e.Partition, e.Epoch, true)
	case PartitionUnloaded:
		if e.LoadFailed {
			c.loads.Ended(e.Partition, e.Epoch, false)
		}
	}
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
	return c.loop.Call(ctx, ev, setReq)
}
