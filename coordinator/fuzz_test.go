package coordinator

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzLoadPartition feeds arbitrary bytes to the loader, which reads whatever a
// __consumer_offsets partition holds (including batches written by other brokers): it must
// return errors, never panic.
func FuzzLoadPartition(f *testing.F) {
	g := newGroup("g", 0, 1)
	g.protocolType, g.protocol, g.leader, g.generation = "consumer", "range", "m", 3
	g.members["m"] = &member{id: "m", instanceID: "i", protocols: proto("range")}
	g.order = []string{"m"}
	f.Add(BuildBatch([]Record{
		offsetRecord("g", topicPartition{"t", 0}, offsetEntry{offset: 5, leaderEpoch: -1, expireTs: -1}),
		groupRecord(g, map[string][]byte{"m": []byte("a")}),
		groupTombstone("x"),
	}, 0))
	// KIP-848 records.
	f.Add(BuildBatch([]Record{
		cgMemberMetadataRecord("c", "m1", &cgMemberMetadataValue{clientID: "c", subscribedTopicNames: []string{"t"}, rebalanceTimeoutMs: 5,
			classic: &classicMemberMetadata{sessionTimeoutMs: 6, protocols: proto("range")}}),
		cgPartitionMetadataRecord("c", map[string]cgTopicMetadata{"t": {id: tid(1), name: "t", partitions: 2}}),
		cgEpochRecord("c", 1),
		cgTargetMemberRecord("c", "m1", assignment{tid(1): {0, 1}}),
		cgTargetMetadataRecord("c", 1),
		cgCurrentAssignmentRecord("c", "m1", &cgCurrentAssignmentValue{memberEpoch: 1, assigned: assignment{tid(1): {0, 1}}, pendingRevocation: assignment{}}),
		cgRegexRecord("c", "t.*", &cgRegexValue{topics: []string{"t"}}),
		cgCurrentAssignmentTombstone("c", "m1"), cgMemberMetadataTombstone("c", "m1"), cgEpochTombstone("c"),
	}, 0))
	k := kmsg.OffsetCommitKey{Version: 0, Group: "g", Topic: "t"}
	f.Add(BuildBatch([]Record{{Key: k.AppendTo(nil), Value: []byte{0, 9}}}, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = LoadPartition(0, [][]byte{data})
		if snap := newSnapshot(); len(data) > 2 {
			_ = snap.apply(0, data[:len(data)/2], data[len(data)/2:])
		}
	})
}
