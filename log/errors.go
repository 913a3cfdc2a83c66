package log

import "errors"

// Errors returned by Log methods. Callers map them to Kafka error codes.
var (
	// ErrOutOfOrderSequence: an idempotent producer's batch does not follow
	// its last one (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	// ErrInvalidProducerEpoch: the batch carries an epoch older than the
	// producer's current one (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("log: invalid producer epoch")
	// ErrInvalidTxnState: a non-transactional batch from a producer with a
	// transaction open in the partition (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
	// ErrTransactionCoordinatorFenced: a transaction marker from an older
	// coordinator epoch than the partition has seen
	// (TRANSACTION_COORDINATOR_FENCED).
	ErrTransactionCoordinatorFenced = errors.New("log: transaction coordinator fenced")
	// ErrOffsetOutOfRange: an offset outside [LogStartOffset, LogEndOffset]
	// (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed: the log was closed or deleted.
	ErrClosed = errors.New("log: closed")
	// ErrCorruptBatch: a batch that is too short, not magic 2, whose length
	// field disagrees with its size, or (follower appends) whose CRC fails
	// (CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("log: corrupt record batch")
	// ErrUnexpectedOffset: a follower append that starts below the log end
	// offset, or batches whose offsets do not increase.
	ErrUnexpectedOffset = errors.New("log: unexpected append offset")
	// ErrLogFailed wraps the I/O error that stopped the log accepting writes.
	// The data on disk is recovered by opening the log again (Kafka takes the
	// log directory offline in the same situation).
	ErrLogFailed = errors.New("log: failed after an I/O error")
)
