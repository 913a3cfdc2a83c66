package protocol

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchResponseAssembly encodes a v12 FetchResponse frame carrying one 16 KiB
// record set per partition, as the broker does for every fetch answer.
func BenchmarkFetchResponseAssembly(b *testing.B) {
	for _, n := range []int{1, 6, 100} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			records := make([]byte, 16<<10)
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(12)
			t := kmsg.NewFetchResponseTopic()
			t.Topic = "bench"
			for p := 0; p < n; p++ {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = int32(p)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 1000, 1000, 0
				sp.RecordBatches = records
				t.Partitions = append(t.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, t)
			b.SetBytes(int64(n * len(records)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = AppendResponse(buf[:0], 7, resp)
			}
		})
	}
}
