package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is a hand-framed Kafka connection: requests are kmsg messages with
// a request header written here (v1, or v2 for flexible versions), responses
// are read frame by frame. It deliberately does not use the broker's own
// protocol package.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	corr int32
}

// rawTimeout bounds every read and write on a rawConn.
const rawTimeout = 10 * time.Second

// dialRaw opens a TCP connection to b, closed at cleanup.
func dialRaw(t testing.TB, b *Broker) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c}
}

// encodeRequest frames req at its current version with correlation id corr.
func encodeRequest(req kmsg.Request, corr int32, clientID string) []byte {
	buf := make([]byte, 4, 256)
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(clientID)))
	buf = append(buf, clientID...)
	if req.IsFlexible() {
		buf = append(buf, 0) // no tagged fields in the header
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

// send writes req at version v with the next correlation id and returns it.
func (r *rawConn) send(req kmsg.Request, v int16) (int32, error) {
	r.corr++
	req.SetVersion(v)
	if err := r.conn.SetWriteDeadline(time.Now().Add(rawTimeout)); err != nil {
		return 0, err
	}
	_, err := r.conn.Write(encodeRequest(req, r.corr, "kbroker-it-raw"))
	return r.corr, err
}

// writeRaw writes bytes as they are.
func (r *rawConn) writeRaw(p []byte) error {
	if err := r.conn.SetWriteDeadline(time.Now().Add(rawTimeout)); err != nil {
		return err
	}
	_, err := r.conn.Write(p)
	return err
}

// readFrame reads one size-prefixed response frame within timeout.
func (r *rawConn) readFrame(timeout time.Duration) ([]byte, error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(r.conn, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 256<<20 {
		return nil, fmt.Errorf("response frame size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.conn, buf); err != nil {
		return nil, fmt.Errorf("response frame body (%d bytes): %w", n, err)
	}
	return buf, nil
}

// decodeResponse parses a response frame for req (at req's version): the
// correlation id, the header tags when the response is flexible (never for
// ApiVersions, whose response header is always v0), then the body.
func decodeResponse(frame []byte, req kmsg.Request) (int32, kmsg.Response, error) {
	if len(frame) < 4 {
		return 0, nil, errors.New("frame shorter than a correlation id")
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return corr, nil, fmt.Errorf("response header tags: %w", err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return corr, nil, fmt.Errorf("decode %T v%d: %w", resp, resp.GetVersion(), err)
	}
	return corr, resp, nil
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errors.New("bad tag id")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// roundTrip sends req at version v and reads its response, failing the test
// on any transport or decoding error or on a correlation id mismatch.
func (r *rawConn) roundTrip(req kmsg.Request, v int16) kmsg.Response {
	r.t.Helper()
	corr, err := r.send(req, v)
	if err != nil {
		r.t.Fatalf("send %T v%d: %v", req, v, err)
	}
	frame, err := r.readFrame(rawTimeout)
	if err != nil {
		r.t.Fatalf("read response to %T v%d: %v", req, v, err)
	}
	got, resp, err := decodeResponse(frame, req)
	if err != nil {
		r.t.Fatalf("%T v%d: %v", req, v, err)
	}
	if got != corr {
		r.t.Fatalf("%T v%d: response correlation id %d, want %d", req, v, got, corr)
	}
	return resp
}

// expectClosed reads until the peer closes the connection (EOF or reset)
// within timeout; any response bytes before the close are discarded.
func (r *rawConn) expectClosed(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		_, err := r.conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("connection still open after %v", timeout)
		}
		return nil // EOF, reset, or another read error: closed
	}
}

// batchRecord is one record for buildBatch.
type batchRecord struct {
	key, value []byte
	tsDelta    int64
}

// producerIdent is the idempotence triple of a batch; pid -1 for none.
type producerIdent struct {
	pid   int64
	epoch int16
	seq   int32
}

var noProducer = producerIdent{pid: -1, epoch: -1, seq: -1}

// castagnoli is the CRC-32C table of record batch v2.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// buildBatch encodes an uncompressed magic-2 record batch with the given
// first timestamp, records and producer identity, CRC-32C included.
func buildBatch(firstTS int64, recs []batchRecord, id producerIdent) []byte {
	var body []byte
	maxTS := firstTS
	for i, br := range recs {
		rec := kmsg.Record{
			TimestampDelta64: br.tsDelta,
			OffsetDelta:      int32(i),
			Key:              br.key,
			Value:            br.value,
		}
		enc := rec.AppendTo(nil)
		rec.Length = int32(len(enc) - 1) // the zero Length varint is one byte
		body = rec.AppendTo(body)
		if firstTS+br.tsDelta > maxTS {
			maxTS = firstTS + br.tsDelta
		}
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       firstTS,
		MaxTimestamp:         maxTS,
		ProducerID:           id.pid,
		ProducerEpoch:        id.epoch,
		FirstSequence:        id.seq,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	enc := b.AppendTo(nil)
	binary.BigEndian.PutUint32(enc[8:], uint32(len(enc)-12))
	binary.BigEndian.PutUint32(enc[17:], crc32.Checksum(enc[21:], castagnoli))
	return enc
}

// produceRequest is a single-partition Produce request carrying records.
func produceRequest(topic string, partition int32, acks int16, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// producePartition extracts the single partition answer of a Produce
// response.
func producePartition(t testing.TB, resp kmsg.Response) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want 1 topic with 1 partition, got %+v", pr.Topics)
	}
	return pr.Topics[0].Partitions[0]
}

// apiRange is an advertised [min, max] version range.
type apiRange struct{ min, max int16 }

// advertised maps API key -> range from an ApiVersions response.
func advertised(resp *kmsg.ApiVersionsResponse) map[int16]apiRange {
	m := make(map[int16]apiRange, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		m[k.ApiKey] = apiRange{k.MinVersion, k.MaxVersion}
	}
	return m
}

// apiVersionsRequest is an ApiVersions request with a valid client software
// name and version (required from v3 on).
func apiVersionsRequest() *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "kbroker-it"
	req.ClientSoftwareVersion = "1.0.0"
	return req
}
