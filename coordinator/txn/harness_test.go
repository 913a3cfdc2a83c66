package txn

import (
	"fmt"
	"sort"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator"
)

// harness drives a Machine the way the driver does, with a fake clock: appends succeed at
// once (or fail with appendErr, or wait with holdAppends), producer ids count up from
// 1000, markers succeed at once unless markerErr says otherwise (or holdMarkers), timers
// fire when the clock passes their deadline.
type harness struct {
	m       *Machine
	now     int64
	timers  map[TimerKey]armedTimer
	replies map[uint64]any

	appends     []Append
	appendErr   int16
	holdAppends bool
	heldAppends []uint64

	nextPID int64

	markers     []WriteMarkers
	markerErr   map[TopicPartition][]int16 // codes answered in turn, then NONE
	gone        map[TopicPartition]bool
	holdMarkers bool
	heldMarkers []WriteMarkers
}

type armedTimer struct {
	seq uint64
	at  int64
}

func testConfig() Config {
	return Config{
		Partitions:              1,
		OffsetsPartitions:       1,
		MaxTimeoutMs:            900000,
		IDExpirationMs:          7 * 24 * 3600 * 1000,
		AbortTimedOutIntervalMs: 10000,
		RemoveExpiredIntervalMs: 3600000,
		RetryBackoffMs:          100,
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{now: 1_000_000, timers: map[TimerKey]armedTimer{}, replies: map[uint64]any{}, nextPID: 1000,
		markerErr: map[TopicPartition][]int16{}, gone: map[TopicPartition]bool{}}
	h.m = NewMachine(cfg, zerolog.Nop())
	h.step(PartitionLoading{Partition: 0, Epoch: 5})
	h.step(PartitionLoaded{Partition: 0, Epoch: 5, snap: map[string]*txnMeta{}})
	return h
}

// step applies an event and carries out the effects as the driver would.
func (h *harness) step(ev Event) {
	queue := []Event{ev}
	for len(queue) > 0 {
		ev := queue[0]
		queue = queue[1:]
		for _, eff := range h.m.Step(h.now, ev) {
			switch e := eff.(type) {
			case Reply:
				if _, dup := h.replies[e.Req]; dup {
					panic(fmt.Sprintf("request %d answered twice", e.Req))
				}
				h.replies[e.Req] = e.Result
			case Append:
				h.appends = append(h.appends, e)
				if h.holdAppends {
					h.heldAppends = append(h.heldAppends, e.Token)
				} else {
					queue = append(queue, AppendDone{Token: e.Token, Err: h.appendErr})
				}
			case AllocateProducerID:
				queue = append(queue, ProducerIDAllocated{Token: e.Token, ProducerID: h.nextPID})
				h.nextPID++
			case WriteMarkers:
				h.markers = append(h.markers, e)
				if h.holdMarkers {
					h.heldMarkers = append(h.heldMarkers, e)
				} else {
					queue = append(queue, h.answerMarkers(e))
				}
			case ArmTimer:
				h.timers[e.Key] = armedTimer{seq: e.Seq, at: h.now + e.AfterMs}
			case CancelTimer:
				delete(h.timers, e.Key)
			}
		}
	}
}

func (h *harness) answerMarkers(e WriteMarkers) MarkersWritten {
	res := MarkersWritten{Token: e.Token, Errs: map[TopicPartition]int16{}}
	for _, tp := range e.Partitions {
		if h.gone[tp] {
			res.Gone = append(res.Gone, tp)
			continue
		}
		var code int16
		if codes := h.markerErr[tp]; len(codes) > 0 {
			code, h.markerErr[tp] = codes[0], codes[1:]
		}
		res.Errs[tp] = code
	}
	return res
}

// advance moves the clock forward by ms, firing due timers in deadline order.
func (h *harness) advance(ms int64) {
	end := h.now + ms
	for {
		var keys []TimerKey
		for k, t := range h.timers {
			if t.at <= end {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			break
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := h.timers[keys[i]], h.timers[keys[j]]
			return a.at < b.at || a.at == b.at && a.seq < b.seq
		})
		k := keys[0]
		t := h.timers[k]
		delete(h.timers, k)
		if t.at > h.now {
			h.now = t.at
		}
		h.step(TimerFired{Key: k, Seq: t.seq})
	}
	h.now = end
}

// op is one line of a script: an event to send or an expectation to check.
type op func(t *testing.T, h *harness)

type scriptCase struct {
	name string
	cfg  func(*Config)
	ops  []op
}

func runScripts(t *testing.T, cases []scriptCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			h := newHarness(t, cfg)
			for _, o := range c.ops {
				o(t, h)
			}
		})
	}
}

func script(parts ...[]op) []op {
	var out []op
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func tp(topic string, p int32) TopicPartition { return TopicPartition{Topic: topic, Partition: p} }

// Events. Every request is for transactional id "t" unless said otherwise.

func initPID(req uint64, timeoutMs int32) op {
	return func(t *testing.T, h *harness) {
		h.step(&InitProducerID{Req: req, TxnID: "t", TimeoutMs: timeoutMs, ProducerID: -1, ProducerEpoch: -1})
	}
}

// initWith is InitProducerId v3+ with the client's current producer id and epoch (KIP-360).
func initWith(req uint64, pid int64, epoch int16) op {
	return func(t *testing.T, h *harness) {
		h.step(&InitProducerID{Req: req, TxnID: "t", TimeoutMs: 60000, ProducerID: pid, ProducerEpoch: epoch})
	}
}

func initID(req uint64, id string) op {
	return func(t *testing.T, h *harness) {
		h.step(&InitProducerID{Req: req, TxnID: id, TimeoutMs: 60000, ProducerID: -1, ProducerEpoch: -1})
	}
}

func add(req uint64, pid int64, epoch int16, parts ...TopicPartition) op {
	return func(t *testing.T, h *harness) {
		h.step(&AddPartitions{Req: req, TxnID: "t", ProducerID: pid, ProducerEpoch: epoch, Partitions: parts})
	}
}

func addOffsets(req uint64, pid int64, epoch int16, group string) op {
	return func(t *testing.T, h *harness) {
		h.step(&AddOffsets{Req: req, TxnID: "t", ProducerID: pid, ProducerEpoch: epoch, Group: group})
	}
}

func verify(req uint64, pid int64, epoch int16, parts ...TopicPartition) op {
	return func(t *testing.T, h *harness) {
		h.step(&VerifyPartitions{Req: req, TxnID: "t", ProducerID: pid, ProducerEpoch: epoch, Partitions: parts})
	}
}

func end(req uint64, pid int64, epoch int16, commit bool) op {
	return func(t *testing.T, h *harness) {
		h.step(&EndTxn{Req: req, TxnID: "t", ProducerID: pid, ProducerEpoch: epoch, Commit: commit})
	}
}

func advance(ms int64) op { return func(t *testing.T, h *harness) { h.advance(ms) } }

func failAppends(code int16) op { return func(t *testing.T, h *harness) { h.appendErr = code } }

func holdAppends() op { return func(t *testing.T, h *harness) { h.holdAppends = true } }

// releaseAppends answers every held append with code and stops holding.
func releaseAppends(code int16) op {
	return func(t *testing.T, h *harness) {
		held := h.heldAppends
		h.heldAppends, h.holdAppends = nil, false
		for _, tok := range held {
			h.step(AppendDone{Token: tok, Err: code})
		}
	}
}

func holdMarkers() op { return func(t *testing.T, h *harness) { h.holdMarkers = true } }

// releaseMarkers answers every held marker write (with markerErr and gone) and stops holding.
func releaseMarkers() op {
	return func(t *testing.T, h *harness) {
		held := h.heldMarkers
		h.heldMarkers, h.holdMarkers = nil, false
		for _, e := range held {
			h.step(h.answerMarkers(e))
		}
	}
}

func markerErrs(p TopicPartition, codes ...int16) op {
	return func(t *testing.T, h *harness) { h.markerErr[p] = append(h.markerErr[p], codes...) }
}

func goneTopic(p TopicPartition) op { return func(t *testing.T, h *harness) { h.gone[p] = true } }

func unload() op { return func(t *testing.T, h *harness) { h.step(PartitionUnloaded{Partition: 0}) } }

// load reloads partition 0 at epoch from the records appended so far (as a new leader reads
// them from the log).
func load(epoch int32) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		var batches [][]byte
		for _, a := range h.appends {
			batches = append(batches, coordinator.BuildBatch(a.Records, h.now))
		}
		ev, err := Load(0, epoch, batches)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		h.step(PartitionLoading{Partition: 0, Epoch: epoch})
		h.step(ev)
	}
}

// setState forces the metadata of "t" (as a loaded record would), for states hard to reach.
func setState(fn func(m *txnMeta)) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		m := h.m.txns["t"]
		if m == nil {
			t.Fatal("no transactional id t")
		}
		fn(m)
	}
}

// Expectations.

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func replyOf(t *testing.T, h *harness, req uint64) any {
	t.Helper()
	r, ok := h.replies[req]
	if !ok {
		t.Fatalf("request %d not answered", req)
	}
	return r
}

func parked(req uint64) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if r, ok := h.replies[req]; ok {
			t.Fatalf("request %d answered %+v, want it parked", req, r)
		}
	}
}

func wantErr(req uint64, code int16) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		var got int16
		switch r := replyOf(t, h, req).(type) {
		case InitResult:
			got = r.Err
		case ErrResult:
			got = r.Err
		case ListResult:
			got = r.Err
		default:
			t.Fatalf("request %d: unexpected result %T", req, r)
		}
		if got != code {
			t.Fatalf("request %d: error %s, want %s", req, errName(got), errName(code))
		}
	}
}

func wantPID(req uint64, pid int64, epoch int16) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r, ok := replyOf(t, h, req).(InitResult)
		if !ok || r.Err != 0 || r.ProducerID != pid || r.ProducerEpoch != epoch {
			t.Fatalf("request %d: got %+v (%s), want producer %d epoch %d", req, r, errName(r.Err), pid, epoch)
		}
	}
}

func wantVerify(req uint64, codes ...int16) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r := replyOf(t, h, req).(VerifyResult)
		if fmt.Sprint(r.Errs) != fmt.Sprint(codes) {
			t.Fatalf("request %d: verify %v, want %v", req, r.Errs, codes)
		}
	}
}

// wantTxn checks the state, producer id, epoch and partitions of "t" and that no change is
// pending (but the completion of PrepareCommit/PrepareAbort, whose markers are in flight).
func wantTxn(state State, pid int64, epoch int16, parts ...TopicPartition) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		m := h.m.txns["t"]
		if m == nil {
			t.Fatalf("transactional id t unknown; want %s", state)
		}
		got := m.partitionList()
		if len(parts) == 0 {
			parts = []TopicPartition{}
		}
		completing := (state == PrepareCommit && m.pendingIs(CompleteCommit)) || (state == PrepareAbort && m.pendingIs(CompleteAbort))
		if m.state != state || m.producerID != pid || m.epoch != epoch || fmt.Sprint(got) != fmt.Sprint(parts) || (m.hasPending && !completing) {
			t.Fatalf("t: %s producer %d epoch %d partitions %v pending %v(%s); want %s %d %d %v",
				m.state, m.producerID, m.epoch, got, m.hasPending, m.pending, state, pid, epoch, parts)
		}
	}
}

func wantNoTxn() op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if m := h.m.txns["t"]; m != nil {
			t.Fatalf("transactional id t exists in state %s; want none", m.state)
		}
	}
}

// wantLastRecord decodes the last record appended and checks its state, epoch and partitions.
func wantLastRecord(state State, pid int64, epoch int16, parts ...TopicPartition) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if len(h.appends) == 0 {
			t.Fatal("nothing appended")
		}
		recs := h.appends[len(h.appends)-1].Records
		r := recs[len(recs)-1]
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(r.Key); err != nil || k.Version != 0 {
			t.Fatalf("key %x: %v (version %d)", r.Key, err, k.Version)
		}
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(r.Value); err != nil || v.Version != 0 {
			t.Fatalf("value %x: %v", r.Value, err)
		}
		var got []TopicPartition
		for _, topic := range v.Topics {
			for _, p := range topic.Partitions {
				got = append(got, tp(topic.Topic, p))
			}
		}
		if v.State != state || v.ProducerID != pid || v.ProducerEpoch != epoch || fmt.Sprint(got) != fmt.Sprint(parts) {
			t.Fatalf("last record %s producer %d epoch %d partitions %v; want %s %d %d %v", v.State, v.ProducerID, v.ProducerEpoch, got, state, pid, epoch, parts)
		}
		if state == Empty && v.Topics != nil {
			t.Fatal("an Empty transaction's partitions must be a null array")
		}
	}
}

func wantAppends(n int) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if len(h.appends) != n {
			t.Fatalf("%d appends, want %d", len(h.appends), n)
		}
	}
}

// wantMarkers checks the last WriteMarkers asked for.
func wantMarkers(n int, commit bool, pid int64, epoch int16, parts ...TopicPartition) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if len(h.markers) != n {
			t.Fatalf("%d marker writes, want %d", len(h.markers), n)
		}
		if n == 0 {
			return
		}
		w := h.markers[n-1]
		if w.Commit != commit || w.ProducerID != pid || w.ProducerEpoch != epoch || fmt.Sprint(w.Partitions) != fmt.Sprint(parts) || w.CoordinatorEpoch != h.m.parts[0].epoch {
			t.Fatalf("markers %+v; want commit %v producer %d epoch %d partitions %v", w, commit, pid, epoch, parts)
		}
	}
}
