package coordinator

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/log"
	"kbroker/protocol"
)

func txnCommit(req uint64, group string, pid int64, member string, gen int32, offsets ...CommitOffset) op {
	return func(t *testing.T, h *harness) {
		h.step(&TxnCommitOffsets{Req: req, Group: group, ProducerID: pid, ProducerEpoch: 0, MemberID: member, Generation: gen, Offsets: offsets})
	}
}

func fetchStable(req uint64, group string, topics []TopicPartitions) op {
	return func(t *testing.T, h *harness) {
		h.step(&FetchOffsets{Req: req, Group: group, Topics: topics, RequireStable: true})
	}
}

func txnDone(pid int64, commit bool) op {
	return func(t *testing.T, h *harness) { h.step(TxnCompleted{ProducerID: pid, Partition: 0, Commit: commit}) }
}

func unstableOffset(topic string, p int32) FetchedOffset {
	return FetchedOffset{Topic: topic, Partition: p, Offset: -1, LeaderEpoch: -1, Err: kerr.UnstableOffsetCommit.Code}
}

// reload replays every append so far as the batches a new coordinator reads, with the
// markers given (producer id -> commit) written after them.
func reloadWithMarkers(markers map[int64]bool) op {
	return func(t *testing.T, h *harness) {
		t.Helper()
		var batches [][]byte
		for _, a := range h.records {
			if a.Txn != nil {
				batches = append(batches, BuildTxnBatch(a.Records, h.now, a.Txn.ProducerID, a.Txn.ProducerEpoch))
			} else {
				batches = append(batches, BuildBatch(a.Records, h.now))
			}
		}
		for pid, commit := range markers {
			batches = append(batches, markerBatchForTest(pid, commit))
		}
		offset := int64(0)
		for _, b := range batches { // assign offsets as the log would
			protocol.SetBaseOffset(b, offset)
			hdr, _ := protocol.ParseBatchHeader(b)
			offset += int64(hdr.LastOffsetDelta) + 1
		}
		ev, err := LoadPartition(0, batches)
		if err != nil {
			t.Fatal(err)
		}
		h.step(PartitionUnloaded{Partition: 0})
		h.step(PartitionLoading{Partition: 0})
		h.step(ev)
	}
}

func TestTxnOffsetCommit(t *testing.T) {
	tps := []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1}}}
	runScripts(t, []scriptCase{
		{name: "offsets wait for the commit marker", ops: []op{
			txnCommit(1, "g", 7, "", -1, off("t", 0, 10)), wantErr(1, 0),
			fetch(2, "g", tps), wantOffsets(2, fo("t", 0, -1), fo("t", 1, -1)),
			fetchStable(3, "g", tps), wantOffsets(3, unstableOffset("t", 0), fo("t", 1, -1)),
			txnDone(7, true),
			fetchStable(4, "g", tps), wantOffsets(4, fo("t", 0, 10), fo("t", 1, -1)),
		}},
		{name: "an abort drops them", ops: []op{
			simpleCommit(1, "g", off("t", 0, 5)),
			txnCommit(2, "g", 7, "", -1, off("t", 0, 10)),
			txnDone(7, false),
			fetchStable(3, "g", tps), wantOffsets(3, fo("t", 0, 5), fo("t", 1, -1)),
		}},
		{name: "a later plain commit wins over an earlier transactional one", ops: []op{
			txnCommit(1, "g", 7, "", -1, off("t", 0, 10)),
			simpleCommit(2, "g", off("t", 0, 20)),
			txnDone(7, true),
			fetch(3, "g", tps), wantOffsets(3, fo("t", 0, 20), fo("t", 1, -1)),
		}},
		{name: "a member of the group commits for its generation (KIP-447)", ops: script(stable3(), []op{
			txnCommit(7, "g", 9, "b-1", 1, off("t", 1, 3)), wantErr(7, 0),
			txnCommit(8, "g", 9, "b-1", 0, off("t", 1, 4)), wantErr(8, kerr.IllegalGeneration.Code),
			txnCommit(9, "g", 9, "zz", 1, off("t", 1, 4)), wantErr(9, kerr.UnknownMemberID.Code),
			txnDone(9, true),
			fetch(10, "g", tps), wantOffsets(10, fo("t", 0, -1), fo("t", 1, 3)),
		})},
		{name: "an unknown group with a member id", ops: []op{
			txnCommit(1, "nope", 7, "m-1", 3, off("t", 0, 1)), wantErr(1, kerr.UnknownMemberID.Code),
			wantListed(nil),
		}},
		{name: "empty group id", ops: []op{
			txnCommit(1, "", 7, "", -1, off("t", 0, 1)), wantErr(1, kerr.InvalidGroupID.Code),
		}},
		{name: "a failed write leaves nothing pending", ops: []op{
			failAppends(kerr.NotEnoughReplicas.Code),
			txnCommit(1, "g", 7, "", -1, off("t", 0, 1)), wantErr(1, kerr.NotEnoughReplicas.Code),
			failAppends(0),
			fetchStable(2, "g", tps), wantOffsets(2, fo("t", 0, -1), fo("t", 1, -1)),
		}},
		{name: "pending and completed offsets survive a reload", ops: []op{
			txnCommit(1, "g", 7, "", -1, off("t", 0, 10)),
			txnCommit(2, "g", 8, "", -1, off("t", 1, 11)),
			reloadWithMarkers(map[int64]bool{7: true}), // producer 8's marker has not been written
			fetchStable(3, "g", tps), wantOffsets(3, fo("t", 0, 10), unstableOffset("t", 1)),
			txnDone(8, true),
			fetchStable(4, "g", tps), wantOffsets(4, fo("t", 0, 10), fo("t", 1, 11)),
		}},
		{name: "an aborted transaction's offsets are gone after a reload", ops: []op{
			simpleCommit(1, "g", off("t", 0, 5)),
			txnCommit(2, "g", 7, "", -1, off("t", 0, 10)),
			reloadWithMarkers(map[int64]bool{7: false}),
			fetchStable(3, "g", tps), wantOffsets(3, fo("t", 0, 5), fo("t", 1, -1)),
		}},
	})
}

func markerBatchForTest(pid int64, commit bool) []byte {
	return log.MarkerBatch(log.Marker{ProducerID: pid, ProducerEpoch: 0, CoordinatorEpoch: 1, Commit: commit})
}
