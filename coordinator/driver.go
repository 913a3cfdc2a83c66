package coordinator

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/coordinator/driver"
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
var ErrClosed = driver.ErrClosed

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

	loop  *driver.Loop[Event, TimerKey]
	loads *driver.Loads

	topics func() *TopicsImage // the broker's topics, for KIP-848 groups (SetTopics)

	// Owned by the Run goroutine.
	m   *Machine
	ctx context.Context
}

// New returns a coordinator; Run must be started for it to answer. loadBufferBytes is
// offsets.load.buffer.size.
func New(cfg Config, l Log, loadBufferBytes int, logger zerolog.Logger) *Coordinator {
	if loadBufferBytes <= 0 {
		loadBufferBytes = 5 << 20
	}
	c := &Coordinator{
		log:     l,
		logger:  logger,
		loadBuf: loadBufferBytes,
		loop:    driver.New(func(k TimerKey, seq uint64) Event { return TimerFired{Key: k, Seq: seq} }),
		loads:   driver.NewLoads(),
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
func (c *Coordinator) Status(partition int32) int16 { return c.loads.Code(partition) }

// BecomeLeader starts loading a partition this broker now leads, in the background. The
// returned channel is closed once it is loaded (or failed to load).
func (c *Coordinator) BecomeLeader(partition int32) <-chan struct{} {
	done, start, _ := c.loads.Begin(partition, 0)
	if !start || !c.loop.Post(PartitionLoading{Partition: partition}) {
		return done
	}
	c.loop.Go(func() {
		begun := time.Now()
		ev, err := c.load(partition)
		if err != nil {
			c.logger.Error().Err(err).Int32("partition", partition).Msg("loading __consumer_offsets partition failed")
			c.loop.Post(PartitionUnloaded{Partition: partition, LoadFailed: true})
			return
		}
		c.logger.Debug().Int32("partition", partition).Dur("took", time.Since(begun)).Msg("read __consumer_offsets partition")
		c.loop.Post(ev)
	})
	return done
}

// Resign forgets the groups of a partition this broker no longer leads.
func (c *Coordinator) Resign(partition int32) {
	c.loads.Resign(partition)
	c.loop.Post(PartitionUnloaded{Partition: partition})
}

// load reads a partition from its start to its log end (see Log.Read).
func (c *Coordinator) load(partition int32) (PartitionLoaded, error) {
	snap := newSnapshot()
	err := driver.ReadToEnd(func(offset int64) ([]byte, int64, error) { return c.log.Read(partition, offset, c.loadBuf) },
		func(data []byte) (int64, error) { return forEachRecord(data, snap.applyRecord) })
	if err != nil {
		return PartitionLoaded{}, err
	}
	return PartitionLoaded{Partition: partition, snap: snap}, nil
}

// Run is the driver loop; it returns when ctx ends, after the loading goroutines it
// started have ended.
func (c *Coordinator) Run(ctx context.Context) {
	c.ctx = ctx
	c.loop.Run(ctx, c.step)
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
				c.loop.Answer(e.Req, e.Result)
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
				c.loop.Arm(e.Key, e.Seq, time.Duration(e.AfterMs)*time.Millisecond)
			case CancelTimer:
				c.loop.Cancel(e.Key)
			}
		}
		switch e := ev.(type) {
		case TimerFired:
			if _, armed := c.m.timers[e.Key]; !armed {
				c.loop.Forget(e.Key) // fired and not re-armed
			}
		case PartitionLoaded:
			c.loads.Ended(e.Partition, 0, true)
		case PartitionUnloaded:
			if e.LoadFailed {
				c.loads.Ended(e.Partition, 0, false)
			}
		}
	}
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
	return c.loop.Call(ctx, ev, setReq)
}
