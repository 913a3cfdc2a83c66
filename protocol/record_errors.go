package protocol

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// RecordError is one refused record of a batch: its index in the batch and
// the reason, an entry of a Produce v8+ answer's record_errors.
type RecordError struct {
	Index   int32
	Message string
}

// RecordsError is a batch refused because of some of its records, Kafka's
// RecordValidationException: Code is INVALID_TIMESTAMP when one of them has
// a timestamp out of range, else INVALID_RECORD; Message is Kafka's
// error_message for the partition and Records every record's error, in batch
// order.
type RecordsError struct {
	Code    *kerr.Error
	Message string
	Records []RecordError
}

func (e *RecordsError) Error() string { return e.Code.Message + ": " + e.Message }
func (e *RecordsError) Unwrap() error { return e.Code }

// recordErrors gathers the record errors of one batch; the zero value is
// empty and allocates nothing until an error is added.
type recordErrors struct {
	list         []RecordError
	badTimestamp bool
}

func (r *recordErrors) add(code *kerr.Error, index int32, msg string) {
	r.list = append(r.list, RecordError{Index: index, Message: msg})
	r.badTimestamp = r.badTimestamp || code == kerr.InvalidTimestamp
}

// err is the batch's error (nil without record errors), with the messages of
// Kafka's LogValidator.processRecordErrors.
func (r *recordErrors) err() error {
	if len(r.list) == 0 {
		return nil
	}
	if r.badTimestamp {
		return &RecordsError{Code: kerr.InvalidTimestamp, Message: "One or more records have been rejected due to invalid timestamp", Records: r.list}
	}
	var sb strings.Builder
	for i, e := range r.list[:min(len(r.list), 3)] {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "RecordError(batchIndex=%d, message='%s')", e.Index, e.Message)
	}
	return &RecordsError{
		Code: kerr.InvalidRecord,
		Message: fmt.Sprintf("One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [%s]",
			len(r.list), sb.String()),
		Records: r.list,
	}
}
