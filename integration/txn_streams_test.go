package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// streamsApp is a running Kafka Streams WordCount (integration/testdata/streams, installed
// by scripts/install-kafka-streams.sh).
type streamsApp struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startWordCount starts WordCount with exactly_once_v2 over in -> out against seeds.
func startWordCount(t *testing.T, app string, seeds []string, in, out string, extra ...string) *streamsApp {
	t.Helper()
	needCommand(t, "java")
	bin := needFile(t, cachePath(t, "kafka-streams-"+pinnedVersion(t, "KAFKA_3_VERSION"), "bin", "wordcount"), "Kafka Streams WordCount")
	props := []string{
		"application.id=" + app,
		"bootstrap.servers=" + strings.Join(seeds, ","),
		"processing.guarantee=exactly_once_v2",
		"state.dir=" + t.TempDir(),
		"commit.interval.ms=200",
		"session.timeout.ms=6000", // a killed instance leaves the group soon
		"heartbeat.interval.ms=1500",
		"wordcount.input.topic=" + in,
		"wordcount.output.topic=" + out,
	}
	path := filepath.Join(t.TempDir(), "wordcount.properties")
	if err := os.WriteFile(path, []byte(strings.Join(append(props, extra...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &streamsApp{out: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(bin, path)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start WordCount: %v", err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("WordCount output:\n%s", tail(a.out.String(), 20000))
		}
	})
	return a
}

// stop ends the application with SIGTERM (SIGKILL after 30 seconds).
func (a *streamsApp) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// wordLines returns n lines of words from a small vocabulary and how often each word
// appears.
func wordLines(from, n int) ([]string, map[string]int64) {
	vocab := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
		"kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"}
	counts := map[string]int64{}
	var out []string
	for i := from; i < from+n; i++ {
		var ws []string
		for j := 0; j < 1+i%5; j++ {
			w := vocab[(i*7+j*3)%len(vocab)]
			ws = append(ws, strings.ToUpper(w[:1])+w[1:]) // WordCount lower-cases
			counts[w]++
		}
		out = append(out, strings.Join(ws, " "))
	}
	return out, counts
}

func addCounts(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

// produceLines writes lines to topic (plain producer, acks=all).
func produceLines(t *testing.T, cl *kgo.Client, topic string, lines []string) {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	rs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		rs[i] = &kgo.Record{Topic: topic, Value: []byte(l)}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}
}

// checkWordCounts reads out with read_committed until every word's last count is the
// expected one, and checks exactly-once on the way: each word's committed counts are
// 1, 2, 3, ... with none repeated or skipped (a record processed twice would count twice,
// one lost would leave a gap).
// last holds each word's last count read, across calls on the same reader.
func checkWordCounts(t *testing.T, cl *kgo.Client, out string, last, want map[string]int64, timeout time.Duration) {
	t.Helper()
	ctx := testCtx(t, timeout)
	done := func() bool {
		for w, n := range want {
			if last[w] != n {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			var missing []string
			for w, n := range want {
				if last[w] != n {
					missing = append(missing, fmt.Sprintf("%s=%d/%d", w, last[w], n))
				}
			}
			sort.Strings(missing)
			t.Fatalf("counts not reached in %v: %v", timeout, missing)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s: %v", out, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			w := string(r.Key)
			if len(r.Value) != 8 {
				t.Fatalf("word %q: value of %d bytes", w, len(r.Value))
			}
			n := int64(binary.BigEndian.Uint64(r.Value))
			if n != last[w]+1 {
				t.Fatalf("word %q: count %d after %d (offset %d of partition %d): not exactly once", w, n, last[w], r.Offset, r.Partition)
			}
			last[w] = n
		})
	}
	for w, n := range last {
		if _, ok := want[w]; !ok {
			t.Fatalf("unexpected word %q (count %d)", w, n)
		}
	}
}

// TestStreamsWordCountExactlyOnce: Kafka Streams WordCount with exactly_once_v2 gives
// exact counts on a single broker, through a restart of the application (kill -9 of the
// JVM) in the middle.
func TestStreamsWordCountExactlyOnce(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	const in, out = "wc-in", "wc-out"
	createTopic(t, adm, in, 3, nil)
	createTopic(t, adm, out, 3, nil)
	src := newClient(t, b)
	want, seen := map[string]int64{}, map[string]int64{}

	app := startWordCount(t, "wc-single", []string{b.Addr()}, in, out)
	lines, counts := wordLines(0, 1500)
	produceLines(t, src, in, lines)
	addCounts(want, counts)
	reader := newClient(t, b, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	checkWordCounts(t, reader, out, seen, want, 3*time.Minute)

	// The JVM dies in the middle of more input; a new instance takes over its state.
	lines, counts = wordLines(1500, 1500)
	produceLines(t, src, in, lines[:750])
	time.Sleep(500 * time.Millisecond)
	_ = app.cmd.Process.Kill()
	<-app.done
	app = startWordCount(t, "wc-single", []string{b.Addr()}, in, out)
	produceLines(t, src, in, lines[750:])
	addCounts(want, counts)
	checkWordCounts(t, reader, out, seen, want, 3*time.Minute)
	app.stop()
}

// TestStreamsWordCountCoordinatorKilled: WordCount with exactly_once_v2 on a three-broker
// cluster gives exact counts while the broker coordinating its transactions is killed with
// kill -9 mid-run (and comes back).
func TestStreamsWordCountCoordinatorKilled(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "transaction.state.log.num.partitions=10")
	const in, out = "wcc-in", "wcc-out"
	c.createTopic(t, in, 3, nil)
	c.createTopic(t, out, 3, nil)
	src := c.client(t, kgo.RequiredAcks(kgo.AllISRAcks()))
	reader := c.client(t, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	want, seen := map[string]int64{}, map[string]int64{}
	logTxnState(t, c.client(t), in, out, "wc-cluster-KSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition")
	app := startWordCount(t, "wc-cluster", c.seeds(), in, out, "replication.factor=3")

	lines, counts := wordLines(0, 1000)
	produceLines(t, src, in, lines)
	addCounts(want, counts)
	checkWordCounts(t, reader, out, seen, want, 3*time.Minute)

	// Find the broker coordinating the application's transactions and kill it while more
	// input is being processed.
	adm := kadm.NewClient(c.client(t))
	var coordinator int32 = -1
	clusterWait(t, 60*time.Second, "the application's transactional id is listed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		listed, err := adm.ListTransactions(ctx, nil, nil)
		if err != nil {
			return err
		}
		for _, tx := range listed.Sorted() {
			if strings.HasPrefix(tx.TxnID, "wc-cluster") {
				coordinator = tx.Coordinator
				return nil
			}
		}
		return fmt.Errorf("no transactional id of wc-cluster among %d", len(listed))
	})
	lines, counts = wordLines(1000, 2000)
	addCounts(want, counts)
	produceLines(t, src, in, lines[:1000])
	time.Sleep(300 * time.Millisecond)
	t.Logf("killing broker %d, the transaction coordinator", coordinator)
	c.kill(coordinator)
	produceLines(t, src, in, lines[1000:])
	checkWordCounts(t, reader, out, seen, want, 4*time.Minute)
	c.restart(t, coordinator)
	lines, counts = wordLines(3000, 500)
	addCounts(want, counts)
	produceLines(t, src, in, lines)
	checkWordCounts(t, reader, out, seen, want, 3*time.Minute)
	app.stop()
	if strings.Contains(app.out.String(), "uncaught exception") && !bytes.Contains([]byte(app.out.String()), []byte("RUNNING")) {
		t.Fatalf("WordCount failed")
	}
}

// logTxnState logs, once the test has failed, what the cluster says of transactions over
// topics: each partition's end offset for read_uncommitted and read_committed (a last stable
// offset held back shows there), the producers the partitions' leaders track, and every
// listed transaction with its state and remaining partitions.
func logTxnState(t *testing.T, cl *kgo.Client, topics ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		adm := kadm.NewClient(cl)
		for _, level := range []int8{0, 1} {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID, req.IsolationLevel = -1, level
			for _, topic := range topics {
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = topic
				for p := int32(0); p < 3; p++ {
					rp := kmsg.NewListOffsetsRequestTopicPartition()
					rp.Partition, rp.Timestamp = p, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
			}
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Logf("list offsets (isolation %d): %v", level, err)
				continue
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					t.Logf("end offset (isolation %d) %s-%d: %d (error %d)", level, rt.Topic, rp.Partition, rp.Offset, rp.ErrorCode)
				}
			}
		}
		set := kadm.TopicsSet{}
		for _, topic := range topics {
			set[topic] = map[int32]struct{}{0: {}, 1: {}, 2: {}}
		}
		producers, err := adm.DescribeProducers(ctx, set)
		if err != nil {
			t.Logf("describe producers: %v", err)
		}
		for _, p := range producers.SortedProducers() {
			t.Logf("producer %s-%d: id %d epoch %d last sequence %d coordinator epoch %d current txn start offset %d", p.Topic, p.Partition,
				p.ProducerID, p.ProducerEpoch, p.LastSequence, p.CoordinatorEpoch, p.CurrentTxnStartOffset)
		}
		listed, err := adm.ListTransactions(ctx, nil, nil)
		if err != nil {
			t.Logf("list transactions: %v", err)
			return
		}
		described, err := adm.DescribeTransactions(ctx, listed.TransactionalIDs()...)
		if err != nil {
			t.Logf("describe transactions: %v", err)
		}
		for _, d := range described.Sorted() {
			t.Logf("transaction %s at broker %d: %s, producer %d epoch %d, partitions %v (err %v)", d.TxnID, d.Coordinator, d.State, d.ProducerID, d.ProducerEpoch, d.Topics, d.Err)
		}
	})
}
