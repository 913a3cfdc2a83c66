package coordinator

import (
	"bufio"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
)

// goldenRecords848 reads testdata/records848/golden.txt, written by Apache Kafka's own
// serde (scripts/gen-records848-golden.sh): name -> (key, value; nil value for tombstones).
func goldenRecords848(t *testing.T) map[string]Record {
	t.Helper()
	f, err := os.Open("testdata/records848/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]Record{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) != 3 {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		k, err := hex.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var v []byte
		if parts[2] != "-" {
			if v, err = hex.DecodeString(parts[2]); err != nil {
				t.Fatal(err)
			}
		}
		out[parts[0]] = Record{Key: k, Value: v}
	}
	return out
}

var (
	goldenT1 = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	goldenT2 = [16]byte{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20}
)

func TestRecords848MatchKafka(t *testing.T) {
	golden := goldenRecords848(t)
	empty := ""
	ours := map[string]Record{
		"epoch":           cgEpochRecord("grp", 42),
		"epoch-tombstone": cgEpochTombstone("grp"),
		"partition-metadata": cgPartitionMetadataRecord("grp", map[string]cgTopicMetadata{
			"beta":  {id: goldenT2, name: "beta", partitions: 12},
			"alpha": {id: goldenT1, name: "alpha", partitions: 3},
		}),
		"partition-metadata-tombstone": cgPartitionMetadataTombstone("grp"),
		"member-metadata": cgMemberMetadataRecord("grp", "m1", &cgMemberMetadataValue{
			clientID: "client", clientHost: "/127.0.0.1", subscribedTopicNames: []string{"beta", "alpha"},
			subscribedTopicRegex: &empty, rebalanceTimeoutMs: 300000, serverAssignor: strPtr("uniform"),
		}),
		"member-metadata-static-regex": cgMemberMetadataRecord("grp", "m2", &cgMemberMetadataValue{
			instanceID: strPtr("inst-2"), rackID: strPtr("rack-a"), clientID: "c2", clientHost: "/10.0.0.2",
			subscribedTopicRegex: strPtr("a.*"), rebalanceTimeoutMs: 60000,
		}),
		"member-metadata-classic": cgMemberMetadataRecord("grp", "m3", &cgMemberMetadataValue{
			clientID: "c3", clientHost: "/10.0.0.3", subscribedTopicNames: []string{"alpha"}, rebalanceTimeoutMs: 45000,
			classic: &classicMemberMetadata{sessionTimeoutMs: 10000, protocols: []Protocol{
				{Name: "range", Metadata: []byte{0, 3, 0, 0, 0, 1}}, {Name: "cooperative-sticky", Metadata: []byte{}},
			}},
		}),
		"member-metadata-tombstone":    cgMemberMetadataTombstone("grp", "m1"),
		"target-metadata":              cgTargetMetadataRecord("grp", 41),
		"target-metadata-tombstone":    cgTargetMetadataTombstone("grp"),
		"target-member":                cgTargetMemberRecord("grp", "m1", assignment{goldenT2: {5}, goldenT1: {0, 2}}),
		"target-member-empty":          cgTargetMemberRecord("grp", "m2", assignment{}),
		"target-member-tombstone":      cgTargetMemberTombstone("grp", "m1"),
		"current-assignment-tombstone": cgCurrentAssignmentTombstone("grp", "m1"),
		"current-assignment": cgCurrentAssignmentRecord("grp", "m1", &cgCurrentAssignmentValue{
			memberEpoch: 10, previousMemberEpoch: 9, state: 1,
			assigned: assignment{goldenT1: {0, 1}}, pendingRevocation: assignment{goldenT2: {3, 4, 7}},
		}),
		"regex":           cgRegexRecord("grp", "a.*", &cgRegexValue{topics: []string{"alpha", "another"}, version: 17, timestamp: 1700000000000}),
		"regex-tombstone": cgRegexTombstone("grp", "a.*"),
	}
	if len(ours) != len(golden) {
		t.Fatalf("%d records here, %d in the golden file", len(ours), len(golden))
	}
	for name, want := range golden {
		got, ok := ours[name]
		if !ok {
			t.Errorf("%s: not built by the test", name)
			continue
		}
		if hex.EncodeToString(got.Key) != hex.EncodeToString(want.Key) {
			t.Errorf("%s key:\n got %x\nwant %x", name, got.Key, want.Key)
		}
		if (got.Value == nil) != (want.Value == nil) || hex.EncodeToString(got.Value) != hex.EncodeToString(want.Value) {
			t.Errorf("%s value:\n got %x\nwant %x", name, got.Value, want.Value)
		}
	}
}

// The decoders read Kafka's bytes back into the values that made them.
func TestRecords848Decode(t *testing.T) {
	golden := goldenRecords848(t)
	k, err := decodeCGKey(golden["regex"].Key)
	if err != nil || k != (cgRecordKey{typ: recConsumerGroupRegularExpresion, group: "grp", member: "a.*"}) {
		t.Fatalf("regex key: %+v %v", k, err)
	}
	if e, err := decodeCGEpoch(golden["epoch"].Value); err != nil || e != 42 {
		t.Fatalf("epoch %d %v", e, err)
	}
	pm, err := decodeCGPartitionMetadata(golden["partition-metadata"].Value)
	if err != nil || !reflect.DeepEqual(pm, map[string]cgTopicMetadata{
		"alpha": {id: goldenT1, name: "alpha", partitions: 3}, "beta": {id: goldenT2, name: "beta", partitions: 12},
	}) {
		t.Fatalf("partition metadata %+v %v", pm, err)
	}
	mm, err := decodeCGMemberMetadata(golden["member-metadata-classic"].Value)
	if err != nil || mm.clientHost != "/10.0.0.3" || mm.subscribedTopicRegex != nil || mm.classic == nil ||
		mm.classic.sessionTimeoutMs != 10000 || len(mm.classic.protocols) != 2 || mm.classic.protocols[1].Name != "cooperative-sticky" {
		t.Fatalf("member metadata %+v %v", mm, err)
	}
	mm, err = decodeCGMemberMetadata(golden["member-metadata-static-regex"].Value)
	if err != nil || *mm.instanceID != "inst-2" || *mm.rackID != "rack-a" || *mm.subscribedTopicRegex != "a.*" || mm.serverAssignor != nil {
		t.Fatalf("member metadata %+v %v", mm, err)
	}
	ta, err := decodeCGTargetMember(golden["target-member"].Value)
	if err != nil || !ta.equal(assignment{goldenT1: {0, 2}, goldenT2: {5}}) {
		t.Fatalf("target %v %v", ta, err)
	}
	ca, err := decodeCGCurrentAssignment(golden["current-assignment"].Value)
	if err != nil || ca.memberEpoch != 10 || ca.previousMemberEpoch != 9 || ca.state != 1 ||
		!ca.assigned.equal(assignment{goldenT1: {0, 1}}) || !ca.pendingRevocation.equal(assignment{goldenT2: {3, 4, 7}}) {
		t.Fatalf("current %+v %v", ca, err)
	}
	rv, err := decodeCGRegex(golden["regex"].Value)
	if err != nil || !reflect.DeepEqual(rv, &cgRegexValue{topics: []string{"alpha", "another"}, version: 17, timestamp: 1700000000000}) {
		t.Fatalf("regex %+v %v", rv, err)
	}
	// Truncated values are errors, never panics.
	for name, r := range golden {
		for i := 0; i < len(r.Value); i++ {
			k, _ := decodeCGKey(r.Key)
			switch k.typ {
			case recConsumerGroupMetadata, recConsumerGroupTargetMetadata:
				_, err = decodeCGEpoch(r.Value[:i])
			case recConsumerGroupPartitionMeta:
				_, err = decodeCGPartitionMetadata(r.Value[:i])
			case recConsumerGroupMemberMetadata:
				_, err = decodeCGMemberMetadata(r.Value[:i])
			case recConsumerGroupTargetMember:
				_, err = decodeCGTargetMember(r.Value[:i])
			case recConsumerGroupCurrentAssign:
				_, err = decodeCGCurrentAssignment(r.Value[:i])
			case recConsumerGroupRegularExpresion:
				_, err = decodeCGRegex(r.Value[:i])
			}
			if err == nil {
				t.Fatalf("%s cut to %d bytes decoded without error", name, i)
			}
		}
	}
}
