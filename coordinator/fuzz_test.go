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
	k := kmsg.OffsetCommitKey{Version: 0, Group: "g", Topic: "t"}
	f.Add(BuildBatch([]Record{{Key: k.AppendTo(nil), Value: []byte{0, 9}}}, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = LoadPartition(0, [][]byte{data})
		if snap := newSnapshot(); len(data) > 2 {
			_ = snap.apply(0, data[:len(data)/2], data[len(data)/2:])
		}
	})
}
