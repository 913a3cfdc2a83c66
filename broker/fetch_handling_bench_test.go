package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchHandling runs Fetch v12 requests for 1 MiB through the connection's request
// path in process (header parse, decode, the log read as regions, response encoding and
// splicing), without the socket write: one partition of 256 batches of 16 records of 1 KiB.
func BenchmarkFetchHandling(b *testing.B) {
	c := benchConn(b)
	fillBench(b, c, 256)
	frame := fetchFrame(b, 12, 1<<20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.handleFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// fillBench appends n batches of 16 records of 1 KiB to bench-0.
func fillBench(b *testing.B, c *conn, n int) {
	b.Helper()
	produce := produceFrame(b, 1, 16, 1000)
	for range n {
		// The append writes offsets into the request's batch: fresh bytes each time.
		if err := c.handleFrame(append([]byte(nil), produce...)); err != nil {
			b.Fatal(err)
		}
	}
	if p, ok := c.s.rm.get("bench", 0); !ok || p.highWatermark() != int64(16*n) {
		b.Fatalf("bench-0 holds %d records after %d batches of 16", p.highWatermark(), n)
	}
}

// fetchFrame is a Fetch request body (after the size prefix) of version v for bench-0 from
// offset 0, maxBytes at most.
func fetchFrame(b *testing.B, v int16, maxBytes int32) []byte {
	b.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(v)
	req.MaxBytes = maxBytes
	t := kmsg.NewFetchRequestTopic()
	t.Topic = "bench"
	p := kmsg.NewFetchRequestTopicPartition()
	p.PartitionMaxBytes = maxBytes
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
	return frame[4:]
}
