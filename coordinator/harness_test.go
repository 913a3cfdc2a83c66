package coordinator

import (
	"fmt"
	"sort"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
)

// harness drives a Machine the way the driver does, with a fake clock: appends succeed at
// once (or fail with appendErr), timers fire when the clock passes their deadline.
type harness struct {
	m         *Machine
	now       int64
	timers    map[TimerKey]armedTimer
	replies   map[uint64]any
	records   []Append
	appendErr int16
	ids       map[string]int
}

type armedTimer struct {
	seq uint64
	at  int64
}

func testConfig() Config {
	return Config{
		Partitions:              1,
		InitialRebalanceDelayMs: 3000,
		MinSessionTimeoutMs:     6000,
		MaxSessionTimeoutMs:     1800000,
		OffsetMetadataMaxBytes:  4096,
		OffsetsRetentionMs:      7 * 24 * 3600 * 1000,
		RetentionCheckMs:        600000,
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{now: 1_000_000, timers: map[TimerKey]armedTimer{}, replies: map[uint64]any{}, ids: map[string]int{}}
	cfg.NewMemberID = func(prefix string) string {
		h.ids[prefix]++
		return fmt.Sprintf("%s-%d", prefix, h.ids[prefix])
	}
	h.m = NewMachine(cfg, zerolog.Nop())
	h.step(PartitionLoading{Partition: 0})
	h.step(PartitionLoaded{Partition: 0, snap: newSnapshot()})
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
				h.records = append(h.records, e)
				queue = append(queue, AppendDone{Token: e.Token, Err: h.appendErr})
			case ArmTimer:
				h.timers[e.Key] = armedTimer{seq: e.Seq, at: h.now + e.AfterMs}
			case CancelTimer:
				delete(h.timers, e.Key)
			}
		}
	}
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

// Member ids are "<client or instance id>-<n>", counted per prefix.

func proto(names ...string) []Protocol {
	out := make([]Protocol, len(names))
	for i, n := range names {
		out[i] = Protocol{Name: n, Metadata: []byte("meta-" + n)}
	}
	return out
}

type joinOpt func(*JoinGroup)

func v4() joinOpt { return func(j *JoinGroup) { j.RequireKnownMemberID = true } }
func v9() joinOpt {
	return func(j *JoinGroup) { j.RequireKnownMemberID, j.SupportSkippingAssignment = true, true }
}
func static(id string) joinOpt { return func(j *JoinGroup) { j.InstanceID = id } }
func protos(p ...string) joinOpt {
	return func(j *JoinGroup) { j.Protocols = proto(p...) }
}
func ptype(t string) joinOpt        { return func(j *JoinGroup) { j.ProtocolType = t } }
func session(ms int32) joinOpt      { return func(j *JoinGroup) { j.SessionTimeoutMs = ms } }
func rebalance(ms int32) joinOpt    { return func(j *JoinGroup) { j.RebalanceTimeoutMs = ms } }
func metadata(b string) joinOpt     { return func(j *JoinGroup) { j.Protocols[0].Metadata = []byte(b) } }
func groupName(g string) joinOpt    { return func(j *JoinGroup) { j.Group = g } }
func clientOf(c string) joinOpt     { return func(j *JoinGroup) { j.ClientID = c } }
func memberOf(id string) joinOpt    { return func(j *JoinGroup) { j.MemberID = id } }
func noProtocols() joinOpt          { return func(j *JoinGroup) { j.Protocols = nil } }
func clientHost(hst string) joinOpt { return func(j *JoinGroup) { j.ClientHost = hst } }

// join sends JoinGroup req for group "g" from client (member id "" unless memberOf).
func join(req uint64, client string, opts ...joinOpt) op {
	return func(t *testing.T, h *harness) {
		j := &JoinGroup{Req: req, Group: "g", ClientID: client, ClientHost: "/10.0.0.1", SessionTimeoutMs: 10000, RebalanceTimeoutMs: 60000,
			ProtocolType: "consumer", Protocols: proto("range")}
		for _, o := range opts {
			o(j)
		}
		h.step(j)
	}
}

func rejoin(req uint64, member string, opts ...joinOpt) op {
	client := member
	for i := len(member) - 1; i >= 0; i-- {
		if member[i] == '-' {
			client = member[:i]
			break
		}
	}
	return join(req, client, append([]joinOpt{memberOf(member)}, opts...)...)
}

func syncReq(req uint64, member string, gen int32, assign map[string]string) op {
	return func(t *testing.T, h *harness) {
		s := &SyncGroup{Req: req, Group: "g", MemberID: member, Generation: gen, Assignments: map[string][]byte{}}
		for k, v := range assign {
			s.Assignments[k] = []byte(v)
		}
		h.step(s)
	}
}

func syncStatic(req uint64, member, instance string, gen int32) op {
	return func(t *testing.T, h *harness) {
		h.step(&SyncGroup{Req: req, Group: "g", MemberID: member, InstanceID: instance, Generation: gen})
	}
}

func hb(req uint64, member string, gen int32) op {
	return func(t *testing.T, h *harness) {
		h.step(&Heartbeat{Req: req, Group: "g", MemberID: member, Generation: gen})
	}
}

func leave(req uint64, members ...string) op {
	return func(t *testing.T, h *harness) {
		l := &LeaveGroup{Req: req, Group: "g"}
		for _, m := range members {
			l.Members = append(l.Members, LeaveMember{MemberID: m})
		}
		h.step(l)
	}
}

func commit(req uint64, member string, gen int32, offsets ...CommitOffset) op {
	return func(t *testing.T, h *harness) {
		h.step(&CommitOffsets{Req: req, Group: "g", MemberID: member, Generation: gen, Offsets: offsets})
	}
}

func off(topic string, p int32, o int64) CommitOffset {
	return CommitOffset{Topic: topic, Partition: p, Offset: o, LeaderEpoch: -1, CommitTs: 0, ExpireTs: -1}
}

func advance(ms int64) op { return func(t *testing.T, h *harness) { h.advance(ms) } }

func failAppends(code int16) op { return func(t *testing.T, h *harness) { h.appendErr = code } }

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

// parked: request req has no answer yet.
func parked(req uint64) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if r, ok := h.replies[req]; ok {
			t.Fatalf("request %d answered %+v, want it parked", req, r)
		}
	}
}

// wantErr: request req was answered with code (any result type with one error).
func wantErr(req uint64, code int16) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		var got int16
		switch r := replyOf(t, h, req).(type) {
		case JoinResult:
			got = r.Err
		case SyncResult:
			got = r.Err
		case ErrResult:
			got = r.Err
		case LeaveResult:
			got = r.Err
			if got == 0 && len(r.Members) > 0 {
				got = r.Members[0]
			}
		case CommitResult:
			got = r.Errs[0]
		default:
			t.Fatalf("request %d: unexpected result %T", req, r)
		}
		if got != code {
			t.Fatalf("request %d: error %s, want %s", req, errName(got), errName(code))
		}
	}
}

// wantJoin checks a successful JoinGroup answer.
func wantJoin(req uint64, member string, gen int32, leader string, members int) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r, ok := replyOf(t, h, req).(JoinResult)
		if !ok {
			t.Fatalf("request %d: not a join result", req)
		}
		if r.Err != 0 || r.MemberID != member || r.Generation != gen || r.Leader != leader || len(r.Members) != members {
			t.Fatalf("request %d: got err %s member %q gen %d leader %q members %d; want NONE %q %d %q %d",
				req, errName(r.Err), r.MemberID, r.Generation, r.Leader, len(r.Members), member, gen, leader, members)
		}
	}
}

func wantJoinProtocol(req uint64, protocol string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r := replyOf(t, h, req).(JoinResult)
		if r.Protocol != protocol {
			t.Fatalf("request %d: protocol %q, want %q", req, r.Protocol, protocol)
		}
	}
}

// wantJoinID checks the member id handed out with an error (MEMBER_ID_REQUIRED).
func wantJoinID(req uint64, code int16, member string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r := replyOf(t, h, req).(JoinResult)
		if r.Err != code || r.MemberID != member {
			t.Fatalf("request %d: %s member %q, want %s %q", req, errName(r.Err), r.MemberID, errName(code), member)
		}
	}
}

func wantSkip(req uint64, skip bool) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if r := replyOf(t, h, req).(JoinResult); r.SkipAssignment != skip {
			t.Fatalf("request %d: skip assignment %v, want %v", req, r.SkipAssignment, skip)
		}
	}
}

func wantAssignment(req uint64, assignment string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		r, ok := replyOf(t, h, req).(SyncResult)
		if !ok || r.Err != 0 || string(r.Assignment) != assignment {
			t.Fatalf("request %d: got %+v, want assignment %q", req, r, assignment)
		}
	}
}

// wantGroup checks the group's state, generation and member ids (in join order).
func wantGroup(state State, gen int32, members ...string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		g := h.m.groups["g"]
		if g == nil {
			t.Fatalf("group g does not exist; want %s", state)
		}
		if g.state != state || g.generation != gen || fmt.Sprint(g.order) != fmt.Sprint(members) {
			t.Fatalf("group g: %s gen %d members %v; want %s gen %d members %v", g.state, g.generation, g.order, state, gen, members)
		}
	}
}

func wantNoGroup() op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if g := h.m.groups["g"]; g != nil {
			t.Fatalf("group g exists in state %s; want none", g.state)
		}
	}
}

func wantLeader(member string) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		if g := h.m.groups["g"]; g.leader != member {
			t.Fatalf("leader %q, want %q", g.leader, member)
		}
	}
}

// stable3 brings dynamic members a, b, c to Stable generation 1 with assignments "A","B","C".
func stable3() []op {
	return []op{
		join(1, "a"), join(2, "b"), join(3, "c"),
		advance(6000), // b and c joined during the initial delay: it is extended once
		wantJoin(1, "a-1", 1, "a-1", 3), wantJoin(2, "b-1", 1, "a-1", 0), wantJoin(3, "c-1", 1, "a-1", 0),
		syncReq(4, "b-1", 1, nil), syncReq(5, "c-1", 1, nil), parked(4),
		syncReq(6, "a-1", 1, map[string]string{"a-1": "A", "b-1": "B", "c-1": "C"}),
		wantAssignment(4, "B"), wantAssignment(5, "C"), wantAssignment(6, "A"),
		wantGroup(Stable, 1, "a-1", "b-1", "c-1"),
	}
}

func script(parts ...[]op) []op {
	var out []op
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
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

type scriptCase struct {
	name string
	cfg  func(*Config)
	ops  []op
}
