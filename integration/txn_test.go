package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnProducer is a franz-go transactional producer for topic.
func txnProducer(t testing.TB, b *Broker, txnID, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, b, append([]kgo.Opt{
		kgo.TransactionalID(txnID),
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(60 * time.Second),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	}, opts...)...)
}

// produceTxn runs one transaction of n records "<tag>-<i>" and ends it (commit or abort).
func produceTxn(t testing.TB, cl *kgo.Client, tag string, n int, commit bool) {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin %s: %v", tag, err)
	}
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", tag, i))}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce %s: %v", tag, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush %s: %v", tag, err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end %s (commit %v): %v", tag, commit, err)
	}
}

// readAllValues reads every partition of topic from the start with the isolation level
// until it has want records, then a little more to catch extras.
func readAllValues(t testing.TB, b *Broker, topic string, parts int32, want int, committed bool) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	recs := consumeN(t, b, topic, parts, want, 60*time.Second, 2*time.Second, kgo.FetchIsolationLevel(iso))
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

func countPrefix(vals []string, prefix string) int {
	n := 0
	for _, v := range vals {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

func TestTxnFranzCommitAndAbort(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic = "txn-basic"
	createTopic(t, adm, topic, 3, nil)
	p := txnProducer(t, b, "tx-basic", topic)
	produceTxn(t, p, "c1", 90, true)
	produceTxn(t, p, "ab", 60, false)
	produceTxn(t, p, "c2", 30, true)

	committed := readAllValues(t, b, topic, 3, 120, true)
	if len(committed) != 120 || countPrefix(committed, "ab-") != 0 || countPrefix(committed, "c1-") != 90 || countPrefix(committed, "c2-") != 30 {
		t.Fatalf("read_committed: %d records, %d aborted, %d c1, %d c2", len(committed), countPrefix(committed, "ab-"),
			countPrefix(committed, "c1-"), countPrefix(committed, "c2-"))
	}
	all := readAllValues(t, b, topic, 3, 180, false)
	if len(all) != 180 || countPrefix(all, "ab-") != 60 {
		t.Fatalf("read_uncommitted: %d records, %d aborted", len(all), countPrefix(all, "ab-"))
	}
	// Each partition holds its records and three markers.
	for part, end := range endOffsets(t, adm, topic) {
		if end != 60+3 {
			t.Errorf("partition %d: end offset %d, want 63", part, end)
		}
	}
	// kafka-transactions.sh's view: the id is known and complete.
	ctx := testCtx(t, 15*time.Second)
	described, err := adm.DescribeTransactions(ctx, "tx-basic")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := described["tx-basic"]
	if !ok || d.Err != nil || d.State != "CompleteCommit" {
		t.Fatalf("describe: %+v", described)
	}
}

func TestTxnZombieFenced(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic = "txn-zombie"
	createTopic(t, adm, topic, 1, nil)
	ctx := testCtx(t, 60*time.Second)

	zombie := txnProducer(t, b, "tx-zombie", topic)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A new instance with the same transactional id fences the first and aborts its
	// transaction.
	fresh := txnProducer(t, b, "tx-zombie", topic)
	produceTxn(t, fresh, "fresh", 5, true)

	err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-1")}).FirstErr()
	if err == nil {
		err = zombie.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	vals := readAllValues(t, b, topic, 1, 5, true)
	if len(vals) != 5 || countPrefix(vals, "zombie") != 0 {
		t.Fatalf("read_committed after the fence: %v", vals)
	}
}

// TestTxnOpenTransactionHoldsLSO: a transaction left open holds the last stable offset, so
// read_committed consumers see nothing after its first record, until the coordinator aborts
// it at its timeout; then everything committed after it becomes visible and the open
// transaction's records never do.
func TestTxnOpenTransactionHoldsLSO(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
	adm := newAdmin(t, b)
	const topic = "txn-lso"
	createTopic(t, adm, topic, 1, nil)
	ctx := testCtx(t, 90*time.Second)

	open := txnProducer(t, b, "tx-open", topic, kgo.TransactionTimeout(6*time.Second))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Value: []byte("open-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	other := txnProducer(t, b, "tx-other", topic)
	produceTxn(t, other, "done", 10, true)

	lso := func() int64 {
		o, err := kadmListCommittedEnd(ctx, newClient(t, b), topic)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if got := lso(); got != 0 {
		t.Fatalf("last stable offset %d while the transaction at 0 is open", got)
	}
	consumer := newClient(t, b, kgo.ConsumePartitions(startOffsets(topic, 1)), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond))
	var seen []string
	for len(seen) < 10 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed saw %v before the deadline", seen)
		}
		for _, r := range fs.Records() {
			seen = append(seen, string(r.Value))
			if time.Since(started) < 5*time.Second {
				t.Fatalf("read_committed returned %q %v after the open transaction began, before its timeout", r.Value, time.Since(started))
			}
		}
	}
	if countPrefix(seen, "open") != 0 || countPrefix(seen, "done") != 10 {
		t.Fatalf("read_committed after the timeout: %v", seen)
	}
	if got := lso(); got != 13 { // open-0, 10 records, two markers
		t.Fatalf("last stable offset %d after the abort, want 13", got)
	}
	// The timed-out producer is fenced.
	if err := open.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the timed-out transaction committed")
	}
}

// kadmListCommittedEnd lists partition 0's end offset with isolation read_committed (the
// last stable offset), as kafka-get-offsets --isolation read_committed would.
func kadmListCommittedEnd(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	req := listOffsetsRequest(topic, 0, -1)
	req.IsolationLevel = 1
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return -1, kerr.ErrorForCode(p.ErrorCode)
	}
	return p.Offset, nil
}
