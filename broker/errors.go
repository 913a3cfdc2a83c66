package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/log"
)

// errorCode maps an error from the layers below to the Kafka error code a response carries.
// Errors that wrap a *kerr.Error carry their own code.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	switch {
	case errors.Is(err, kerr.InvalidConfig): // config.Error matches it without wrapping a *kerr.Error
		return kerr.InvalidConfig.Code
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, log.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, log.ErrTransactionCoordinatorFenced):
		return kerr.TransactionCoordinatorFenced.Code
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, log.ErrClosed):
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the optional message of a response entry.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}

// isUnexpected tells errors worth an error log line (I/O failures, bugs) from the ones a
// client caused.
func isUnexpected(err error) bool {
	return errorCode(err) == kerr.UnknownServerError.Code
}

// apiError is a Kafka error code with Kafka's own message (errorMessage gives the message
// alone, not the code's description).
type apiError struct {
	code *kerr.Error
	msg  string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.code }
