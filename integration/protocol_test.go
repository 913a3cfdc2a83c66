package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// contractAPIs are the advertised ranges the broker promises; ListOffsets'
// max may be anywhere in [listOffsetsMinMax, 9].
var contractAPIs = map[int16]apiRange{
	18: {0, 4},  // ApiVersions
	3:  {0, 12}, // Metadata
	0:  {0, 11}, // Produce
	1:  {4, 12}, // Fetch
	2:  {0, 9},  // ListOffsets
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	37: {0, 3},  // CreatePartitions
	32: {0, 4},  // DescribeConfigs
	22: {0, 5},  // InitProducerId
	60: {0, 1},  // DescribeCluster
}

// listOffsetsMinMax is the lowest acceptable ListOffsets max version (the
// suite uses v7 for the max-timestamp lookup).
const listOffsetsMinMax = 7

// checkAdvertised compares an ApiVersions key list with the contract.
func checkAdvertised(t *testing.T, what string, keys map[int16]apiRange) {
	t.Helper()
	for key, want := range contractAPIs {
		got, ok := keys[key]
		switch {
		case !ok:
			t.Errorf("%s: API key %d not advertised, want %d-%d", what, key, want.min, want.max)
		case key == 2:
			if got.min != 0 || got.max < listOffsetsMinMax || got.max > want.max {
				t.Errorf("%s: ListOffsets advertised %d-%d, want 0-N with %d <= N <= 9", what, got.min, got.max, listOffsetsMinMax)
			}
		case got != want:
			t.Errorf("%s: API key %d advertised %d-%d, want %d-%d", what, key, got.min, got.max, want.min, want.max)
		}
	}
	if r := keys[0]; r.max > 12 {
		t.Errorf("%s: Produce max %d carries topic ids (must be <= 12)", what, r.max)
	}
	if r := keys[1]; r.max > 12 {
		t.Errorf("%s: Fetch max %d carries topic ids (must be <= 12)", what, r.max)
	}
}

func TestApiVersions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	rc := dialRaw(t, b)
	for v := int16(0); v <= 4; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := rc.roundTrip(apiVersionsRequest(), v).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != 0 {
				t.Fatalf("ApiVersions v%d: error %d", v, resp.ErrorCode)
			}
			checkAdvertised(t, fmt.Sprintf("ApiVersions v%d", v), advertised(resp))
		})
	}

	t.Run("v9 answered with a v0 body and UNSUPPORTED_VERSION", func(t *testing.T) {
		corr, err := rc.send(apiVersionsRequest(), 9)
		if err != nil {
			t.Fatalf("send ApiVersions v9: %v", err)
		}
		fr, err := rc.readFrame(rawTimeout)
		if err != nil {
			t.Fatalf("ApiVersions v9: no response (%v); the connection must stay open", err)
		}
		if got := int32(binary.BigEndian.Uint32(fr)); got != corr {
			t.Fatalf("ApiVersions v9: correlation id %d, want %d", got, corr)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(0)
		if err := resp.ReadFrom(fr[4:]); err != nil {
			t.Fatalf("ApiVersions v9 response is not a v0 body: %v (% x)", err, fr[4:min(len(fr), 40)])
		}
		if resp.ErrorCode != 35 {
			t.Errorf("ApiVersions v9: error %d, want 35 UNSUPPORTED_VERSION", resp.ErrorCode)
		}
		if r, ok := advertised(resp)[18]; !ok || r.max != 4 {
			t.Errorf("ApiVersions v9: key 18 in the list = %+v (present %v), want max 4", r, ok)
		}
		again := rc.roundTrip(apiVersionsRequest(), 4).(*kmsg.ApiVersionsResponse)
		if again.ErrorCode != 0 {
			t.Errorf("ApiVersions v4 after v9: error %d", again.ErrorCode)
		}
	})
}

// legacyMessageSet is a one-message magic-1 message set (for Produce v0-2).
func legacyMessageSet(value []byte) []byte {
	msg := []byte{1, 0} // magic 1, attributes 0
	msg = binary.BigEndian.AppendUint64(msg, uint64(time.Now().UnixMilli()))
	msg = binary.BigEndian.AppendUint32(msg, 0xffffffff) // null key
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(value)))
	msg = append(msg, value...)
	set := binary.BigEndian.AppendUint64(nil, 0)
	set = binary.BigEndian.AppendUint32(set, uint32(4+len(msg)))
	set = binary.BigEndian.AppendUint32(set, crc32.ChecksumIEEE(msg))
	return append(set, msg...)
}

func TestProtocolDetails(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	for _, topic := range []string{"versions", "acks0", "pipe", "longpoll", "legacy"} {
		createTopic(t, adm, topic, 1, nil)
	}
	createTopic(t, adm, "meta-a", 2, nil)

	t.Run("produce v2 is UNSUPPORTED_VERSION per partition", func(t *testing.T) {
		rc := dialRaw(t, b)
		for v := int16(0); v <= 2; v++ {
			resp := rc.roundTrip(produceRequest("legacy", 0, -1, legacyMessageSet([]byte("old"))), v)
			if p := producePartition(t, resp); p.ErrorCode != 35 {
				t.Errorf("Produce v%d: partition error %d, want 35 UNSUPPORTED_VERSION", v, p.ErrorCode)
			}
		}
		if e := endOffsets(t, adm, "legacy")[0]; e != 0 {
			t.Errorf("legacy: end offset %d after refused Produce v0-2, want 0", e)
		}
	})

	t.Run("every advertised produce, fetch, list offsets and metadata version", func(t *testing.T) {
		rc := dialRaw(t, b)
		for v := int16(3); v <= 11; v++ {
			batch := buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte(fmt.Sprintf("v%d", v))}}, noProducer)
			p := producePartition(t, rc.roundTrip(produceRequest("versions", 0, -1, batch), v))
			if p.ErrorCode != 0 || p.BaseOffset != int64(v-3) {
				t.Errorf("Produce v%d: error %d base offset %d, want 0 and %d", v, p.ErrorCode, p.BaseOffset, v-3)
			}
		}
		for v := int16(4); v <= 12; v++ {
			resp := rc.roundTrip(fetchRequest("versions", 0, 0, 0, 1), v).(*kmsg.FetchResponse)
			p, err := fetchPartition(resp)
			if err != nil {
				t.Errorf("Fetch v%d: %v", v, err)
				continue
			}
			if p.ErrorCode != 0 || p.HighWatermark != 9 || !bytes.Contains(p.RecordBatches, []byte("v3")) {
				t.Errorf("Fetch v%d: error %d high watermark %d, %d record bytes; want 0, 9, the batch holding v3", v, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
			}
		}
		for v := int16(0); v <= 7; v++ {
			resp := rc.roundTrip(listOffsetsRequest("versions", 0, -1), v).(*kmsg.ListOffsetsResponse)
			p := resp.Topics[0].Partitions[0]
			got := p.Offset
			if v == 0 && len(p.OldStyleOffsets) > 0 {
				got = p.OldStyleOffsets[0]
			}
			if p.ErrorCode != 0 || got != 9 {
				t.Errorf("ListOffsets v%d latest: error %d offset %d, want 0, 9", v, p.ErrorCode, got)
			}
		}
		for v := int16(0); v <= 12; v++ {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("versions")
			req.Topics = append(req.Topics, rt)
			resp := rc.roundTrip(req, v).(*kmsg.MetadataResponse)
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 0 || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 {
				t.Errorf("Metadata v%d: brokers %+v topics %+v", v, resp.Brokers, resp.Topics)
			}
		}
	})

	t.Run("per-partition error answers keep the connection", func(t *testing.T) {
		rc := dialRaw(t, b)
		good := func() []byte {
			return buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte("e")}}, noProducer)
		}
		corrupt := good()
		corrupt[len(corrupt)-1] ^= 0xff // the CRC no longer matches
		produceCases := []struct {
			name      string
			topic     string
			partition int32
			batch     []byte
			want      int16
		}{
			{"unknown partition", "versions", 5, good(), 3},
			{"unknown topic", "never-created", 0, good(), 3},
			{"corrupt CRC", "versions", 0, corrupt, 2},
		}
		for _, pc := range produceCases {
			p := producePartition(t, rc.roundTrip(produceRequest(pc.topic, pc.partition, -1, pc.batch), 9))
			if p.ErrorCode != pc.want {
				t.Errorf("Produce %s (%s-%d): error %d, want %d", pc.name, pc.topic, pc.partition, p.ErrorCode, pc.want)
			}
		}
		p, err := fetchPartition(rc.roundTrip(fetchRequest("versions", 0, 1000, 0, 0), 12).(*kmsg.FetchResponse))
		if err != nil || p.ErrorCode != 1 {
			t.Errorf("Fetch at offset 1000 beyond the end: %v error %d, want 1 OFFSET_OUT_OF_RANGE", err, p.ErrorCode)
		}
		if e := endOffsets(t, adm, "versions")[0]; e != 9 {
			t.Errorf("versions: end offset %d after refused produces, want 9", e)
		}
		if tp := listAllTopics(t, b); tp.Has("never-created") {
			t.Errorf("Produce to an unknown topic created it")
		}
	})

	t.Run("acks=0 produce gets no response", func(t *testing.T) {
		rc := dialRaw(t, b)
		batch := buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte("fire and forget")}}, noProducer)
		if _, err := rc.send(produceRequest("acks0", 0, 0, batch), 9); err != nil {
			t.Fatalf("send Produce acks=0: %v", err)
		}
		req := apiVersionsRequest()
		corr, err := rc.send(req, 3)
		if err != nil {
			t.Fatalf("send ApiVersions: %v", err)
		}
		fr, err := rc.readFrame(rawTimeout)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got, _, err := decodeResponse(fr, req)
		if got != corr {
			t.Fatalf("first response has correlation id %d, want %d (the ApiVersions one; acks=0 must not be answered)", got, corr)
		}
		if err != nil {
			t.Fatalf("ApiVersions after acks=0: %v", err)
		}
		eventually(t, 5*time.Second, func() error {
			if e := endOffsets(t, adm, "acks0")[0]; e != 1 {
				return fmt.Errorf("acks0 end offset %d, want 1", e)
			}
			return nil
		})
	})

	t.Run("pipelined requests answered in order", func(t *testing.T) {
		rc := dialRaw(t, b)
		meta := kmsg.NewPtrMetadataRequest()
		reqs := []struct {
			req kmsg.Request
			v   int16
		}{
			{fetchRequest("pipe", 0, 0, 400, 1), 12}, // parks: the partition is empty
			{apiVersionsRequest(), 3},
			{meta, 12},
			{listOffsetsRequest("pipe", 0, -2), 7},
			{apiVersionsRequest(), 0},
			{fetchRequest("pipe", 0, 0, 0, 0), 4},
		}
		corrs := make([]int32, len(reqs))
		for i, r := range reqs {
			var err error
			if corrs[i], err = rc.send(r.req, r.v); err != nil {
				t.Fatalf("send #%d: %v", i, err)
			}
		}
		for i, r := range reqs {
			fr, err := rc.readFrame(rawTimeout)
			if err != nil {
				t.Fatalf("read response #%d: %v", i, err)
			}
			got, _, err := decodeResponse(fr, r.req)
			if got != corrs[i] {
				t.Fatalf("response #%d has correlation id %d, want %d (responses must follow request order)", i, got, corrs[i])
			}
			if err != nil {
				t.Errorf("response #%d (%T v%d): %v", i, r.req, r.v, err)
			}
		}
	})

	t.Run("fetch long poll wakes on produce", func(t *testing.T) {
		rc := dialRaw(t, b)
		sent := time.Now()
		req := fetchRequest("longpoll", 0, 0, 5000, 1)
		if _, err := rc.send(req, 12); err != nil {
			t.Fatalf("send Fetch: %v", err)
		}
		type arrival struct {
			at  time.Time
			fr  []byte
			err error
		}
		got := make(chan arrival, 1)
		go func() {
			fr, err := rc.readFrame(10 * time.Second)
			got <- arrival{time.Now(), fr, err}
		}()
		time.Sleep(700 * time.Millisecond)
		prod := newClient(t, b, kgo.DefaultProduceTopic("longpoll"))
		produced := time.Now()
		if err := prod.ProduceSync(testCtx(t, 10*time.Second), kgo.StringRecord("wake up")).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		a := <-got
		if a.err != nil {
			t.Fatalf("Fetch max_wait 5s: %v", a.err)
		}
		if a.at.Before(produced) {
			t.Errorf("Fetch min_bytes 1 on an empty partition returned after %v, before any produce (it must wait)", a.at.Sub(sent))
		}
		if d := a.at.Sub(produced); d > 2*time.Second {
			t.Errorf("Fetch returned %v after the produce, want well before max_wait 5s", d)
		}
		_, resp, err := decodeResponse(a.fr, req)
		if err != nil {
			t.Fatal(err)
		}
		p, err := fetchPartition(resp.(*kmsg.FetchResponse))
		if err != nil {
			t.Fatal(err)
		}
		if p.ErrorCode != 0 || p.HighWatermark != 1 || !bytes.Contains(p.RecordBatches, []byte("wake up")) {
			t.Errorf("woken Fetch: error %d high watermark %d %d record bytes; want 0, 1, the new record", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	})

	t.Run("metadata v12 ids, cluster id and controller", func(t *testing.T) {
		rc := dialRaw(t, b)
		resp := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 12).(*kmsg.MetadataResponse)
		if resp.ClusterID == nil || *resp.ClusterID == "" {
			t.Errorf("Metadata v12: empty cluster id")
		}
		found := false
		for _, br := range resp.Brokers {
			if br.NodeID == resp.ControllerID {
				found = true
			}
			if br.NodeID == 0 && fmt.Sprintf("%s:%d", br.Host, br.Port) != b.Addr() {
				t.Errorf("Metadata v12: broker 0 at %s:%d, want %s", br.Host, br.Port, b.Addr())
			}
		}
		if !found {
			t.Errorf("Metadata v12: controller id %d not among brokers %+v", resp.ControllerID, resp.Brokers)
		}
		ids := map[[16]byte]string{}
		seen := false
		for _, tp := range resp.Topics {
			name := kmsg.StringPtr("")
			if tp.Topic != nil {
				name = tp.Topic
			}
			if tp.TopicID == ([16]byte{}) {
				t.Errorf("Metadata v12: topic %s has a zero topic id", *name)
			}
			if other, dup := ids[tp.TopicID]; dup {
				t.Errorf("Metadata v12: topics %s and %s share id %x", other, *name, tp.TopicID)
			}
			ids[tp.TopicID] = *name
			if *name == "meta-a" {
				seen = true
				if tp.ErrorCode != 0 || len(tp.Partitions) != 2 {
					t.Errorf("Metadata v12 meta-a: error %d, %d partitions; want 0, 2", tp.ErrorCode, len(tp.Partitions))
				}
				for _, p := range tp.Partitions {
					if p.Leader != 0 || p.ErrorCode != 0 {
						t.Errorf("Metadata v12 meta-a-%d: leader %d error %d", p.Partition, p.Leader, p.ErrorCode)
					}
				}
			}
		}
		if !seen {
			t.Errorf("Metadata v12 (all topics): meta-a not listed")
		}
	})

	t.Run("describe cluster", func(t *testing.T) {
		rc := dialRaw(t, b)
		meta := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 12).(*kmsg.MetadataResponse)
		for v := int16(0); v <= 1; v++ {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.EndpointType = 1 // brokers
			resp := rc.roundTrip(req, v).(*kmsg.DescribeClusterResponse)
			if resp.ErrorCode != 0 {
				t.Errorf("DescribeCluster v%d: error %d", v, resp.ErrorCode)
				continue
			}
			if meta.ClusterID == nil || resp.ClusterID != *meta.ClusterID {
				t.Errorf("DescribeCluster v%d: cluster id %q, Metadata says %v", v, resp.ClusterID, meta.ClusterID)
			}
			if resp.ControllerID != meta.ControllerID {
				t.Errorf("DescribeCluster v%d: controller %d, Metadata says %d", v, resp.ControllerID, meta.ControllerID)
			}
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 0 || fmt.Sprintf("%s:%d", resp.Brokers[0].Host, resp.Brokers[0].Port) != b.Addr() {
				t.Errorf("DescribeCluster v%d: brokers %+v, want broker 0 at %s", v, resp.Brokers, b.Addr())
			}
		}
	})

	t.Run("metadata auto-create", func(t *testing.T) {
		rc := dialRaw(t, b)
		metaFor := func(topic string, create bool) kmsg.MetadataResponseTopic {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			req.AllowAutoTopicCreation = create
			resp := rc.roundTrip(req, 12).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("Metadata %s: %d topics in the answer, want 1", topic, len(resp.Topics))
			}
			return resp.Topics[0]
		}
		first := metaFor("auto-x", true)
		if first.ErrorCode != 0 && first.ErrorCode != 5 {
			t.Errorf("Metadata auto-x allowAutoTopicCreation: error %d, want 0 or 5 LEADER_NOT_AVAILABLE", first.ErrorCode)
		}
		eventually(t, 10*time.Second, func() error {
			tp := metaFor("auto-x", false)
			if tp.ErrorCode != 0 || len(tp.Partitions) != 1 || tp.Partitions[0].Leader != 0 {
				return fmt.Errorf("auto-x: error %d, %d partitions (want 0, num.partitions=1 with leader 0)", tp.ErrorCode, len(tp.Partitions))
			}
			return nil
		})
		if tp := metaFor("no-auto", false); tp.ErrorCode != 3 {
			t.Errorf("Metadata no-auto without auto-create: error %d, want 3 UNKNOWN_TOPIC_OR_PARTITION", tp.ErrorCode)
		}
		time.Sleep(200 * time.Millisecond)
		if tp := metaFor("no-auto", false); tp.ErrorCode != 3 {
			t.Errorf("no-auto exists (error %d) though it was never created", tp.ErrorCode)
		}
	})
}

// fetchRequest is a single-partition fetch from offset.
func fetchRequest(topic string, partition int32, offset int64, maxWaitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWaitMs
	req.MinBytes = minBytes
	req.MaxBytes = 50 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchPartition extracts the single partition of a fetch response.
func fetchPartition(resp *kmsg.FetchResponse) (kmsg.FetchResponseTopicPartition, error) {
	if resp.ErrorCode != 0 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("top-level error %d", resp.ErrorCode)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("want one topic with one partition, got %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0], nil
}

// listOffsetsRequest asks for one partition's offset at timestamp ts.
func listOffsetsRequest(topic string, partition int32, ts int64) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = ts
	rp.MaxNumOffsets = 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
