package coordinator

// Request events. Req identifies the request; its answer is a Reply with the same Req.

// JoinGroup is a JoinGroup request.
type JoinGroup struct {
	Req                uint64
	Group              string
	MemberID           string
	InstanceID         string // "" for dynamic members
	ClientID           string
	ClientHost         string
	RebalanceTimeoutMs int32
	SessionTimeoutMs   int32
	ProtocolType       string
	Protocols          []Protocol
	// RequireKnownMemberID is set from JoinGroup v4: an empty member id gets
	// MEMBER_ID_REQUIRED with a new id to join with.
	RequireKnownMemberID bool
	// SupportSkippingAssignment is set from JoinGroup v9 (KIP-814).
	SupportSkippingAssignment bool
	// Image is the broker's topics, for a classic member joining a KIP-848 group.
	Image *TopicsImage
}

// JoinMember is one member as the leader sees it in the JoinGroup answer.
type JoinMember struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// JoinResult answers a JoinGroup. Protocol and ProtocolType are "" when none.
type JoinResult struct {
	Err            int16
	MemberID       string
	Generation     int32
	ProtocolType   string
	Protocol       string
	Leader         string
	SkipAssignment bool
	Members        []JoinMember
}

// SyncGroup is a SyncGroup request. ProtocolType and Protocol are nil before v5.
type SyncGroup struct {
	Req          uint64
	Group        string
	MemberID     string
	InstanceID   string
	Generation   int32
	ProtocolType *string
	Protocol     *string
	Assignments  map[string][]byte
	Image        *TopicsImage // the broker's topics, for a classic member of a KIP-848 group
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          int16
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// Heartbeat is a Heartbeat request.
type Heartbeat struct {
	Req        uint64
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
}

// ErrResult answers requests whose answer is one error code (Heartbeat).
type ErrResult struct{ Err int16 }

// LeaveMember is one member leaving (v3+ batches them; before, one with no instance id).
type LeaveMember struct {
	MemberID   string
	InstanceID string
}

// LeaveGroup is a LeaveGroup request.
type LeaveGroup struct {
	Req     uint64
	Group   string
	Members []LeaveMember
}

// LeaveResult answers a LeaveGroup: a group-level error, or one error per member.
type LeaveResult struct {
	Err     int16
	Members []int16
}

// CommitOffset is one partition of an OffsetCommit.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTs    int64 // commit time (ms)
	ExpireTs    int64 // -1 unless an old client gave a retention time
}

// CommitOffsets is an OffsetCommit request for one group.
type CommitOffsets struct {
	Req        uint64
	Version    int16 // OffsetCommit version (KIP-848 members need v9+)
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
	Offsets    []CommitOffset
}

// CommitResult answers a CommitOffsets: one error code per offset, in request order.
type CommitResult struct{ Errs []int16 }

// TopicPartitions names partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// FetchOffsets asks the committed offsets of a group; Topics nil means all of them.
// RequireStable (v7+) asks for UNSTABLE_OFFSET_COMMIT on partitions with commits pending.
type FetchOffsets struct {
	Req           uint64
	Group         string
	Topics        []TopicPartitions
	RequireStable bool
	// MemberID and MemberEpoch (OffsetFetch v9) are checked against KIP-848 groups;
	// a nil member id with a negative epoch is not checked.
	MemberID    *string
	MemberEpoch int32
}

// FetchedOffset is one committed offset (-1 when there is none), or a partition error.
type FetchedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         int16
}

// FetchResult answers a FetchOffsets. Offsets are in request order (sorted by topic and
// partition when all offsets were asked).
type FetchResult struct {
	Err     int16
	Offsets []FetchedOffset
}

// TxnCommitOffsets is a TxnOffsetCommit request: offsets committed as part of the
// producer's transaction, applied when its commit marker reaches the group's partition.
// MemberID, InstanceID and Generation are set from v3 (KIP-447); before, "" and -1.
type TxnCommitOffsets struct {
	Req           uint64
	Group         string
	ProducerID    int64
	ProducerEpoch int16
	MemberID      string
	InstanceID    string
	Generation    int32
	Offsets       []CommitOffset
}

// TxnCompleted reports that a transaction marker of the producer was written to
// __consumer_offsets partition Partition: its pending offsets there are applied (Commit)
// or dropped.
type TxnCompleted struct {
	ProducerID int64
	Partition  int32
	Commit     bool
}

// DescribeGroups is a DescribeGroups request.
type DescribeGroups struct {
	Req    uint64
	Groups []string
}

// The messages of DescribeGroups v6 for the groups it cannot describe.
const (
	describeNotFound   = "Group %s not found."
	describeNotClassic = "Group %s is not a classic group."
)

// MemberDescription is one member in DescribeGroups; Metadata and Assignment are given only
// for Stable groups, as in Kafka.
type MemberDescription struct {
	MemberID   string
	InstanceID string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// GroupDescription is one group in DescribeGroups.
type GroupDescription struct {
	Group        string
	Err          int16
	ErrMsg       string // v6: why the group could not be described
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// DescribeResult answers a DescribeGroups, in request order.
type DescribeResult struct{ Groups []GroupDescription }

// ListGroups lists groups, optionally only those in States and of Types (v5: "classic",
// "consumer"; both case-insensitive).
type ListGroups struct {
	Req    uint64
	States []string
	Types  []string
}

// GroupListing is one listed group.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic" or "consumer"
}

// ListResult answers a ListGroups (sorted by group id).
type ListResult struct {
	Err    int16
	Groups []GroupListing
}

// DeleteGroups deletes Empty groups and their offsets.
type DeleteGroups struct {
	Req    uint64
	Groups []string
}

// DeleteGroupsResult has one error code per group, in request order.
type DeleteGroupsResult struct{ Errs []int16 }

// DeleteOffsets is an OffsetDelete request.
type DeleteOffsets struct {
	Req        uint64
	Group      string
	Partitions []TopicPartitions
}

// DeleteOffsetsResult has a group-level error, or one error per partition in request order.
type DeleteOffsetsResult struct {
	Err  int16
	Errs [][]int16
}

func (*JoinGroup) event()        {}
func (*SyncGroup) event()        {}
func (*Heartbeat) event()        {}
func (*LeaveGroup) event()       {}
func (*CommitOffsets) event()    {}
func (*FetchOffsets) event()     {}
func (*DescribeGroups) event()   {}
func (*ListGroups) event()       {}
func (*DeleteGroups) event()     {}
func (*DeleteOffsets) event()    {}
func (*TxnCommitOffsets) event() {}
func (TxnCompleted) event()      {}
