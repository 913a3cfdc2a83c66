package coordinator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/protocol"
)

// Record is one key/value record for __consumer_offsets. The key is never nil (the topic is
// compacted); a nil value is a tombstone.
type Record struct {
	Key, Value []byte
}

// Record schema versions, as Kafka 3.9 writes them.
const (
	offsetKeyVersion        = 1 // OffsetCommitKey v0/v1 are identical; Kafka writes 1
	offsetValueVersion      = 3 // with leader epoch
	offsetValueExpireVerson = 1 // when an expire timestamp is set (OffsetCommit v2-v4 retention)
	groupKeyVersion         = 2
	groupValueVersion       = 3 // with group instance ids
)

// topicPartition names a partition of a user topic.
type topicPartition struct {
	topic     string
	partition int32
}

// offsetEntry is one committed offset.
type offsetEntry struct {
	offset      int64
	leaderEpoch int32 // -1 when unknown
	metadata    string
	commitTs    int64
	expireTs    int64 // -1 unless an old client set a retention time
	// order is where the commit stands in the partition's log (its record's offset when
	// loaded, a counter above every loaded offset for later appends): a transactional
	// commit completed by its marker replaces only an older one (Kafka's olderThan).
	order int64
}

func offsetKey(group string, tp topicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: tp.topic, Partition: tp.partition}
	return k.AppendTo(nil)
}

func offsetRecord(group string, tp topicPartition, e offsetEntry) Record {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if e.expireTs >= 0 {
		v.Version = offsetValueExpireVerson
		v.ExpireTimestamp = e.expireTs
	}
	v.Offset = e.offset
	v.LeaderEpoch = e.leaderEpoch
	v.Metadata = e.metadata
	v.CommitTimestamp = e.commitTs
	return Record{Key: offsetKey(group, tp), Value: v.AppendTo(nil)}
}

func offsetTombstone(group string, tp topicPartition) Record {
	return Record{Key: offsetKey(group, tp)}
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

func groupTombstone(group string) Record { return Record{Key: groupKey(group)} }

// groupRecord is the GroupMetadataValue of g with the given assignments (member id -> bytes).
func groupRecord(g *group, assignment map[string][]byte) Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTs
	for _, id := range g.order {
		m := g.members[id]
		mv := kmsg.NewGroupMetadataValueMember()
		mv.MemberID = m.id
		if m.instanceID != "" {
			iid := m.instanceID
			mv.InstanceID = &iid
		}
		mv.ClientID = m.clientID
		mv.ClientHost = m.clientHost
		mv.RebalanceTimeoutMillis = m.rebalanceTimeoutMs
		mv.SessionTimeoutMillis = m.sessionTimeoutMs
		mv.Subscription = nonNil(m.metadataFor(g.protocol))
		mv.Assignment = nonNil(assignment[m.id])
		v.Members = append(v.Members, mv)
	}
	return Record{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// BuildBatch encodes records as one uncompressed magic-2 record batch with base offset 0,
// timestamps now (ms), no producer id, and a correct length and CRC-32C, ready for the
// partition's append path.
func BuildBatch(records []Record, now int64) []byte {
	return buildBatch(records, now, -1, -1, -1, 0)
}

// BuildTxnBatch is BuildBatch for a transactional batch of a producer, as Kafka writes a
// TxnOffsetCommit: producer id and epoch, base sequence 0, the transactional attribute.
func BuildTxnBatch(records []Record, now, producerID int64, producerEpoch int16) []byte {
	return buildBatch(records, now, producerID, producerEpoch, 0, 0x10)
}

func buildBatch(records []Record, now, producerID int64, producerEpoch int16, baseSequence int32, attributes int16) []byte {
	var raw []byte
	var body []byte
	for i, r := range records {
		body = body[:0]
		body = append(body, 0)             // attributes
		body = kbin.AppendVarlong(body, 0) // timestamp delta
		body = kbin.AppendVarint(body, int32(i))
		body = kbin.AppendVarintBytes(body, r.Key)
		body = kbin.AppendVarintBytes(body, r.Value)
		body = kbin.AppendVarint(body, 0) // headers
		raw = kbin.AppendVarint(raw, int32(len(body)))
		raw = append(raw, body...)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attributes,
		LastOffsetDelta:      int32(len(records) - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           producerID,
		ProducerEpoch:        producerEpoch,
		FirstSequence:        baseSequence,
		NumRecords:           int32(len(records)),
		Records:              raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// errShortBatch means the data ended inside a batch; the reader asks for more from there.
var errShortBatch = errors.New("partial batch")

// ForEachBatchRecord walks whole batches in data, calling fn for every record of every
// non-control batch, and returns the offset after the last whole batch (or -1 if none).
func ForEachBatchRecord(data []byte, fn func(key, value []byte) error) (int64, error) {
	return forEachRecord(data, func(r logRecord) error {
		if r.control {
			return nil
		}
		return fn(r.key, r.value)
	})
}

// logRecord is one record read back from the log, with what its batch says of it.
type logRecord struct {
	offset     int64
	producerID int64
	txn        bool // in a transactional batch
	control    bool // a transaction marker: commit tells which
	commit     bool
	key, value []byte
}

// forEachRecord walks whole batches in data, calling fn for every record (a control
// batch's marker included), and returns the offset after the last whole batch (or -1).
func forEachRecord(data []byte, fn func(r logRecord) error) (int64, error) {
	next := int64(-1)
	for len(data) > 0 {
		h, err := protocol.ParseBatchHeader(data)
		if err != nil {
			if next >= 0 {
				return next, nil
			}
			return -1, errShortBatch
		}
		size := h.Size()
		if size < protocol.BatchHeaderSize {
			return next, fmt.Errorf("batch at offset %d: length %d is too small", h.BaseOffset, h.Length)
		}
		if size > len(data) {
			if next >= 0 {
				return next, nil
			}
			return -1, errShortBatch
		}
		batch := data[:size]
		data = data[size:]
		next = h.BaseOffset + int64(h.LastOffsetDelta) + 1
		var ferr error
		err = protocol.ForEachRecord(batch, 0, func(rv protocol.RecordView) bool {
			r := logRecord{offset: h.BaseOffset + int64(rv.OffsetDelta), producerID: h.ProducerID,
				txn: h.Attributes&0x10 != 0, control: h.Control(), key: rv.Key, value: rv.Value}
			if r.control {
				var k kmsg.ControlRecordKey
				if k.ReadFrom(rv.Key) != nil || k.Type > kmsg.ControlRecordKeyTypeCommit {
					return true // not a transaction marker
				}
				r.commit = k.Type == kmsg.ControlRecordKeyTypeCommit
			}
			ferr = fn(r)
			return ferr == nil
		})
		if err != nil {
			return next, err
		}
		if ferr != nil {
			return next, ferr
		}
	}
	return next, nil
}

// snapshot is the state of one __consumer_offsets partition rebuilt from its records: the
// last value for every key, tombstones applied; transactional offset commits wait in
// pendingTxn (by producer id) for their marker, which applies or drops them.
type snapshot struct {
	offsets    map[string]map[topicPartition]offsetEntry
	groups     map[string]*kmsg.GroupMetadataValue
	pendingTxn map[int64]map[string]map[topicPartition]offsetEntry
	maxOffset  int64       // of the records read, -1 when none
	cgs        *cgSnapshot // KIP-848 groups (cgroup.go)
}

func newSnapshot() *snapshot {
	return &snapshot{offsets: map[string]map[topicPartition]offsetEntry{}, groups: map[string]*kmsg.GroupMetadataValue{},
		pendingTxn: map[int64]map[string]map[topicPartition]offsetEntry{}, maxOffset: -1, cgs: newCGSnapshot()}
}

// applyRecord applies one record read back from the log (Kafka's loadGroupsAndOffsets).
func (s *snapshot) applyRecord(r logRecord) error {
	s.maxOffset = max(s.maxOffset, r.offset)
	if r.control {
		pending := s.pendingTxn[r.producerID]
		delete(s.pendingTxn, r.producerID)
		if !r.commit {
			return nil
		}
		for group, offs := range pending {
			for tp, e := range offs {
				if cur, ok := s.offsets[group][tp]; ok && cur.order > e.order {
					continue // a later commit of the partition stays
				}
				s.setOffset(group, tp, e)
			}
		}
		return nil
	}
	if r.txn && r.producerID >= 0 && len(r.key) >= 2 && binary.BigEndian.Uint16(r.key) <= 1 && r.value != nil {
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("offset commit key: %w", err)
		}
		e, err := readOffsetValue(k, r.value)
		if err != nil {
			return err
		}
		e.order = r.offset
		byGroup := s.pendingTxn[r.producerID]
		if byGroup == nil {
			byGroup = map[string]map[topicPartition]offsetEntry{}
			s.pendingTxn[r.producerID] = byGroup
		}
		if byGroup[k.Group] == nil {
			byGroup[k.Group] = map[topicPartition]offsetEntry{}
		}
		byGroup[k.Group][topicPartition{k.Topic, k.Partition}] = e
		return nil
	}
	return s.apply(r.offset, r.key, r.value)
}

func (s *snapshot) setOffset(group string, tp topicPartition, e offsetEntry) {
	m := s.offsets[group]
	if m == nil {
		m = map[topicPartition]offsetEntry{}
		s.offsets[group] = m
	}
	m[tp] = e
}

func readOffsetValue(k kmsg.OffsetCommitKey, value []byte) (offsetEntry, error) {
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return offsetEntry{}, fmt.Errorf("offset commit value for %s %s-%d: %w", k.Group, k.Topic, k.Partition, err)
	}
	e := offsetEntry{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTs: v.CommitTimestamp, expireTs: -1}
	if v.Version >= 3 {
		e.leaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		e.expireTs = v.ExpireTimestamp
	}
	return e, nil
}

// apply applies one record at offset. Keys of unknown versions are an error, as in Kafka.
func (s *snapshot) apply(offset int64, key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("record key of %d bytes", len(key))
	}
	version := int16(binary.BigEndian.Uint16(key))
	s.cgs.seq++
	if isCGRecordType(version) {
		return s.cgs.apply(key, value)
	}
	switch version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("offset commit key: %w", err)
		}
		tp := topicPartition{k.Topic, k.Partition}
		if value == nil {
			if m := s.offsets[k.Group]; m != nil {
				delete(m, tp)
				if len(m) == 0 {
					delete(s.offsets, k.Group)
				}
			}
			return nil
		}
		e, err := readOffsetValue(k, value)
		if err != nil {
			return err
		}
		e.order = offset
		s.setOffset(k.Group, tp, e)
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("group metadata key: %w", err)
		}
		s.cgs.classicSeq[k.Group] = s.cgs.seq
		if value == nil {
			delete(s.groups, k.Group)
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("group metadata value for %s: %w", k.Group, err)
		}
		s.groups[k.Group] = v
	default:
		return fmt.Errorf("unknown record key version %d", version)
	}
	return nil
}
