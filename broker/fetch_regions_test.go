package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
	"kbroker/protocol"
)

// regionLog is a log holding count batches of n records of size bytes each.
func regionLog(t *testing.T, count, n, size int) *log.Log {
	t.Helper()
	l, err := log.Open(filepath.Join(t.TempDir(), "t-0"), log.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	for i := 0; i < count; i++ {
		if _, err := l.Append(rawBatch(n, size), 0); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// fetchWithRegions builds a Fetch response whose partitions carry regions of l: a large one
// (sent with sendfile), a small one (copied into the write buffer) and an empty one.
func fetchWithRegions(t *testing.T, l *log.Log, f *fetchRegions) (*kmsg.FetchResponse, [][]byte) {
	t.Helper()
	resp := kmsg.NewPtrFetchResponse()
	topic := kmsg.NewFetchResponseTopic()
	topic.Topic = "t"
	var want [][]byte
	for i, limit := range []int32{1 << 20, 12000, 0} {
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.Partition = int32(i)
		sp.HighWatermark = l.LogEndOffset()
		r, err := l.ReadRegion(0, limit, l.LogEndOffset(), false)
		if err != nil {
			t.Fatal(err)
		}
		data, err := r.ReadTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, data)
		f.add(&sp, r)
		topic.Partitions = append(topic.Partitions, sp)
	}
	if len(want[0]) <= regionCopyMax || len(want[1]) == 0 || len(want[1]) > regionCopyMax || len(want[2]) != 0 {
		t.Fatalf("record set sizes %d, %d, %d do not cover sendfile, copy and empty", len(want[0]), len(want[1]), len(want[2]))
	}
	resp.Topics = append(resp.Topics, topic)
	return resp, want
}

// readFetchFrame reads one response frame from c and decodes it as a Fetch response v.
func readFetchFrame(t *testing.T, c net.Conn, v int16) *kmsg.FetchResponse {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("frame of %d bytes: %v", len(body), err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 7 {
		t.Fatalf("correlation id %d, want 7", corr)
	}
	body = body[4:]
	if v >= 12 {
		body = body[1:] // empty header tags
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(v)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode spliced Fetch v%d: %v", v, err)
	}
	return resp
}

// tcpPair is a loopback TCP connection: sendfile needs a real socket.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// TestSplicedFetchOnTheWire encodes Fetch responses with region markers, splices them and
// writes them through the connection writer to a real socket, for the INT32 (v11) and the
// compact (v12) record set prefix; the client side decodes them with kmsg and finds the
// record bytes of the log.
func TestSplicedFetchOnTheWire(t *testing.T) {
	l := regionLog(t, 40, 10, 1000)
	for _, v := range []int16{4, 11, 12} {
		var f fetchRegions
		resp, want := fetchWithRegions(t, l, &f)
		resp.SetVersion(v)
		head, regions, err := spliceRegions(protocol.AppendResponse(nil, 7, resp), resp.IsFlexible(), &f)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if len(f.marks) != 0 || len(regions) != 2 {
			t.Fatalf("v%d: %d marks left, %d regions spliced; want 0 and 2", v, len(f.marks), len(regions))
		}
		server, client := tcpPair(t)
		w := &frameWriter{nc: server, bw: bufio.NewWriterSize(server, 64<<10)}
		out := outFrame{head: head, regions: regions}
		done := make(chan error, 1)
		go func() { done <- w.write(&out, true); out.release() }()
		got := readFetchFrame(t, client, v)
		if err := <-done; err != nil {
			t.Fatalf("v%d write: %v", v, err)
		}
		for i, p := range got.Topics[0].Partitions {
			if !bytes.Equal(p.RecordBatches, want[i]) || p.HighWatermark != l.LogEndOffset() || p.Partition != int32(i) {
				t.Fatalf("v%d partition %d: %d record bytes, hw %d; want %d bytes, hw %d", v, i, len(p.RecordBatches), p.HighWatermark, len(want[i]), l.LogEndOffset())
			}
		}
	}
}

// TestSpliceFailureFallsBack: a frame without its markers is refused, the regions stay with
// the caller, and materializeRegions answers with the bytes copied in.
func TestSpliceFailureFallsBack(t *testing.T) {
	l := regionLog(t, 40, 10, 1000)
	var f fetchRegions
	resp, want := fetchWithRegions(t, l, &f)
	resp.SetVersion(11)
	if _, _, err := spliceRegions(protocol.AppendResponse(nil, 7, kmsg.NewPtrFetchResponse()), false, &f); err == nil {
		t.Fatal("splice of a frame without markers succeeded")
	}
	if len(f.marks) != 2 {
		t.Fatalf("%d regions left after a failed splice, want 2", len(f.marks))
	}
	if err := materializeRegions(resp, &f); err != nil {
		t.Fatal(err)
	}
	for i, p := range resp.Topics[0].Partitions {
		if !bytes.Equal(p.RecordBatches, want[i]) {
			t.Fatalf("partition %d: %d record bytes, want %d", i, len(p.RecordBatches), len(want[i]))
		}
	}
}
