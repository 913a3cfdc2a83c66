// Package coordinator is the group coordinator: Kafka 3.9's classic consumer-group protocol,
// Kafka 4.0's KIP-848 consumer group protocol, and committed offsets, kept as records in
// __consumer_offsets with Kafka's own key/value schemas, so that a group behaves for every
// stock client as on Apache Kafka.
//
// # Shape
//
// Machine (machine.go, join.go, sync.go, offsets.go, admin.go, load.go) is a pure state
// machine: Step(now, event) applies one event and returns effects. Events are the requests
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, CommitOffsets, FetchOffsets,
// DescribeGroups, ListGroups, DeleteGroups, DeleteOffsets, TxnCommitOffsets), TxnCompleted,
// TimerFired, AppendDone and the
// partition events (PartitionLoading, PartitionLoaded, PartitionUnloaded). Effects are Reply
// (the answer to a request, possibly much later: JoinGroup and SyncGroup are parked until
// the rebalance gets there), Append (records for a __consumer_offsets partition; the
// machine continues when AppendDone comes back), ArmTimer and CancelTimer. The machine
// has no clock, goroutine or I/O, so rebalance rules are tested as tables of events and
// expected effects.
//
// Coordinator (driver.go, api.go) is the thin driver: one goroutine (Run) owns the
// machine, turns kmsg requests into events and answers into kmsg responses, runs timers
// (time.AfterFunc posting TimerFired back), and performs appends through the Log interface
// the broker provides (the partition's normal append path, answered once committed).
// Appends run in the driver goroutine, in order, so the in-memory state always follows
// the log order. Loading a partition (BecomeLeader) reads it from the log start to the high
// watermark in a goroutine of its own and hands the rebuilt snapshot to the machine.
//
// # KIP-848 consumer groups
//
// A second state machine beside the classic one, in the same Machine and driver (cg*.go,
// assignor.go, records848.go, topics.go): ConsumerGroupHeartbeat and ConsumerGroupDescribe
// (Kafka 4.0's GroupMetadataManager, ConsumerGroup, CurrentAssignmentBuilder and
// TargetAssignmentBuilder). A group id maps to one group entry; its cg field is set while
// the group uses the consumer protocol, and the entry keeps holding the group's offsets, so
// OffsetCommit/OffsetFetch, DeleteGroups, ListGroups (v5 types) and expiration work on both
// kinds.
//
//   - A heartbeat updates the member (its subscription, assignor, rebalance timeout); a
//     changed subscription or a newer topics image bumps the group epoch; a group epoch
//     ahead of the assignment epoch runs the assignor (uniform or range, server-side) for a
//     new target assignment; the member then moves one step towards its target (reconcile):
//     partitions to give up are revoked first, and partitions still held by another member
//     are only handed out once released. Member epochs fence stale members
//     (FENCED_MEMBER_EPOCH; the previous epoch is accepted when its answer was lost).
//   - The group's state is its records: a request computes the records it needs
//     (ConsumerGroupMetadata, PartitionMetadata, MemberMetadata, TargetAssignmentMember and
//     Metadata, CurrentMemberAssignment, RegularExpression; Kafka 4.0's schemas, encoded
//     with kbin), the machine appends them and replays them into the group, and loading a
//     partition replays the same records: another coordinator rebuilds the same group. A
//     failed append restores the group as it was (the driver appends in line, so no other
//     event runs in between).
//   - Timers: a member's session (group.consumer.session.timeout.ms) and, while it revokes,
//     its rebalance timeout; either expiring fences it (its partitions go to the others).
//   - Static members leaving with epoch -2 keep their assignment until their session ends
//     or their instance comes back under a new member id.
//   - Regular expressions (v1) are resolved against the topics image at once (Kafka does it
//     in the background), again when topics change, at most every 10 s.
//   - Online migration (group.consumer.migration.policy): a KIP-848 member joining a classic
//     group of the consumer protocol type converts it, its members staying as classic
//     members of the new group (they join, sync and heartbeat through it and are assigned by
//     the coordinator); when the last KIP-848 member leaves, the group becomes classic again
//     and rebalances.
//   - Topics come from the broker's metadata cache as an immutable TopicsImage carried by
//     the requests (SetTopics); the machine keeps the newest it has seen.
//
// # Concurrency
//
// The request methods of Coordinator are safe for concurrent use; each blocks until its
// answer or until its context ends (the connection closing), which abandons the wait but
// not the request's effect on the group. Status, PartitionFor and BecomeLeader are safe
// for concurrent use. The Machine is not: only the driver touches it. No lock of the
// broker is held while a request waits here.
//
// # Semantics (Kafka 3.9 GroupCoordinator)
//
//   - States Empty, PreparingRebalance, CompletingRebalance, Stable, Dead (State.String
//     gives the exact names). An Empty group's first rebalance waits
//     group.initial.rebalance.delay.ms, extended while members keep joining, up to the
//     rebalance timeout (InitialDelayedJoin); later rebalances complete when every member
//     rejoined or after the largest rebalance timeout, dropping dynamic members that did
//     not rejoin. Members that do not SyncGroup within the rebalance timeout are removed.
//   - Sessions: a member's session restarts on heartbeat, commit, join completion and
//     sync; members parked in JoinGroup or SyncGroup do not expire, except new members
//     (5 minutes). MEMBER_ID_REQUIRED only for JoinGroup v4+; pending members expire
//     after their session timeout.
//   - Fencing: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS,
//     FENCED_INSTANCE_ID (static members, KIP-345: a static member rejoining with an
//     unknown member id replaces the old one and keeps its assignment when the group's
//     protocol does not change).
//   - Protocol selection: same protocol type, a protocol every member supports, chosen by
//     the members' preferences (ties go to the earliest member's preference).
//   - Transactional offset commits (TxnOffsetCommit, txn_offsets.go): written in a
//     transactional batch of the producer, they wait in the group until the transaction's
//     marker reaches the group's partition (TxnCompleted, from WriteTxnMarkers): a commit
//     applies them unless a later commit of the partition was written meanwhile, an abort
//     drops them. OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for a
//     partition with commits pending. Loading replays the markers found in the log.
//   - Persistence: OffsetCommitKey v1 / OffsetCommitValue v3 (v1 with an expire
//     timestamp), GroupMetadataKey v2 / GroupMetadataValue v3; tombstones (null values)
//     delete. The coordinator for a group leads partition
//     abs(JavaStringHashCode(group)) % partitions. Offsets of Empty groups expire after
//     offsets.retention.minutes (checked every offsets.retention.check.interval.ms).
package coordinator
