package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchOf builds one uncompressed batch holding a single record of n value bytes.
func batchOf(n int, fill byte) []byte {
	return buildBatch(time.Now().UnixMilli(), []batchRecord{{key: []byte{fill}, value: bytes.Repeat([]byte{fill}, n)}}, noProducer)
}

// TestFetchByteLimits checks whole batches only, the per-partition and total limits, and
// KIP-74: the first batch is returned even when it is larger than the limit.
func TestFetchByteLimits(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, "limits", 2, nil)
	rc := dialRaw(t, b)
	var sizes []int
	for i, p := range []int32{0, 0, 0, 1} {
		batch := batchOf(10<<10, byte('a'+i))
		sizes = append(sizes, len(batch))
		if sp := producePartition(t, rc.roundTrip(produceRequest("limits", p, -1, batch), 7)); sp.ErrorCode != 0 {
			t.Fatalf("produce %d: error %d", i, sp.ErrorCode)
		}
	}
	fetch := func(maxBytes int32, parts map[int32]int32) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, maxBytes, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "limits"
		for _, p := range []int32{0, 1} {
			if pm, ok := parts[p]; ok {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes = p, pm
				rt.Partitions = append(rt.Partitions, rp)
			}
		}
		req.Topics = append(req.Topics, rt)
		return rc.roundTrip(req, 11).(*kmsg.FetchResponse)
	}
	got := func(resp *kmsg.FetchResponse, p int32) int {
		for _, sp := range resp.Topics[0].Partitions {
			if sp.Partition == p {
				if sp.ErrorCode != 0 {
					t.Fatalf("partition %d: error %d", p, sp.ErrorCode)
				}
				return len(sp.RecordBatches)
			}
		}
		t.Fatalf("partition %d missing from the answer", p)
		return 0
	}
	cases := []struct {
		name   string
		max    int32
		parts  map[int32]int32
		p0, p1 int
	}{
		{"partition limit below one batch still returns the first batch (KIP-74)", 50 << 20, map[int32]int32{0: 1000}, sizes[0], -1},
		{"partition limit of two and a half batches returns two whole batches", 50 << 20, map[int32]int32{0: int32(sizes[0] + sizes[1] + sizes[2]/2)}, sizes[0] + sizes[1], -1},
		{"total limit below one batch: first batch of the first partition only", 1000, map[int32]int32{0: 1 << 20, 1: 1 << 20}, sizes[0], 0},
		{"total limit spans partitions", int32(sizes[0] + sizes[1] + sizes[2] + sizes[3]), map[int32]int32{0: 1 << 20, 1: 1 << 20}, sizes[0] + sizes[1] + sizes[2], sizes[3]},
	}
	for _, c := range cases {
		resp := fetch(c.max, c.parts)
		if n := got(resp, 0); n != c.p0 {
			t.Errorf("%s: partition 0 returned %d bytes, want %d", c.name, n, c.p0)
		}
		if c.p1 >= 0 {
			if n := got(resp, 1); n != c.p1 {
				t.Errorf("%s: partition 1 returned %d bytes, want %d", c.name, n, c.p1)
			}
		}
	}
}

// TestLogAppendTimeTopic: a topic with message.timestamp.type=LogAppendTime stamps batches
// with the broker's clock, and consumers (which check CRCs) read them back.
func TestLogAppendTimeTopic(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	lat := "LogAppendTime"
	createTopic(t, adm, "stamped", 1, map[string]*string{"message.timestamp.type": &lat})
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	before := time.Now().Add(-time.Second)

	rc := dialRaw(t, b)
	batch := buildBatch(old.UnixMilli(), []batchRecord{{key: []byte("k"), value: []byte("raw")}}, noProducer)
	sp := producePartition(t, rc.roundTrip(produceRequest("stamped", 0, -1, batch), 7))
	if sp.ErrorCode != 0 || sp.LogAppendTime < before.UnixMilli() {
		t.Fatalf("produce: error %d, log_append_time %d (want >= %d)", sp.ErrorCode, sp.LogAppendTime, before.UnixMilli())
	}

	cl := newClient(t, b, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	ctx := testCtx(t, 20*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "stamped", Key: []byte("k2"), Value: []byte("kgo"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	recs := consumeN(t, b, "stamped", 1, 2, 20*time.Second, 0)
	for _, r := range recs {
		if r.Attrs.TimestampType() != 1 {
			t.Errorf("record %q: timestamp type %d, want 1 (LogAppendTime)", r.Value, r.Attrs.TimestampType())
		}
		if r.Timestamp.Before(before) || r.Timestamp.After(time.Now().Add(time.Second)) {
			t.Errorf("record %q: timestamp %v, want the broker's append time (after %v)", r.Value, r.Timestamp, before)
		}
	}
}

// TestForeignClusterIDRefused: a log dir written for another cluster is refused.
func TestForeignClusterIDRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	if code := b.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit status %d", code)
	}
	path := filepath.Join(b.LogDir(), "meta.properties")
	meta := "version=0\nbroker.id=0\ncluster.id=AnotherClusterIdAAAAAAA\n"
	if err := os.WriteFile(path, []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.launch(); err != nil {
		t.Fatal(err)
	}
	code, err := b.waitExit(readyTimeout)
	if err != nil || code == 0 {
		t.Fatalf("log dir of another cluster: exit %d, %v (want a refusal)", code, err)
	}
	if !strings.Contains(b.Output(), "cluster.id") {
		t.Errorf("refusal message does not mention cluster.id")
	}
}
