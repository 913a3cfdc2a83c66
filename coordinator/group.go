package coordinator

import (
	"bytes"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state. String gives Kafka's exact names, which tools parse.
type State int8

// The five states of Kafka's classic group protocol.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return "Unknown"
}

// Protocol is one (name, metadata) pair a member supports, in its order of preference.
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is one member of a group.
type member struct {
	id                 string
	instanceID         string // "" for dynamic members
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []Protocol
	assignment         []byte

	joinReq  uint64 // parked JoinGroup (0: not awaiting join)
	joinSkip bool   // the parked JoinGroup supports skipping assignment (v9+)
	syncReq  uint64 // parked SyncGroup (0: not awaiting sync)
	isNew    bool
}

func (m *member) awaitingJoin() bool { return m.joinReq != 0 }
func (m *member) awaitingSync() bool { return m.syncReq != 0 }

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are exactly the member's (names, order and metadata).
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i := range protocols {
		if protocols[i].Name != m.protocols[i].Name || !bytes.Equal(protocols[i].Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// group is one classic group and its committed offsets.
type group struct {
	id           string
	partition    int32
	state        State
	stateTs      int64 // when the state last changed (ms), -1 if unknown
	generation   int32
	protocolType string // "" until the first member joins (simple consumer groups keep "")
	protocol     string // selected protocol, "" when none
	leader       string // "" when none

	members     map[string]*member
	order       []string          // member ids in join order (Kafka's map order is unspecified; ours is stable)
	static      map[string]string // group.instance.id -> member id
	pending     map[string]bool   // member ids handed out with MEMBER_ID_REQUIRED
	pendingSync map[string]bool   // members that have not sent SyncGroup for this generation
	numAwaiting int

	newMemberAdded bool
	join           *joinTimer // the pending (delayed) completion of PreparingRebalance
	syncGen        int32      // generation the pending-sync timer was armed for

	subscribed      map[string]bool // topics the members subscribe to (consumer protocol)
	subscribedKnown bool

	offsets        map[topicPartition]offsetEntry
	pendingCommits map[topicPartition]int
	// pendingTxn holds transactional offset commits (TxnOffsetCommit) by producer id until
	// the transaction's marker commits or aborts them (txn_offsets.go).
	pendingTxn map[int64]map[topicPartition]offsetEntry

	// cg is set when the group is a KIP-848 consumer group; the classic fields above are
	// then unused (Empty) and the entry holds the group's offsets.
	cg *consumerGroup
}

// joinTimer describes the armed join timer: Kafka's DelayedJoin or InitialDelayedJoin.
type joinTimer struct {
	initial   bool
	delayMs   int64
	remaining int64
}

func newGroup(id string, partition int32, now int64) *group {
	return &group{
		id:             id,
		partition:      partition,
		state:          Empty,
		stateTs:        now,
		members:        map[string]*member{},
		static:         map[string]string{},
		pending:        map[string]bool{},
		pendingSync:    map[string]bool{},
		offsets:        map[topicPartition]offsetEntry{},
		pendingCommits: map[topicPartition]int{},
		pendingTxn:     map[int64]map[topicPartition]offsetEntry{},
	}
}

func (g *group) is(s State) bool { return g.state == s }

func (g *group) has(id string) bool { _, ok := g.members[id]; return ok }

func (g *group) isLeader(id string) bool { return g.leader != "" && g.leader == id }

func (g *group) allMembersJoined() bool {
	return len(g.members) == g.numAwaiting && len(g.pending) == 0
}

// canRebalance: the states from which PreparingRebalance may be entered.
func (g *group) canRebalance() bool {
	return g.state == Stable || g.state == CompletingRebalance || g.state == Empty
}

// rebalanceTimeoutMs is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeoutMs() int64 {
	var t int32
	for _, m := range g.members {
		if m.rebalanceTimeoutMs > t {
			t = m.rebalanceTimeoutMs
		}
	}
	return int64(t)
}

// add adds a member; the first member fixes the protocol type and becomes leader.
func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != "" {
		g.static[m.instanceID] = m.id
	}
	if m.awaitingJoin() {
		g.numAwaiting++
	}
	delete(g.pending, m.id)
}

// remove removes a member (and its static registration); a removed leader is replaced by
// the oldest remaining member.
func (g *group) remove(id string) {
	m, ok := g.members[id]
	if ok {
		delete(g.members, id)
		for i, mid := range g.order {
			if mid == id {
				g.order = append(g.order[:i], g.order[i+1:]...)
				break
			}
		}
		if m.awaitingJoin() {
			g.numAwaiting--
		}
		if m.instanceID != "" && g.static[m.instanceID] == id {
			delete(g.static, m.instanceID)
		}
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pending, id)
	delete(g.pendingSync, id)
}

// setJoin parks (req != 0) or clears the member's JoinGroup, keeping numAwaiting right.
func (g *group) setJoin(m *member, req uint64, skip bool) {
	if req != 0 && !m.awaitingJoin() {
		g.numAwaiting++
	} else if req == 0 && m.awaitingJoin() {
		g.numAwaiting--
	}
	m.joinReq = req
	m.joinSkip = skip
}

// protocolVotes counts how many members support each protocol.
func (g *group) protocolVotes() map[string]int {
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			votes[p.Name]++
		}
	}
	return votes
}

// supportsProtocols is Kafka's check for a joining member: an Empty group takes any non-empty
// protocol type with at least one protocol; otherwise the type must match and one of the
// protocols must be supported by every current member.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	votes := g.protocolVotes()
	for _, p := range protocols {
		if votes[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks, among the protocols every member supports, the one most members
// prefer. Ties go to the protocol preferred by the earliest member (Kafka leaves ties to map order).
func (g *group) selectProtocol() string {
	votes := g.protocolVotes()
	candidates := map[string]bool{}
	for name, n := range votes {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	count := map[string]int{}
	var first []string
	for _, id := range g.order {
		v := g.members[id].vote(candidates)
		if count[v] == 0 {
			first = append(first, v)
		}
		count[v]++
	}
	best := ""
	for _, name := range first {
		if best == "" || count[name] > count[best] {
			best = name
		}
	}
	return best
}

// computeSubscribed decodes the consumer-protocol subscriptions of the members for the
// selected protocol; if any does not decode, the subscribed topics are unknown.
func (g *group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != "consumer" || g.protocol == "" {
		return
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// isSubscribedTo is true when a member subscribes to topic, or when subscriptions are unknown.
func (g *group) isSubscribedTo(topic string) bool {
	if !g.subscribedKnown {
		return true
	}
	return g.subscribed[topic]
}

// staticFenced: the instance id is registered to another member id.
func (g *group) staticFenced(instanceID, memberID string) bool {
	if instanceID == "" {
		return false
	}
	cur, ok := g.static[instanceID]
	return ok && cur != memberID
}

// memberList is the leader's view of the members for the selected protocol.
func (g *group) memberList() []JoinMember {
	out := make([]JoinMember, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadataFor(g.protocol)})
	}
	return out
}

// matchStates reports whether the group's state is in states (case-insensitive).
func (g *group) inStates(states []string) bool {
	for _, s := range states {
		if strings.EqualFold(strings.TrimSpace(s), g.listState()) {
			return true
		}
	}
	return false
}
