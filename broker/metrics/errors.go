package metrics

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrorCounts counts the error codes of an answer as Kafka's errorCounts does for the
// ErrorsPerSec metric: per partition for Produce and Fetch, otherwise the top-level
// ErrorCode field when the response has one (NONE counted as well).
func ErrorCounts(resp kmsg.Response) map[int16]int {
	out := map[int16]int{}
	eachErrorCode(resp, func(code int16) { out[code]++ })
	return out
}

// eachErrorCode calls fn for every error code of an answer (see ErrorCounts), without
// allocating for Produce and Fetch.
func eachErrorCode(resp kmsg.Response, fn func(code int16)) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				fn(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			fn(r.ErrorCode)
			return
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				fn(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	default:
		v := reflect.ValueOf(resp)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 {
				fn(int16(f.Int()))
			}
		}
	}
}
