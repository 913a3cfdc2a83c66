package broker

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/acl"
	"kbroker/broker/config"
)

// BenchmarkProduceHandling runs Produce requests through the connection's request path in
// process (header parse, decode, validation, append, response encoding), without sockets:
// one partition, one batch of 10 records of 100 or 1024 bytes per request.
func BenchmarkProduceHandling(b *testing.B) {
	for _, acks := range []int16{1, -1} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("acks=%d/value=%d", acks, size), func(b *testing.B) {
				c := benchConn(b)
				frame := produceFrame(b, acks, 10, size)
				b.SetBytes(int64(10 * size))
				b.ReportAllocs()
				work := make([]byte, len(frame))
				for b.Loop() {
					// The append writes offsets into the request's batch, as it does
					// into a connection's read buffer: every request gets fresh bytes.
					copy(work, frame)
					if err := c.handleFrame(work); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkProduceMetrics is BenchmarkProduceHandling's acks=1 case with metrics off and on
// (metrics.listen), the cost of the instrumentation on the produce path.
func BenchmarkProduceMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("metrics=%v/value=%d", on, size), func(b *testing.B) {
				var extra []string
				if on {
					extra = append(extra, "metrics.listen=127.0.0.1:0")
				}
				c := benchConn(b, extra...)
				frame := produceFrame(b, 1, 10, size)
				b.SetBytes(int64(10 * size))
				b.ReportAllocs()
				work := make([]byte, len(frame))
				for b.Loop() {
					// The append writes offsets into the request's batch, as it does
					// into a connection's read buffer: every request gets fresh bytes.
					copy(work, frame)
					if err := c.handleFrame(work); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchConn starts a single-node server with topic "bench" (one partition) and returns a
// connection whose responses are discarded.
func benchConn(b testing.TB, overrides ...string) *conn {
	b.Helper()
	return benchConnDrain(b, func(f outFrame) { f.release() }, overrides...)
}

// benchConnDrain is benchConn with the responses other than Produce's handed to drain.
func benchConnDrain(b testing.TB, drain func(outFrame), overrides ...string) *conn {
	b.Helper()
	_, c := testServerConn(b, []topicSpec{{name: "bench", partitions: 1, replicationFactor: 1}}, overrides...)
	// Responses are discarded, but a Produce answer with an error fails the benchmark: it
	// would measure the refusal path instead of the append.
	failed := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range c.out {
			if f.key != 0 {
				drain(f)
				continue
			}
			if len(failed) > 0 {
				continue
			}
			resp := kmsg.NewPtrProduceResponse()
			resp.SetVersion(9)
			if err := resp.ReadFrom(f.head[4+4+1:]); err != nil {
				failed <- fmt.Sprintf("undecodable produce response: %v", err)
				continue
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 && len(failed) == 0 {
						failed <- fmt.Sprintf("%s-%d: %v", t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
					}
				}
			}
		}
	}()
	b.Cleanup(func() {
		c.cancel()
		close(c.out)
		<-done
		select {
		case msg := <-failed:
			b.Errorf("produce refused during the benchmark: %s", msg)
		default:
		}
	})
	return c
}

// testServerConn starts a single-node server (shut down at cleanup) with the broker config
// overrides and the topics, and returns it with a connection whose answers go to its out
// channel.
func testServerConn(tb testing.TB, topics []topicSpec, overrides ...string) (*Server, *conn) {
	tb.Helper()
	cfg, _, err := config.Load("", append([]string{"log.dirs=" + tb.TempDir(), "listeners=PLAINTEXT://127.0.0.1:0"}, overrides...))
	if err != nil {
		tb.Fatal(err)
	}
	s := New(cfg, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	for _, spec := range topics {
		if _, err := s.createTopic(ctx, spec, false); err != nil {
			tb.Fatal(err)
		}
	}
	client, server := net.Pipe()
	tb.Cleanup(func() { client.Close(); server.Close() })
	return s, newConn(s, server, &listenerState{name: "PLAINTEXT", protocol: "PLAINTEXT"})
}

// produceFrame is a Produce v9 request body (after the size prefix) for bench-0 carrying one
// uncompressed batch of n records.
func produceFrame(b testing.TB, acks int16, n, size int) []byte {
	b.Helper()
	raw := rawBatch(n, size)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = acks, 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "bench"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = raw
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
	return frame[4:]
}

// rawBatch is an uncompressed v2 record batch (base offset 0, valid CRC) of n records with
// values of size bytes.
func rawBatch(n, size int) []byte {
	var recs []byte
	value := make([]byte, size)
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), Value: value}
		// Length counts the bytes after itself: encode once with 0 (one varint byte).
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	batch := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs,
	}
	raw := batch.AppendTo(nil)
	batch.Length = int32(len(raw) - 12)
	raw = batch.AppendTo(nil)
	batch.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch.AppendTo(nil)
}

// BenchmarkProduceAuthorized is BenchmarkProduceHandling (acks=1, 1 KiB values) with the
// authorizer on and 1,000 ACLs, as principal User:alice allowed by a literal ACL: the
// difference to BenchmarkProduceHandling/acks=1/value=1024 is the authorization cost of a
// produce request.
func BenchmarkProduceAuthorized(b *testing.B) {
	c := benchConn(b, "authorizer.class.name=kafka.security.authorizer.AclAuthorizer")
	var bs []acl.Binding
	for i := 0; i < 999; i++ {
		bs = append(bs, acl.Binding{ResourceType: resTopic, ResourceName: fmt.Sprintf("topic-%d", i), Pattern: kmsg.ACLResourcePatternTypeLiteral,
			Principal: fmt.Sprintf("User:u%d", i), Host: "*", Operation: opWrite, Permission: kmsg.ACLPermissionTypeAllow})
	}
	bs = append(bs, acl.Binding{ResourceType: resTopic, ResourceName: "bench", Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:alice", Host: "*", Operation: opWrite, Permission: kmsg.ACLPermissionTypeAllow})
	c.s.authz.Load(bs)
	c.principal = "User:alice"
	frame := produceFrame(b, 1, 10, 1024)
	b.SetBytes(10 * 1024)
	b.ReportAllocs()
	work := make([]byte, len(frame))
	for b.Loop() {
		copy(work, frame) // fresh request bytes, as in BenchmarkProduceHandling
		if err := c.handleFrame(work); err != nil {
			b.Fatal(err)
		}
	}
}
