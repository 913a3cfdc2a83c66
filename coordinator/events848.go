package coordinator

// Request events of KIP-848 consumer groups.

// TopicIDPartitions names partitions of a topic by id.
type TopicIDPartitions struct {
	ID         [16]byte
	Partitions []int32
}

// ConsumerGroupHeartbeat is a ConsumerGroupHeartbeat request (v0-1). Pointer and slice
// fields are nil when the member sent null ("unchanged since the last heartbeat").
type ConsumerGroupHeartbeat struct {
	Req                  uint64
	Version              int16
	Group                string
	MemberID             string
	MemberEpoch          int32
	InstanceID           *string
	RackID               *string
	RebalanceTimeoutMs   int32
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	Topics               []TopicIDPartitions // owned partitions; nil: not reported
	Image                *TopicsImage
}

// ConsumerGroupHeartbeatResult answers a ConsumerGroupHeartbeat. Assignment is set (and
// HasAssignment) when the member must be told its assignment.
type ConsumerGroupHeartbeatResult struct {
	Err                 int16
	ErrMsg              string
	MemberID            string
	MemberEpoch         int32
	HeartbeatIntervalMs int32
	HasAssignment       bool
	Assignment          []TopicIDPartitions
}

// ConsumerGroupDescribe is a ConsumerGroupDescribe request.
type ConsumerGroupDescribe struct {
	Req    uint64
	Groups []string
	Image  *TopicsImage
}

// CGTopicPartitions is one topic of a described assignment.
type CGTopicPartitions struct {
	ID         [16]byte
	Name       string
	Partitions []int32
}

// CGMemberDescription is one member of a described consumer group.
type CGMemberDescription struct {
	MemberID         string
	InstanceID       string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	SubscribedRegex  string
	Assignment       []CGTopicPartitions
	TargetAssignment []CGTopicPartitions
	Classic          bool
}

// CGDescription is one group of a ConsumerGroupDescribe answer.
type CGDescription struct {
	Group           string
	Err             int16
	ErrMsg          string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []CGMemberDescription
}

// ConsumerGroupDescribeResult answers a ConsumerGroupDescribe, in request order.
type ConsumerGroupDescribeResult struct{ Groups []CGDescription }

func (*ConsumerGroupHeartbeat) event() {}
func (*ConsumerGroupDescribe) event()  {}
