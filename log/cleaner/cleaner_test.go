package cleaner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kbroker/log"
	"kbroker/protocol"
)

// TestCleanDedupe: 300 updates to 10 keys (the example) clean down to one record per
// key, at its original offset with its latest value; the active segment is untouched.
func TestCleanDedupe(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	for i := 0; i < 300; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("k%d", i%10), val(i))}, pid: -1}))
	}
	before, _ := readAll(t, l)
	want := latest(before)
	segs := l.Segments()
	active := segs[len(segs)-1]
	st := fullClean(t, l, defaultConfig(), 0, c.now)
	if st.End != active.BaseOffset || st.BytesWritten >= st.BytesRead/10 || st.RecordsWritten != 10 {
		t.Fatalf("stats %+v", st)
	}
	after, _ := readAll(t, l)
	if got := latest(after); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("latest values changed:\n got %v\nwant %v", got, want)
	}
	// Below the active segment every key appears once; the active segment keeps everything.
	seen := map[string]bool{}
	for _, r := range after {
		if r.offset >= active.BaseOffset {
			continue
		}
		if seen[r.key] {
			t.Fatalf("key %s twice in the cleaned part", r.key)
		}
		seen[r.key] = true
		if want := before[r.offset]; want.value != r.value || want.key != r.key {
			t.Fatalf("offset %d holds %s=%s, was %s=%s", r.offset, r.key, r.value, want.key, want.value)
		}
	}
	for i := active.BaseOffset; i < 300; i++ {
		if after[len(after)-int(300-i)].offset != i {
			t.Fatalf("active segment record %d missing", i)
		}
	}
	if l.LogEndOffset() != 300 {
		t.Fatalf("log end %d", l.LogEndOffset())
	}
	// A second pass over a clean log with nothing dirty changes nothing.
	if st := fullClean(t, l, defaultConfig(), st.End, c.now); st.End != st.FirstDirty || st.BytesRead != 0 {
		t.Fatalf("second pass %+v", st)
	}
	// The next pass with dirty data merges the small cleaned segments into one.
	n := len(l.Segments())
	for i := 300; i < 330; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("k%d", i%10), val(i))}, pid: -1}))
	}
	fullClean(t, l, defaultConfig(), st.End, c.now)
	if m := len(l.Segments()); m >= n {
		t.Fatalf("%d segments after a second cleaning, %d before", m, n)
	}
}

// TestCleanTombstones: a tombstone survives the cleaning that first sees it, which stamps
// its batch with a delete horizon of now + delete.retention.ms; a later cleaning after the
// horizon removes it. Records without a key go.
func TestCleanTombstones(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("a", "1"), rec("b", "1"), {value: []byte("no key")}}, pid: -1}))
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{tomb("a"), rec("c", "1")}, pid: -1}))
	filler := func(n int) {
		for i := 0; i < n; i++ {
			appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("z", val(i))}, ts: c.now.UnixMilli(), pid: -1}))
		}
	}
	filler(20)
	cfg := defaultConfig()
	cfg.DeleteRetentionMs = 60_000
	st := fullClean(t, l, cfg, 0, c.now)
	if st.InvalidRecords != 1 {
		t.Fatalf("records without key removed: %d", st.InvalidRecords)
	}
	recs, hs := readAll(t, l)
	m := latest(recs)
	if !m["a"].tombstone || m["b"].value != "1" || m["c"].value != "1" {
		t.Fatalf("after the first cleaning: %v", m)
	}
	for _, r := range recs {
		if !r.hasKey {
			t.Fatal("a record without a key survived")
		}
	}
	horizon := int64(-1)
	for _, h := range hs {
		if hz, ok := h.deleteHorizon(); ok {
			horizon = hz
		}
	}
	if horizon != c.now.UnixMilli()+60_000 {
		t.Fatalf("delete horizon %d, want now+60000 (%d)", horizon, c.now.UnixMilli()+60_000)
	}
	// The tombstone's record timestamp is unchanged by the horizon.
	for _, r := range recs {
		if r.key == "a" && r.ts != recs[0].ts && r.ts < 1000 {
			t.Fatalf("tombstone timestamp %d", r.ts)
		}
	}
	// Before the horizon a new cleaning keeps it; after, it goes.
	filler(10)
	fullClean(t, l, cfg, 0, c.now.Add(59*time.Second))
	recs, _ = readAll(t, l)
	if !latest(recs)["a"].tombstone {
		t.Fatal("tombstone removed before its horizon")
	}
	filler(10)
	fullClean(t, l, cfg, 0, c.now.Add(61*time.Second))
	recs, _ = readAll(t, l)
	if _, ok := latest(recs)["a"]; ok {
		t.Fatalf("tombstone still there after its horizon: %v", latest(recs)["a"])
	}
	if m := latest(recs); m["b"].value != "1" || m["c"].value != "1" {
		t.Fatalf("live keys lost: %v", m)
	}
}

// TestCleanKeepsProducerState: an idempotent producer's batches whose records are all
// superseded leave an empty batch at the producer's last sequence, so that the producer's
// state rebuilt from the log (no snapshot) still continues its sequence and rejects a
// duplicate sequence.
func TestCleanKeepsProducerState(t *testing.T) {
	c := &clock{now: time.Now()}
	dir := partDir(t)
	l := openLog(t, dir, c, nil)
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("k", "p0"), rec("k", "p1")}, pid: 7, epoch: 2, seq: 0}))
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("k", "p2")}, pid: 7, epoch: 2, seq: 2}))
	for i := 0; i < 30; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("k", val(i))}, pid: -1}))
	}
	fullClean(t, l, defaultConfig(), 0, c.now)
	_, hs := readAll(t, l)
	var empty *header
	for i := range hs {
		if hs[i].ProducerID == 7 {
			if hs[i].NumRecords != 0 || hs[i].BaseSequence != 2 || hs[i].ProducerEpoch != 2 || hs[i].LastOffset() != 2 {
				t.Fatalf("producer 7 batch after cleaning: %+v", hs[i].BatchHeader)
			}
			empty = &hs[i]
		}
	}
	if empty == nil {
		t.Fatal("producer 7's last batch is gone")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	for _, s := range snaps {
		if err := os.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	l = openLog(t, dir, c, nil)
	defer l.Close()
	if _, err := l.Append(mkBatch(t, batchSpec{recs: []kv{rec("k", "dup")}, pid: 7, epoch: 2, seq: 5}), 0); !errors.Is(err, log.ErrOutOfOrderSequence) {
		t.Fatalf("sequence 5 after 2: %v, want out of order", err)
	}
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("k", "next")}, pid: 7, epoch: 2, seq: 3}))
}

// TestCleanCodecs: a partly superseded batch of each codec is rebuilt with the same codec,
// keeping the kept records' offsets, timestamps and headers.
func TestCleanCodecs(t *testing.T) {
	for _, codec := range []protocol.Codec{protocol.CodecNone, protocol.CodecGzip, protocol.CodecSnappy, protocol.CodecLZ4, protocol.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			c := &clock{now: time.Now()}
			l := openLog(t, partDir(t), c, nil)
			defer l.Close()
			ts := c.now.Add(-time.Hour).UnixMilli()
			appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("a", "1"), rec("b", "1"), rec("c", "1"), rec("d", "1")}, codec: codec, ts: ts, header: "hv", pid: -1}))
			appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("a", "2"), rec("c", "2")}, pid: -1}))
			for i := 0; i < 20; i++ {
				appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("z", val(i))}, pid: -1}))
			}
			fullClean(t, l, defaultConfig(), 0, c.now)
			recs, hs := readAll(t, l)
			if hs[0].codec() != codec || hs[0].NumRecords != 2 || hs[0].LastOffset() != 3 {
				t.Fatalf("first batch %+v, want 2 records of %v ending at 3", hs[0].BatchHeader, codec)
			}
			if recs[0].offset != 1 || recs[0].key != "b" || recs[0].ts != ts+1 || recs[0].header != "hv" ||
				recs[1].offset != 3 || recs[1].key != "d" || recs[1].ts != ts+3 {
				t.Fatalf("kept records %+v %+v", recs[0], recs[1])
			}
			if hs[0].BaseTimestamp != ts+1 || hs[0].MaxTimestamp != ts+3 {
				t.Fatalf("timestamps base %d max %d", hs[0].BaseTimestamp, hs[0].MaxTimestamp)
			}
		})
	}
}

// TestCleanUnchangedBatchCopied: a batch that keeps all its records is written as it was,
// byte for byte; a LogAppendTime batch keeps its timestamp.
func TestCleanUnchangedBatchCopied(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	orig := mkBatch(t, batchSpec{recs: []kv{rec("x", "1"), rec("y", "1")}, codec: protocol.CodecZstd, pid: -1, logAppendTime: true, logAppendTimestamp: 12345})
	appendT(t, l, append([]byte(nil), orig...))
	appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("y", "2"), rec("q", "1")}, pid: -1, logAppendTime: true, logAppendTimestamp: 777}))
	for i := 0; i < 20; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec("z", val(i))}, pid: -1}))
	}
	fullClean(t, l, defaultConfig(), 0, c.now)
	recs, hs := readAll(t, l)
	if hs[0].NumRecords != 1 || recs[0].key != "x" || recs[0].ts != 12345 || hs[0].MaxTimestamp != 12345 {
		t.Fatalf("first batch %+v, record %+v", hs[0].BatchHeader, recs[0])
	}
	if hs[1].NumRecords != 2 || hs[1].CRC != parseHeader(mkBatch(t, batchSpec{recs: []kv{rec("y", "2"), rec("q", "1")}, pid: -1, logAppendTime: true, logAppendTimestamp: 777, ts: hs[1].BaseTimestamp})).CRC {
		t.Fatalf("second batch rewritten: %+v", hs[1].BatchHeader)
	}
}

// TestCleanOffsetMapFull: a dedupe buffer too small for the dirty section cleans up to what
// it mapped; the next pass goes on from there.
func TestCleanOffsetMapFull(t *testing.T) {
	c := &clock{now: time.Now()}
	l := openLog(t, partDir(t), c, nil)
	defer l.Close()
	for i := 0; i < 200; i++ {
		appendT(t, l, mkBatch(t, batchSpec{recs: []kv{rec(fmt.Sprintf("k%03d", i), "v")}, pid: -1}))
	}
	before, _ := readAll(t, l)
	segs := l.Segments()
	cl := NewCleaner(64*slotBytes, 0.9) // 57 keys
	st, err := cl.Clean(t.Context(), l, defaultConfig(), 0, segs[len(segs)-1].BaseOffset, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if st.End <= 0 || st.End > 60 {
		t.Fatalf("first pass ended at %d with a 57-key map", st.End)
	}
	st2, err := cl.Clean(t.Context(), l, defaultConfig(), st.End, segs[len(segs)-1].BaseOffset, c.now)
	if err != nil || st2.End <= st.End {
		t.Fatalf("second pass: %+v %v", st2, err)
	}
	after, _ := readAll(t, l)
	if len(after) != len(before) {
		t.Fatalf("distinct keys lost: %d of %d records left", len(after), len(before))
	}
}

// TestGroupBySize: groups respect segment.bytes and segment.index.bytes.
func TestGroupBySize(t *testing.T) {
	seg := func(base, next, size, idx int64) *log.SealedSegment {
		return &log.SealedSegment{BaseOffset: base, NextOffset: next, Size: size, IndexBytes: idx}
	}
	segs := []*log.SealedSegment{seg(0, 10, 400, 8), seg(10, 20, 400, 8), seg(20, 30, 400, 8), seg(30, 40, 100, 60), seg(40, 50, 0, 0)}
	got := groupBySize(segs, 1000, 64, 50)
	var shape []int
	for _, g := range got {
		shape = append(shape, len(g))
	}
	if fmt.Sprint(shape) != "[2 1 2]" {
		t.Fatalf("groups %v, want [2 1 2]", shape)
	}
}

// BenchmarkClean cleans a 64 MiB log of 200-byte values over 100,000 keys, uncompressed,
// in batches of 100 records (docs/benchmarks.md has the broker-level figure against Kafka's).
func BenchmarkClean(b *testing.B) {
	const keys, perBatch = 100_000, 100
	c := &clock{now: time.Now()}
	value := string(make([]byte, 200))
	var batches [][]byte
	var total int64
	for i := 0; total < 64<<20; i++ {
		recs := make([]kv, perBatch)
		for j := range recs {
			recs[j] = rec(fmt.Sprintf("key-%08d", (i*perBatch+j)%keys), value)
		}
		bt := mkBatch(b, batchSpec{recs: recs, pid: -1})
		batches = append(batches, bt)
		total += int64(len(bt))
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := openLogOpts(b, partDir(b), c, 16<<20)
		for _, bt := range batches {
			appendT(b, l, append([]byte(nil), bt...))
		}
		segs := l.Segments()
		cfg := defaultConfig()
		cfg.SegmentBytes = 16 << 20
		cl := NewCleaner(128<<20, 0.9)
		b.StartTimer()
		if _, err := cl.Clean(b.Context(), l, cfg, 0, segs[len(segs)-1].BaseOffset, c.now); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
	}
}
