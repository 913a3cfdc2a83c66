package integration

// Transactional clients other than franz-go (confluent-kafka, Sarama) and Kafka's own
// tools (kafka-console-consumer --isolation-level read_committed, kafka-transactions.sh).

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkTxnTopic reads topic read_committed and read_uncommitted and checks that the
// committed records are exactly key-0000..key-(committed-1) and the aborted ones
// (key prefix "abort-") are seen only read_uncommitted.
func checkTxnTopic(t *testing.T, b *Broker, topic string, parts int32, committed, aborted int) {
	t.Helper()
	vals := readAllValues(t, b, topic, parts, committed, true)
	seen := map[string]int{}
	for _, v := range vals {
		seen[v]++
	}
	for i := 0; i < committed; i++ {
		if c := seen[fmt.Sprintf("value-%04d", i)]; c != 1 {
			t.Errorf("value-%04d read %d times read_committed", i, c)
		}
	}
	if len(vals) != committed || countPrefix(vals, "abort-") != 0 {
		t.Fatalf("read_committed: %d records (%d aborted), want %d committed only", len(vals), countPrefix(vals, "abort-"), committed)
	}
	all := readAllValues(t, b, topic, parts, committed+aborted, false)
	if len(all) != committed+aborted || countPrefix(all, "abort-") != aborted {
		t.Fatalf("read_uncommitted: %d records (%d aborted), want %d and %d", len(all), countPrefix(all, "abort-"), committed+aborted, aborted)
	}
}

func TestTxnConfluentKafka(t *testing.T) {
	t.Parallel()
	py := venvPython(t)
	b := startBroker(t)
	const topic, n = "txn-ck", 100
	createTopic(t, newAdmin(t, b), topic, 2, nil)
	mustRun(t, cmdSpec{name: py, args: []string{pyScript(t, "confluent_client.py"), "transact", b.Addr(), topic, strconv.Itoa(n), "ck-txn"}})
	checkTxnTopic(t, b, topic, 2, 2*n, n)
}

func TestTxnSarama(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	adm := newAdmin(t, b)
	const topic, group, n = "txn-sarama", "sarama-txn-group", 50
	createTopic(t, adm, topic, 2, nil)
	v := sarama.V2_8_0_0
	cfg := saramaConfig(&v)
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = "sarama-txn"
	cfg.Producer.Transaction.Timeout = time.Minute
	cfg.Producer.Retry.Max = 20
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama transactional producer: %v", err)
	}
	defer prod.Close()
	send := func(from int, prefix string) {
		t.Helper()
		var msgs []*sarama.ProducerMessage
		for i := from; i < from+n; i++ {
			v := fmt.Sprintf("value-%04d", i)
			if prefix == "abort" {
				v = fmt.Sprintf("abort-%04d", i)
			}
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("%s-%04d", prefix, i)), Value: sarama.StringEncoder(v)})
		}
		if err := prod.SendMessages(msgs); err != nil {
			t.Fatalf("sarama send: %v", err)
		}
	}
	if err := prod.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	send(0, "key")
	// The transaction also commits the group's offsets (AddOffsetsToTxn + TxnOffsetCommit).
	offsets := map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: 0, Offset: 7}, {Partition: 1, Offset: 9}}}
	if err := prod.AddOffsetsToTxn(offsets, group); err != nil {
		t.Fatalf("AddOffsetsToTxn: %v", err)
	}
	if err := prod.CommitTxn(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := prod.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	send(0, "abort")
	if err := prod.AbortTxn(); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := prod.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	send(n, "key")
	if err := prod.CommitTxn(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	checkTxnTopic(t, b, topic, 2, 2*n, n)
	eventually(t, 15*time.Second, func() error {
		if got := committedOf(t, adm, group, topic); got[0] != 7 || got[1] != 9 {
			return fmt.Errorf("group offsets %v, want 7 and 9", got)
		}
		return nil
	})
}

// TestTxnKafkaTools: kafka-console-consumer with --isolation-level read_committed sees
// committed records only, and kafka-transactions.sh lists, describes, describes the
// producers of a partition, finds a hanging transaction (one that bypassed the
// coordinator, possible with transaction.partition.verification.enable=false, as on a
// broker before KIP-890) and aborts it, after which read_committed readers go on.
func TestTxnKafkaTools(t *testing.T) {
	t.Parallel()
	version := pinnedVersion(t, "KAFKA_3_VERSION")
	txnTool := kafkaTool(t, version, "kafka-transactions")
	consoleConsumer := kafkaTool(t, version, "kafka-console-consumer")
	b := startBroker(t, "transaction.partition.verification.enable=false")
	adm := newAdmin(t, b)
	const topic = "txn-tools"
	createTopic(t, adm, topic, 1, nil)
	ctx := testCtx(t, 3*time.Minute)

	// A hanging transaction at offset 0: a transactional batch from an idempotent producer
	// id that no transaction coordinator knows, an hour old.
	rc := dialRaw(t, b)
	hang := rawIdempotentProducer(t, rc)
	hb := txnBatchAt(producerIdent{hang.pid, hang.epoch, 0}, time.Now().Add(-time.Hour).UnixMilli(), "hanging-0")
	hreq := produceRequest(topic, 0, -1, hb)
	ghost := "ghost" // never initialized with the coordinator
	hreq.TransactionID = &ghost
	if p := producePartition(t, rc.roundTrip(hreq, 9)); p.ErrorCode != 0 {
		t.Fatalf("hanging batch: error %d", p.ErrorCode)
	}
	// A committed transaction, then an aborted one.
	p := txnProducer(t, b, "tools-done", topic)
	produceTxn(t, p, "done", 5, true)
	produceTxn(t, p, "abort", 3, false)
	// And one left open, which the coordinator knows.
	open := txnProducer(t, b, "tools-open", topic)
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Value: []byte("open-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	tool := func(args ...string) string {
		return mustRun(t, cmdSpec{name: txnTool, args: append([]string{"--bootstrap-server", b.Addr()}, args...)})
	}
	out := tool("list")
	if !regexpLine(out, `tools-done\s+0\s+\d+\s+CompleteAbort`) || !regexpLine(out, `tools-open\s+0\s+\d+\s+Ongoing`) {
		t.Fatalf("list:\n%s", out)
	}
	out = tool("describe", "--transactional-id", "tools-open")
	if !regexpLine(out, `Ongoing`) || !strings.Contains(out, topic+"-0") {
		t.Fatalf("describe:\n%s", out)
	}
	out = tool("describe-producers", "--topic", topic, "--partition", "0")
	if !regexpLine(out, fmt.Sprintf(`^%d\s+%d\s+-1\s+0\s+\d+\s+0$`, hang.pid, hang.epoch)) {
		t.Fatalf("describe-producers: no row for producer %d with its transaction at offset 0:\n%s", hang.pid, out)
	}
	out = tool("find-hanging", "--broker-id", "0")
	if !regexpLine(out, fmt.Sprintf(`%s\s+0\s+%d\s+%d\s+-1\s+0\s+`, topic, hang.pid, hang.epoch)) || strings.Count(out, topic) != 1 {
		t.Fatalf("find-hanging: want exactly the transaction at offset 0:\n%s", out)
	}

	// While the hanging transaction holds the last stable offset, read_committed sees nothing.
	consume := func(isolation string, want int, idle time.Duration) []string {
		t.Helper()
		res := cmdSpec{name: consoleConsumer, args: []string{"--bootstrap-server", b.Addr(), "--topic", topic, "--from-beginning",
			"--isolation-level", isolation, "--max-messages", strconv.Itoa(want), "--timeout-ms", strconv.Itoa(int(idle / time.Millisecond))}}.run(ctx)
		return lines(res.stdout)
	}
	if got := consume("read_committed", 5, 5*time.Second); len(got) != 0 {
		t.Fatalf("read_committed with a hanging transaction at offset 0: %v", got)
	}
	tool("abort", "--topic", topic, "--partition", "0", "--start-offset", "0")
	if out := tool("find-hanging", "--broker-id", "0"); strings.Contains(out, topic) {
		t.Fatalf("find-hanging after abort:\n%s", out)
	}
	// Now the committed records are visible, and only them; the open transaction still
	// holds what comes after it.
	got := consume("read_committed", 5, 20*time.Second)
	if len(got) != 5 || countPrefix(got, "done-") != 5 {
		t.Fatalf("kafka-console-consumer read_committed: %v", got)
	}
	if got := consume("read_uncommitted", 10, 20*time.Second); len(got) != 10 || countPrefix(got, "abort-") != 3 || countPrefix(got, "hanging-") != 1 {
		t.Fatalf("kafka-console-consumer read_uncommitted: %v", got)
	}
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := consume("read_committed", 6, 20*time.Second); len(got) != 6 || countPrefix(got, "open-") != 1 {
		t.Fatalf("kafka-console-consumer read_committed after the commit: %v", got)
	}
}

// rawIdempotentProducer gets an idempotent producer id (no transactional id).
func rawIdempotentProducer(t *testing.T, rc *rawConn) producerIdent {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	r := rc.roundTrip(init, 4).(*kmsg.InitProducerIDResponse)
	if r.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %d", r.ErrorCode)
	}
	return producerIdent{pid: r.ProducerID, epoch: r.ProducerEpoch}
}

// txnBatchAt is txnBatch with the first timestamp ts.
func txnBatchAt(id producerIdent, ts int64, values ...string) []byte {
	recs := make([]batchRecord, len(values))
	for i, v := range values {
		recs[i] = batchRecord{value: []byte(v)}
	}
	b := buildBatch(ts, recs, id)
	binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|0x10)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// regexpLine reports whether some line of out matches re.
func regexpLine(out, re string) bool {
	r := regexp.MustCompile(re)
	for _, l := range lines(out) {
		if r.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}
