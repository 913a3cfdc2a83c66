package integration

// Compaction against the real binary: a compacted topic read in full keeps one value per
// key, tombstones go after delete.retention.ms, records without a key are refused,
// __consumer_offsets stays bounded while a group commits over and over, and the records of
// aborted transactions go, then their markers.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// compactionOverrides make the cleaner look for work often.
var compactionOverrides = []string{
	"log.cleaner.backoff.ms=200",
	"log.retention.check.interval.ms=300",
	"log.segment.delete.delay.ms=200",
}

// readKeyed reads topic-0 from its log start to its end with a consumer and returns the
// records in order.
func readKeyed(t testing.TB, b *Broker, adm *kadm.Client, topic string, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	ends := endOffsets(t, adm, topic)
	start, err := startOffset(testCtx(t, 5*time.Second), adm, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ends[0] == start {
		return nil
	}
	cl := newClient(t, b, append([]kgo.Opt{kgo.ConsumePartitions(startOffsets(topic, 1))}, opts...)...)
	defer cl.Close()
	ctx := testCtx(t, 20*time.Second)
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s up to %d: %v", topic, ends[0], ctx.Err())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("read %s: %v", topic, e.Err)
		}
		for _, r := range fs.Records() {
			out = append(out, r)
			if r.Offset == ends[0]-1 {
				return out
			}
		}
	}
}

// keyCounts counts the records of each key, and returns the last value of each (nil for a
// tombstone).
func keyCounts(rs []*kgo.Record) (map[string]int, map[string][]byte) {
	counts, last := map[string]int{}, map[string][]byte{}
	for _, r := range rs {
		counts[string(r.Key)]++
		last[string(r.Key)] = r.Value
	}
	return counts, last
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	b := startBroker(t, compactionOverrides...)
	adm := newAdmin(t, b)
	const topic = "compacted"
	createTopic(t, adm, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"delete.retention.ms":       kadm.StringPtr("3000"),
	})
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	ctx := testCtx(t, time.Minute)
	produce := func(key string, value []byte) {
		t.Helper()
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", key, err)
		}
	}
	// The example: 300 updates to 10 keys, then tombstones for two of them; filler on
	// one key pushes them out of the active segment, which is never cleaned.
	for i := 0; i < 300; i++ {
		produce(fmt.Sprintf("key-%d", i%10), []byte(fmt.Sprintf("value-%d", i)))
	}
	produce("key-3", nil)
	produce("key-7", nil)
	filler := func(n int) {
		for i := 0; i < n; i++ {
			produce("filler", []byte(strings.Repeat("f", 200)))
		}
	}
	filler(40)

	// A record without a key is refused on a compacted topic.
	err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("produce without a key to a compacted topic: %v, want INVALID_RECORD", err)
	}

	check := func(rs []*kgo.Record, tombstones bool) error {
		counts, last := keyCounts(rs)
		for k := 0; k < 10; k++ {
			key := fmt.Sprintf("key-%d", k)
			wantValue := fmt.Sprintf("value-%d", 290+k)
			switch {
			case k == 3 || k == 7:
				if tombstones && (counts[key] != 1 || last[key] != nil) {
					return fmt.Errorf("%s: %d records, last %q; want only its tombstone", key, counts[key], last[key])
				}
				if !tombstones && counts[key] != 0 {
					return fmt.Errorf("%s: %d records left after delete.retention.ms", key, counts[key])
				}
			case counts[key] != 1 || string(last[key]) != wantValue:
				return fmt.Errorf("%s: %d records, last %q; want one, %q", key, counts[key], last[key], wantValue)
			}
		}
		return nil
	}
	eventually(t, 30*time.Second, func() error { return check(readKeyed(t, b, adm, topic), true) })
	if !logged(b, `"topic":"compacted"`, "cleaned log", `"bytes_before"`, `"bytes_after"`) {
		t.Error("no log line for the cleaning pass")
	}
	// After delete.retention.ms the next cleaning (new dirty data makes the log cleanable)
	// removes the tombstones.
	time.Sleep(3 * time.Second)
	eventually(t, 30*time.Second, func() error {
		filler(20)
		return check(readKeyed(t, b, adm, topic), false)
	})
	if s, err := os.ReadFile(filepath.Join(b.LogDir(), "cleaner-offset-checkpoint")); err != nil || !strings.Contains(string(s), topic+" 0 ") {
		t.Fatalf("cleaner-offset-checkpoint: %q %v", s, err)
	}

	// cleanup.policy=compact,delete: the cleaner threads run the topic's retention too (the
	// segments holding only hour-old records go; the one where fresh records start stays),
	// and DeleteRecords is allowed.
	const both = "compacted-deleted"
	createTopic(t, adm, both, 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact,delete"), "segment.bytes": kadm.StringPtr("1024"),
		"retention.ms": kadm.StringPtr("600000"),
	})
	old := newClient(t, b, kgo.DefaultProduceTopic(both))
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("old-%d", i)), Value: []byte(strings.Repeat("o", 100)), Timestamp: time.Now().Add(-time.Hour)}
		if err := old.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		if err := old.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("new-%d", i)), Value: []byte(strings.Repeat("n", 100))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start := waitStart(t, adm, both, 30*time.Second, "hour-old records of a compact,delete topic deleted", func(s int64) bool { return s > 0 && s <= 20 })
	rs, err := adm.DeleteRecords(testCtx(t, 10*time.Second), kadm.OffsetsFromRecords(kgo.Record{Topic: both, Partition: 0, Offset: start}))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.Lookup(both, 0); r.Err != nil || r.LowWatermark != start+1 {
		t.Fatalf("DeleteRecords on a compact,delete topic: %v (low watermark %d)", r.Err, r.LowWatermark)
	}

	// kill -9 and restart: every key keeps its last value (the cleaner may have gone on
	// meanwhile, so the filler key's older copies may be fewer).
	_, before := keyCounts(readKeyed(t, b, adm, topic))
	b.Kill()
	b.Restart(t)
	adm = newAdmin(t, b)
	after := readKeyed(t, b, adm, topic)
	if _, last := keyCounts(after); len(last) != len(before) || check(after, false) != nil || string(last["filler"]) != string(before["filler"]) {
		t.Fatalf("after kill -9: keys %d (%v), before %d", len(last), check(after, false), len(before))
	}
}

// TestCompactionConsumerOffsetsBounded: __consumer_offsets is compacted, so a group that
// commits 100,000 times (10,000 commits of 10 partitions) with a small
// offsets.topic.segment.bytes leaves a partition of a few segments, and a restarted broker
// loads the last commits from it.
func TestCompactionConsumerOffsetsBounded(t *testing.T) {
	t.Parallel()
	b := startBroker(t, append([]string{"offsets.topic.num.partitions=1", "offsets.topic.segment.bytes=16384"}, compactionOverrides...)...)
	adm := newAdmin(t, b)
	const (
		topic   = "committed"
		group   = "committer"
		rounds  = 10000
		parts   = 10
		workers = 4
	)
	createTopic(t, adm, topic, parts, nil)
	cl := newClient(t, b)
	ctx := testCtx(t, 3*time.Minute)
	commit := func(round int) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := int32(0); p < parts; p++ {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, int64(round)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, p := range resp.Topics[0].Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
		return nil
	}
	start := time.Now()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for r := w; r < rounds-workers; r += workers {
				if err := commit(r); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	if err := commit(rounds - 1); err != nil { // the last commit, after all the others
		t.Fatal(err)
	}
	t.Logf("%d commit records in %v", rounds*parts, time.Since(start))

	// 100,000 records of about 100 bytes would be 10 MB; compacted, the partition holds the
	// active segment and a few cleaned ones.
	var size int64
	eventually(t, 60*time.Second, func() error {
		dirs, err := adm.DescribeAllLogDirs(testCtx(t, 10*time.Second), nil)
		if err != nil {
			return err
		}
		size = -1
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == "__consumer_offsets" {
					size = p.Size
				}
			})
		})
		if size < 0 || size > 256<<10 {
			return fmt.Errorf("__consumer_offsets-0 holds %d bytes", size)
		}
		return nil
	})
	t.Logf("__consumer_offsets-0: %d bytes after %d commits", size, rounds*parts)

	b.Kill()
	restarted := time.Now()
	b.Restart(t)
	adm = newAdmin(t, b)
	eventually(t, 30*time.Second, func() error {
		got, err := adm.FetchOffsets(testCtx(t, 5*time.Second), group)
		if err != nil {
			return err
		}
		for p := int32(0); p < parts; p++ {
			o, ok := got.Lookup(topic, p)
			if !ok || o.Err != nil || o.At != rounds-1 {
				return fmt.Errorf("partition %d: committed %+v (%v)", p, o, ok)
			}
		}
		return nil
	})
	t.Logf("committed offsets loaded %v after the restart began", time.Since(restarted))
}

// TestCompactionTransactions: a compacted topic written by a franz-go transactional producer
// that commits some transactions and aborts others over the same keys (the last one
// aborted, with a key no committed transaction writes). The cleaner removes every aborted
// record, keeps each key's latest committed value (an aborted record must not supersede
// it), and once delete.retention.ms has passed removes the abort markers; read_uncommitted
// and read_committed then see the same records. A log whose transaction is open is cleaned
// only up to its last stable offset.
func TestCompactionTransactions(t *testing.T) {
	t.Parallel()
	b := startBroker(t, compactionOverrides...)
	adm := newAdmin(t, b)
	const topic = "compacted-txn"
	createTopic(t, adm, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"delete.retention.ms":       kadm.StringPtr("2000"),
	})
	ctx := testCtx(t, time.Minute)
	const keys, rounds = 10, 12
	pad := strings.Repeat("v", 100)
	p := txnProducer(t, b, "tx-compacted", topic)
	failed := func(r *kgo.Record, err error) {
		if err != nil {
			t.Errorf("produce %s: %v", r.Key, err)
		}
	}
	for r := 0; r < rounds; r++ {
		commit := r%3 != 2 // rounds 2, 5, 8 and 11, the last, are aborted
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		tag := "c"
		if !commit {
			tag = "x"
			p.Produce(ctx, &kgo.Record{Key: []byte("only-aborted"), Value: []byte(fmt.Sprintf("x%02d", r))}, failed)
		}
		for k := 0; k < keys; k++ {
			p.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", k)), Value: []byte(fmt.Sprintf("%s%02d-%s", tag, r, pad))}, failed)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end of round %d: %v", r, err)
		}
	}
	// The producer's last data batch holds its sequence and stays, emptied, as long as the
	// producer does; its transaction's abort marker stays with it (Kafka's
	// testAbortMarkerRetentionWithEmptyBatch). A last committed transaction on another key
	// lets every abort marker go.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte("last"), Value: []byte("c-last")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	plain := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	filler := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("filler"), Value: []byte(strings.Repeat("f", 200))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Both readers stop at the last record: a filler, so that the end is no marker.
	filler(20)

	// abortMarkers counts the abort markers a reader keeping control records sees.
	abortMarkers := func(rs []*kgo.Record) int {
		n := 0
		for _, r := range rs {
			if r.Attrs.IsControl() && len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:]) == 0 {
				n++
			}
		}
		return n
	}
	check := func(rs []*kgo.Record) error {
		counts, last := keyCounts(rs)
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key-%d", k)
			if want := fmt.Sprintf("c%02d-%s", rounds-2, pad); counts[key] != 1 || string(last[key]) != want {
				return fmt.Errorf("%s: %d records, last %.3q; want one, %.3q", key, counts[key], last[key], want)
			}
		}
		for _, r := range rs {
			if !r.Attrs.IsControl() && strings.HasPrefix(string(r.Value), "x") {
				return fmt.Errorf("aborted record %s=%.3q left at offset %d", r.Key, r.Value, r.Offset)
			}
		}
		return nil
	}
	// The first cleanings drop the aborted records and keep their markers; after
	// delete.retention.ms the markers go too (new filler makes the log cleanable again).
	eventually(t, 30*time.Second, func() error {
		return check(readKeyed(t, b, adm, topic))
	})
	eventually(t, 30*time.Second, func() error {
		filler(20)
		rs := readKeyed(t, b, adm, topic, kgo.KeepControlRecords())
		if n := abortMarkers(rs); n > 0 {
			return fmt.Errorf("%d abort markers left", n)
		}
		return check(rs)
	})
	uncommitted := readKeyed(t, b, adm, topic)
	committed := readKeyed(t, b, adm, topic, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err := check(committed); err != nil {
		t.Fatalf("read_committed: %v", err)
	}
	// The same keyed records at the same offsets (the filler's older copies may have gone
	// between the two reads).
	keyed := func(rs []*kgo.Record) []string {
		var out []string
		for _, r := range rs {
			if string(r.Key) != "filler" {
				out = append(out, fmt.Sprintf("%d:%s=%.3s", r.Offset, r.Key, r.Value))
			}
		}
		return out
	}
	if u, c := keyed(uncommitted), keyed(committed); fmt.Sprint(u) != fmt.Sprint(c) {
		t.Fatalf("read_uncommitted %v\nread_committed %v", u, c)
	}

	// The cleaner stops at the last stable offset: a topic whose first record is in an open
	// transaction is not cleaned, however dirty, while the cleaner goes on with the other
	// topic; once the transaction is aborted it is.
	const held = "compacted-txn-open"
	createTopic(t, adm, held, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	open := txnProducer(t, b, "tx-compacted-open", held)
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Key: []byte("open"), Value: []byte("x-open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	heldPlain := newClient(t, b, kgo.DefaultProduceTopic(held), kgo.ProducerLinger(0))
	for i := 0; i < 60; i++ {
		if err := heldPlain.ProduceSync(ctx, &kgo.Record{Key: []byte("filler"), Value: []byte(strings.Repeat("f", 200))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cleanedLines := func(tp string) int { return loggedLines(b, `"topic":"`+tp+`"`, "cleaned log") }
	passes := cleanedLines(topic)
	eventually(t, 30*time.Second, func() error {
		if n := cleanedLines(topic) - passes; n < 2 {
			filler(20)
			return fmt.Errorf("%d cleanings of %s", n, topic)
		}
		return nil
	})
	if n := cleanedLines(held); n > 0 {
		t.Fatalf("%s cleaned %d times above its open transaction", held, n)
	}
	if counts, _ := keyCounts(readKeyed(t, b, adm, held)); counts["filler"] != 60 || counts["open"] != 1 {
		t.Fatalf("%s while its transaction is open: %v", held, counts)
	}
	if err := open.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		// New filler seals the segment the marker is in.
		if err := heldPlain.ProduceSync(ctx, &kgo.Record{Key: []byte("filler"), Value: []byte(strings.Repeat("f", 200))}).FirstErr(); err != nil {
			return err
		}
		if counts, _ := keyCounts(readKeyed(t, b, adm, held)); counts["open"] != 0 || counts["filler"] > 20 {
			return fmt.Errorf("%s after the abort: %v", held, counts)
		}
		return nil
	})
}
