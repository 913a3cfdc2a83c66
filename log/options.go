package log

import (
	"math"
	"time"

	"github.com/rs/zerolog"
)

// Kafka's defaults for the options below.
const (
	DefaultSegmentBytes       = 1 << 30                 // log.segment.bytes
	DefaultSegmentMs          = 7 * 24 * 60 * 60 * 1000 // log.roll.ms (log.roll.hours=168)
	DefaultIndexIntervalBytes = 4096                    // log.index.interval.bytes
	DefaultMaxIndexBytes      = 10 << 20                // log.index.size.max.bytes
	maxSegmentPosition        = math.MaxInt32           // positions in .index are int32
	offsetIndexEntrySize      = 8                       // relative offset + position
	timeIndexEntrySize        = 12                      // timestamp + relative offset
	maxDecompressedBatch      = 256 << 20               // refuse to inflate a batch beyond this
	maxScanChunk              = 1 << 20                 // read size when scanning a segment
	defaultDirPerm            = 0o755                   //
	defaultFilePerm           = 0o644                   //
	undefinedEpoch            = -1                      // UNDEFINED_EPOCH
	undefinedEpochOffset      = -1                      // UNDEFINED_EPOCH_OFFSET
	noTimestamp               = -1                      // RecordBatch.NO_TIMESTAMP
	producerBatchesCached     = 5                       // batches remembered per producer
)

// Options configure one partition's log. The zero value of a field means
// Kafka's default, except SegmentMs and FlushIntervalMessages where 0 means
// "never" (use DefaultOptions for Kafka's full defaults).
type Options struct {
	SegmentBytes          int64               // log.segment.bytes (default 1 GiB): roll before an append would make the active segment larger
	SegmentMs             int64               // log.roll.ms (Kafka default 7 days); roll when the active segment's first append is older than this; 0 = never
	IndexIntervalBytes    int32               // log.index.interval.bytes (4096)
	MaxIndexBytes         int32               // log.index.size.max.bytes (10 MiB): roll when the offset index would exceed it
	FlushIntervalMessages int64               // fsync after this many records since last flush (0 or math.MaxInt64 = never)
	FileDeleteDelayMs     int64               // file.delete.delay.ms: deleted segments' .deleted files are removed this long after (0 = at once)
	RecoveryPoint         int64               // from recovery-point-offset-checkpoint; segments containing offsets >= this are scanned at Open (0 = scan all)
	LogStartOffset        int64               // from log-start-offset-checkpoint (0 if unknown)
	FS                    FS                  // nil = the real OS filesystem
	Logger                zerolog.Logger      // zero value = disabled
	Now                   func() time.Time    // nil = time.Now
	OnFlush               func(time.Duration) // called after each flush that fsynced segments (metrics); nil = none
}

// DefaultOptions returns Kafka's defaults, including log.roll.ms of 7 days.
func DefaultOptions() Options {
	return Options{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          DefaultSegmentMs,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
		MaxIndexBytes:      DefaultMaxIndexBytes,
	}
}

func (o Options) withDefaults() Options {
	if o.SegmentBytes <= 0 || o.SegmentBytes > maxSegmentPosition {
		if o.SegmentBytes <= 0 {
			o.SegmentBytes = DefaultSegmentBytes
		} else {
			o.SegmentBytes = maxSegmentPosition
		}
	}
	if o.SegmentMs < 0 {
		o.SegmentMs = 0
	}
	if o.IndexIntervalBytes <= 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.MaxIndexBytes <= 0 {
		o.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if o.MaxIndexBytes < timeIndexEntrySize {
		o.MaxIndexBytes = timeIndexEntrySize
	}
	if o.FileDeleteDelayMs < 0 {
		o.FileDeleteDelayMs = 0
	}
	if o.FlushIntervalMessages < 0 {
		o.FlushIntervalMessages = 0
	}
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
