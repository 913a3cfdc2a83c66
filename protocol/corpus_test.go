package protocol

import (
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// update rewrites the seed corpus in ../testdata:
//
//	go test ./protocol -run TestSeedCorpus -args -update
var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in ../testdata")

const corpusRoot = "../testdata"

// seedRequests are requests as clients send them, used for frame and header
// seeds.
func seedRequests(tb testing.TB) map[string]kmsg.Request {
	produce := func(v int16) kmsg.Request {
		r := kmsg.NewPtrProduceRequest()
		r.Version, r.Acks, r.TimeoutMillis = v, -1, 30000
		tp := kmsg.NewProduceRequestTopicPartition()
		tp.Records = buildBatch(tb, batchSpec{codec: CodecNone, records: testRecords(2)})
		topic := kmsg.NewProduceRequestTopic()
		topic.Topic = "events"
		topic.Partitions = append(topic.Partitions, tp)
		r.Topics = append(r.Topics, topic)
		return r
	}
	metadata := func(v int16) kmsg.Request {
		r := kmsg.NewPtrMetadataRequest()
		r.Version = v
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr("events")
		r.Topics = append(r.Topics, t)
		return r
	}
	apiVersions := func(v int16) kmsg.Request {
		r := kmsg.NewPtrApiVersionsRequest()
		r.Version = v
		r.ClientSoftwareName, r.ClientSoftwareVersion = "kgo", "1.0.0"
		return r
	}
	fetch := func(v int16) kmsg.Request {
		r := kmsg.NewPtrFetchRequest()
		r.Version, r.MaxWaitMillis, r.MinBytes, r.MaxBytes = v, 500, 1, 1<<20
		return r
	}
	return map[string]kmsg.Request{
		"produce-v7":      produce(7),
		"produce-v9":      produce(9),
		"metadata-v1":     metadata(1),
		"metadata-v12":    metadata(12),
		"apiversions-v0":  apiVersions(0),
		"apiversions-v3":  apiVersions(3),
		"fetch-v4":        fetch(4),
		"fetch-v13":       fetch(13),
		"ctrlshutdown-v1": func() kmsg.Request { r := kmsg.NewPtrControlledShutdownRequest(); r.Version = 1; return r }(),
	}
}

func seedFrames(tb testing.TB) map[string][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed-client"))
	out := map[string][]byte{}
	var stream []byte
	reqs := seedRequests(tb)
	names := make([]string, 0, len(reqs))
	for name := range reqs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		frame := f.AppendRequest(nil, reqs[name], 1)
		out[name] = frame
		stream = append(stream, frame...)
	}
	out["stream"] = stream
	out["too-large"] = []byte{0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 3}
	out["negative"] = []byte{0xff, 0xff, 0xff, 0xff, 0, 18}
	out["truncated"] = out["metadata-v12"][:10]
	out["empty-body"] = []byte{0, 0, 0, 0}
	return out
}

func seedHeaders(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, frame := range seedFrames(tb) {
		if strings.HasPrefix(name, "too-large") || name == "negative" || name == "stream" || len(frame) < 4 {
			continue
		}
		out[name] = frame[4:]
	}
	out["ctrlshutdown-v0"] = rawHeader(7, 0, 3, nil, nil, false, false)
	out["tagged"] = rawHeader(18, 3, 4, strp("c"), [][2][]byte{{{0}, []byte("x")}, {{2}, nil}}, true, true)
	out["unknown-key"] = rawHeader(999, 0, 5, nil, nil, true, false)
	return out
}

// seedBatches names each batch by the outcome it must have: valid-* pass,
// <KAFKA_ERROR>-* fail with that error.
func seedBatches(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, c := range allCodecs {
		out["valid-"+c.String()] = buildBatch(tb, batchSpec{codec: c, records: testRecords(6)})
	}
	out["valid-snappy-xerial"] = buildBatch(tb, batchSpec{codec: CodecSnappy, xerial: true, records: testRecords(20)})
	out["valid-idempotent"] = buildBatch(tb, batchSpec{codec: CodecZstd, edit: func(b *kmsg.RecordBatch) { b.ProducerID, b.ProducerEpoch, b.FirstSequence = 1, 0, 0 }})
	bad := buildBatch(tb, batchSpec{codec: CodecNone})
	bad[len(bad)-2] ^= 0x55
	out["CORRUPT_MESSAGE-crc"] = bad
	out["CORRUPT_MESSAGE-truncated"] = buildBatch(tb, batchSpec{codec: CodecLZ4})[:70]
	out["INVALID_RECORD-two-batches"] = append(buildBatch(tb, batchSpec{}), buildBatch(tb, batchSpec{codec: CodecGzip})...)
	out["INVALID_RECORD-offset-delta"] = func() []byte {
		recs := testRecords(3)
		recs[1].OffsetDelta = 9
		return buildBatch(tb, batchSpec{codec: CodecSnappy, records: recs})
	}()
	out["INVALID_RECORD-control"] = buildBatch(tb, batchSpec{edit: func(b *kmsg.RecordBatch) { b.Attributes |= attrControl }})
	return out
}

// seedMessageSets are magic 0/1 message sets named like the batches (valid-*
// convert, <KAFKA_ERROR>-* fail with that error). Sets captured from real
// clients (librdkafka-*, sarama-*) are kept in the folder beside them.
func seedMessageSets(tb testing.TB) map[string][]byte {
	msgs := testLegacyMsgs(5, legacyTS)
	out := map[string][]byte{
		"valid-v0-none":              legacySet(0, msgs),
		"valid-v1-none":              legacySet(1, msgs),
		"valid-v1-wrapper-offset-0":  legacyWrapper(tb, 1, CodecGzip, 0, legacyTS, msgs),
		"valid-partial-tail":         append(legacySet(1, msgs), legacySet(1, msgs)[:25]...),
		"INVALID_RECORD-two-magics":  append(legacySet(0, msgs[:1]), legacySet(1, msgs[1:])...),
		"INVALID_RECORD-inner-after": legacyWrapper(tb, 1, CodecSnappy, 2, legacyTS, msgs),
	}
	for _, c := range []Codec{CodecGzip, CodecSnappy, CodecLZ4} {
		out["valid-v0-"+c.String()] = legacyWrapper(tb, 0, c, 4, -1, msgs)
		out["valid-v1-"+c.String()] = legacyWrapper(tb, 1, c, 4, legacyTS+4, msgs)
	}
	bad := legacySet(1, msgs)
	bad[30] ^= 0x55
	out["CORRUPT_MESSAGE-crc"] = bad
	return out
}

var seedSets = map[string]func(testing.TB) map[string][]byte{
	"frames":      seedFrames,
	"headers":     seedHeaders,
	"batches":     seedBatches,
	"messagesets": seedMessageSets,
}

// loadSeeds returns the corpus files of one folder of ../testdata.
func loadSeeds(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusRoot, dir, "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".bin")] = b
	}
	return out
}

func addSeeds(f *testing.F, dir string) {
	seeds := loadSeeds(f, dir)
	if len(seeds) == 0 {
		f.Fatalf("no seed corpus in %s/%s (go test ./protocol -run TestSeedCorpus -args -update)", corpusRoot, dir)
	}
	for _, name := range slices.Sorted(mapsKeys(seeds)) {
		f.Add(seeds[name])
	}
	inCode := seedSets[dir](f)
	for _, name := range slices.Sorted(mapsKeys(inCode)) {
		f.Add(inCode[name])
	}
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSeedCorpus checks the committed corpus is there and that every batch
// seed still gets the outcome its name states; with -update it rewrites it.
func TestSeedCorpus(t *testing.T) {
	if *update {
		for dir, gen := range seedSets {
			if err := os.MkdirAll(filepath.Join(corpusRoot, dir), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range gen(t) {
				if err := os.WriteFile(filepath.Join(corpusRoot, dir, name+".bin"), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for dir := range seedSets {
		if len(loadSeeds(t, dir)) == 0 {
			t.Fatalf("no seeds in %s/%s", corpusRoot, dir)
		}
	}
	for name, batch := range loadSeeds(t, "batches") {
		_, err := ValidateProduceBatch(batch, ValidateOptions{MaxBatchBytes: 1 << 20})
		want, _, _ := strings.Cut(name, "-")
		switch {
		case want == "valid":
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		default:
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke.Message != want {
				t.Errorf("%s: err = %v, want %s", name, err, want)
			}
		}
	}
	for name, set := range loadSeeds(t, "messagesets") {
		_, _, err := ConvertMessageSet(set, anyTime)
		want, _, _ := strings.Cut(name, "-")
		var ke *kerr.Error
		switch {
		case want == "valid" && err != nil:
			t.Errorf("message set %s: %v", name, err)
		case want != "valid" && (!errors.As(err, &ke) || ke.Message != want):
			t.Errorf("message set %s: err = %v, want %s", name, err, want)
		}
	}
	for name, frame := range loadSeeds(t, "frames") {
		if len(frame) >= 4 && int32(binary.BigEndian.Uint32(frame)) >= 0 && name != "truncated" && name != "too-large" && name != "stream" {
			if int(binary.BigEndian.Uint32(frame)) != len(frame)-4 {
				t.Errorf("frame seed %s: size prefix does not match", name)
			}
		}
	}
}
