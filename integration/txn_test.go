package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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

// runTransactSession consumes in, copies every record to out as "out-<value>" inside a
// transaction that also commits the group's offsets, until stop is closed or the session
// fails (franz-go's GroupTransactSession, consume-transform-produce). It returns how many
// transactions committed.
func runTransactSession(t *testing.T, b *Broker, txnID, group, in, out string, stop <-chan struct{}) (int, error) {
	logs := &syncBuffer{}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addr()),
		kgo.ClientID(txnID),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(30*time.Second),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic(out),
		kgo.FetchMaxWait(300*time.Millisecond),
		kgo.WithLogger(kgo.BasicLogger(logs, kgo.LogLevelWarn, nil)),
	)
	if err != nil {
		return 0, err
	}
	defer func() {
		sess.Close()
		if t.Failed() && logs.String() != "" {
			t.Logf("%s log:\n%s", txnID, logs.String())
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	commits := 0
	for ctx.Err() == nil {
		fs := sess.PollRecords(ctx, 50) // small transactions: many of them straddle the rebalances
		if ctx.Err() != nil {
			break
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return commits, fmt.Errorf("%s poll: %w", txnID, err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return commits, fmt.Errorf("%s begin: %w", txnID, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
		})
		endCtx, endCancel := context.WithTimeout(context.Background(), 30*time.Second)
		committed, err := sess.End(endCtx, kgo.TryCommit)
		endCancel()
		if err != nil {
			return commits, fmt.Errorf("%s end: %w", txnID, err)
		}
		if committed {
			commits++
		}
	}
	return commits, nil
}

// TestTxnConsumeTransformProduce: two GroupTransactSession instances copy a topic while the
// group rebalances (the second joins mid-run, the first leaves later); every input record
// is in the output exactly once for read_committed readers.
func TestTxnConsumeTransformProduce(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "group.initial.rebalance.delay.ms=0")
	adm := newAdmin(t, b)
	const in, out, group, n = "ctp-in", "ctp-out", "ctp-group", 3000
	createTopic(t, adm, in, 6, nil)
	createTopic(t, adm, out, 3, nil)
	src := newClient(t, b, kgo.DefaultProduceTopic(in), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx := testCtx(t, 3*time.Minute)
	// Written in waves, so that the sessions see the group change while there is work.
	writeWave := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("r%05d", i))})
		}
		if err := src.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	writeWave(0, 1000)

	type result struct {
		commits int
		err     error
	}
	stop1, stop2 := make(chan struct{}), make(chan struct{})
	res1, res2 := make(chan result, 1), make(chan result, 1)
	go func() { c, err := runTransactSession(t, b, "ctp-1", group, in, out, stop1); res1 <- result{c, err} }()
	committedOut := func() int64 {
		lag, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return 0
		}
		var sum int64
		lag.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	eventually(t, 60*time.Second, func() error {
		if c := committedOut(); c < 300 {
			return fmt.Errorf("group committed %d input records so far", c)
		}
		return nil
	})
	go func() { c, err := runTransactSession(t, b, "ctp-2", group, in, out, stop2); res2 <- result{c, err} }()
	writeWave(1000, 2000)
	eventually(t, 60*time.Second, func() error {
		if c := committedOut(); c < 1500 {
			return fmt.Errorf("group committed %d input records so far", c)
		}
		return nil
	})
	close(stop1) // the first instance leaves: a second rebalance
	r1 := <-res1
	writeWave(2000, n)
	eventually(t, 90*time.Second, func() error {
		if c := committedOut(); c < n {
			return fmt.Errorf("group committed %d of %d input records", c, n)
		}
		return nil
	})
	close(stop2)
	r2 := <-res2
	if r1.err != nil || r2.err != nil {
		t.Fatalf("sessions: %v / %v", r1.err, r2.err)
	}
	if r1.commits == 0 || r2.commits == 0 {
		t.Fatalf("commits: %d and %d; both instances should have worked", r1.commits, r2.commits)
	}
	vals := readAllValues(t, b, out, 3, n, true)
	seen := map[string]int{}
	for _, v := range vals {
		seen[v]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("out-r%05d", i)]; c != 1 {
			t.Errorf("input r%05d is in the output %d times", i, c)
		}
	}
	if len(vals) != n {
		t.Fatalf("output has %d records, want %d", len(vals), n)
	}
	t.Logf("commits: %d + %d", r1.commits, r2.commits)
}
