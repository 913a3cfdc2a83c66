package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// idemBatch is n records "<tag>-<i>" from producer id with sequence seq.
func idemBatch(id producerIdent, tag string, n int) []byte {
	recs := make([]batchRecord, n)
	for i := range recs {
		recs[i] = batchRecord{value: []byte(fmt.Sprintf("%s-%d", tag, i)), tsDelta: int64(i)}
	}
	return buildBatch(time.Now().UnixMilli(), recs, id)
}

func TestIdempotentRetryAcrossRestart(t *testing.T) {
	t.Parallel()
	const topic = "idem"
	b := startBroker(t)
	adm := newAdmin(t, b)
	createTopic(t, adm, topic, 1, nil)

	rc := dialRaw(t, b)
	// Three plain records first so the idempotent batch does not start at 0.
	plain := buildBatch(time.Now().UnixMilli(), []batchRecord{{value: []byte("p0")}, {value: []byte("p1")}, {value: []byte("p2")}}, noProducer)
	if p := producePartition(t, rc.roundTrip(produceRequest(topic, 0, -1, plain), 9)); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("plain produce: error %d base %d", p.ErrorCode, p.BaseOffset)
	}

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	ir := rc.roundTrip(init, 4).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 || ir.ProducerEpoch < 0 {
		t.Fatalf("InitProducerId v4: error %d pid %d epoch %d", ir.ErrorCode, ir.ProducerID, ir.ProducerEpoch)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	batchA := idemBatch(producerIdent{pid, epoch, 0}, "a", 10) // sequences 0..9
	batchB := idemBatch(producerIdent{pid, epoch, 10}, "b", 5) // sequences 10..14

	// send produces one batch on a fresh connection and checks the answer.
	send := func(t *testing.T, what string, batch []byte, wantErr int16, wantBase int64) {
		t.Helper()
		c := dialRaw(t, b)
		p := producePartition(t, c.roundTrip(produceRequest(topic, 0, -1, batch), 9))
		if p.ErrorCode != wantErr || (wantErr == 0 && p.BaseOffset != wantBase) {
			t.Errorf("%s: error %d base offset %d; want error %d base offset %d", what, p.ErrorCode, p.BaseOffset, wantErr, wantBase)
		}
	}
	checkEnd := func(t *testing.T, what string, want int64) {
		t.Helper()
		if e := endOffsets(t, adm, topic)[0]; e != want {
			t.Errorf("%s: end offset %d, want %d", what, e, want)
		}
	}

	send(t, "batch A (seq 0-9)", batchA, 0, 3)
	send(t, "batch A resent", batchA, 0, 3)
	checkEnd(t, "after A and its duplicate", 13)

	t.Run("SIGTERM restart", func(t *testing.T) {
		if code := b.Stop(); code != 0 {
			t.Errorf("SIGTERM: exit status %d", code)
		}
		b.Restart(t)
		send(t, "batch A resent after SIGTERM restart", batchA, 0, 3)
		checkEnd(t, "after SIGTERM restart", 13)
		send(t, "batch B (seq 10-14)", batchB, 0, 13)
	})

	t.Run("kill -9 restart", func(t *testing.T) {
		b.Kill()
		b.Restart(t)
		send(t, "batch B resent after kill -9 restart", batchB, 0, 13)
		send(t, "batch A resent after kill -9 restart", batchA, 0, 3)
		checkEnd(t, "after kill -9 restart", 18)
	})

	t.Run("sequence gap", func(t *testing.T) {
		send(t, "seq 20 when 15 is expected", idemBatch(producerIdent{pid, epoch, 20}, "gap", 1), 45, 0)
		checkEnd(t, "after the refused gap", 18)
	})

	t.Run("older epoch after a newer one", func(t *testing.T) {
		send(t, "epoch+1 seq 0", idemBatch(producerIdent{pid, epoch + 1, 0}, "e1", 1), 0, 18)
		send(t, "old epoch seq 15", idemBatch(producerIdent{pid, epoch, 15}, "e0", 1), 47, 0)
		checkEnd(t, "after the fenced epoch", 19)
	})

	got := consumeN(t, b, topic, 1, 19, 20*time.Second, 300*time.Millisecond)
	want := []string{"p0", "p1", "p2"}
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("a-%d", i))
	}
	for i := 0; i < 5; i++ {
		want = append(want, fmt.Sprintf("b-%d", i))
	}
	want = append(want, "e1-0")
	if len(got) != len(want) {
		t.Errorf("log holds %d records, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if string(got[i].Value) != want[i] || got[i].Offset != int64(i) {
			t.Errorf("offset %d: %q at %d, want %q", i, got[i].Value, got[i].Offset, want[i])
		}
	}
}
