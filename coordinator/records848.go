package coordinator

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The records of KIP-848 consumer groups in __consumer_offsets, byte for byte as Kafka 4.0
// writes them (group-coordinator/src/main/resources/common/message/ConsumerGroup*.json).
// kmsg does not have them, so they are encoded here with kbin. A key is the record type as
// an int16 followed by the key fields in the non-flexible encoding; a value is the value
// version (always 0) as an int16 followed by the fields in the flexible encoding (compact
// strings and arrays, tagged fields at the end of every struct).

// Record types (Kafka's CoordinatorRecordType); they take the place of the key version.
const (
	recConsumerGroupMetadata         int16 = 3
	recConsumerGroupPartitionMeta    int16 = 4
	recConsumerGroupMemberMetadata   int16 = 5
	recConsumerGroupTargetMetadata   int16 = 6
	recConsumerGroupTargetMember     int16 = 7
	recConsumerGroupCurrentAssign    int16 = 8
	recConsumerGroupRegularExpresion int16 = 16
)

// assignment is a set of partitions per topic id, each list sorted and free of duplicates.
type assignment map[[16]byte][]int32

// cgTopicMetadata is one topic of a group's subscription metadata.
type cgTopicMetadata struct {
	id         [16]byte
	name       string
	partitions int32
}

// classicMemberMetadata is what a member using the classic protocol (JoinGroup) inside a
// consumer group brings: its session timeout and its protocols.
type classicMemberMetadata struct {
	sessionTimeoutMs int32
	protocols        []Protocol
}

// cgMemberMetadataValue is ConsumerGroupMemberMetadataValue v0.
type cgMemberMetadataValue struct {
	instanceID           *string
	rackID               *string
	clientID             string
	clientHost           string
	subscribedTopicNames []string
	subscribedTopicRegex *string
	rebalanceTimeoutMs   int32
	serverAssignor       *string
	classic              *classicMemberMetadata // tag 0
}

// cgCurrentAssignmentValue is ConsumerGroupCurrentMemberAssignmentValue v0.
type cgCurrentAssignmentValue struct {
	memberEpoch         int32
	previousMemberEpoch int32
	state               int8
	assigned            assignment
	pendingRevocation   assignment
}

// cgRegexValue is ConsumerGroupRegularExpressionValue v0: the topics a regular expression
// resolved to, against which version of the topics, and when.
type cgRegexValue struct {
	topics    []string
	version   int64
	timestamp int64
}

// --- keys ---

func cgKey(typ int16, group string, second ...string) []byte {
	b := kbin.AppendInt16(nil, typ)
	b = kbin.AppendString(b, group)
	for _, s := range second {
		b = kbin.AppendString(b, s)
	}
	return b
}

// cgRecordKey is a decoded consumer-group record key.
type cgRecordKey struct {
	typ    int16
	group  string
	member string // member id (types 5, 7, 8) or regular expression (16)
}

func decodeCGKey(key []byte) (cgRecordKey, error) {
	r := kbin.Reader{Src: key}
	k := cgRecordKey{typ: r.Int16(), group: r.String()}
	switch k.typ {
	case recConsumerGroupMemberMetadata, recConsumerGroupTargetMember, recConsumerGroupCurrentAssign, recConsumerGroupRegularExpresion:
		k.member = r.String()
	}
	if err := r.Complete(); err != nil {
		return k, fmt.Errorf("record key of type %d: %w", k.typ, err)
	}
	return k, nil
}

// --- values ---

func valueHeader() []byte { return kbin.AppendInt16(nil, 0) }

func appendNoTags(b []byte) []byte { return kbin.AppendUvarint(b, 0) }

func appendTopicPartitions(b []byte, a assignment) []byte {
	ids := a.topicIDs()
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = kbin.AppendUuid(b, id)
		ps := a[id]
		b = kbin.AppendCompactArrayLen(b, len(ps))
		for _, p := range ps {
			b = kbin.AppendInt32(b, p)
		}
		b = appendNoTags(b)
	}
	return b
}

func cgEpochRecord(group string, epoch int32) Record {
	v := kbin.AppendInt32(valueHeader(), epoch)
	return Record{Key: cgKey(recConsumerGroupMetadata, group), Value: appendNoTags(v)}
}

func cgPartitionMetadataRecord(group string, topics map[string]cgTopicMetadata) Record {
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	sort.Strings(names)
	v := kbin.AppendCompactArrayLen(valueHeader(), len(names))
	for _, n := range names {
		t := topics[n]
		v = kbin.AppendUuid(v, t.id)
		v = kbin.AppendCompactString(v, t.name)
		v = kbin.AppendInt32(v, t.partitions)
		v = kbin.AppendCompactArrayLen(v, 0) // PartitionMetadata (racks): not used from 4.0
		v = appendNoTags(v)
	}
	return Record{Key: cgKey(recConsumerGroupPartitionMeta, group), Value: appendNoTags(v)}
}

func cgMemberMetadataRecord(group, member string, m *cgMemberMetadataValue) Record {
	v := kbin.AppendCompactNullableString(valueHeader(), m.instanceID)
	v = kbin.AppendCompactNullableString(v, m.rackID)
	v = kbin.AppendCompactString(v, m.clientID)
	v = kbin.AppendCompactString(v, m.clientHost)
	names := append([]string(nil), m.subscribedTopicNames...)
	sort.Strings(names)
	v = kbin.AppendCompactArrayLen(v, len(names))
	for _, n := range names {
		v = kbin.AppendCompactString(v, n)
	}
	v = kbin.AppendCompactNullableString(v, m.subscribedTopicRegex)
	v = kbin.AppendInt32(v, m.rebalanceTimeoutMs)
	v = kbin.AppendCompactNullableString(v, m.serverAssignor)
	if m.classic == nil {
		v = appendNoTags(v)
	} else {
		c := kbin.AppendInt8(nil, 1) // a nullable struct: present
		c = kbin.AppendInt32(c, m.classic.sessionTimeoutMs)
		c = kbin.AppendCompactArrayLen(c, len(m.classic.protocols))
		for _, p := range m.classic.protocols {
			c = kbin.AppendCompactString(c, p.Name)
			c = kbin.AppendCompactBytes(c, p.Metadata)
			c = appendNoTags(c)
		}
		c = appendNoTags(c)
		v = kbin.AppendUvarint(v, 1) // one tagged field
		v = kbin.AppendUvarint(v, 0) // tag 0: ClassicMemberMetadata
		v = kbin.AppendUvarint(v, uint32(len(c)))
		v = append(v, c...)
	}
	return Record{Key: cgKey(recConsumerGroupMemberMetadata, group, member), Value: v}
}

func cgTargetMetadataRecord(group string, epoch int32) Record {
	v := kbin.AppendInt32(valueHeader(), epoch)
	return Record{Key: cgKey(recConsumerGroupTargetMetadata, group), Value: appendNoTags(v)}
}

func cgTargetMemberRecord(group, member string, a assignment) Record {
	v := appendTopicPartitions(valueHeader(), a)
	return Record{Key: cgKey(recConsumerGroupTargetMember, group, member), Value: appendNoTags(v)}
}

func cgCurrentAssignmentRecord(group, member string, c *cgCurrentAssignmentValue) Record {
	v := kbin.AppendInt32(valueHeader(), c.memberEpoch)
	v = kbin.AppendInt32(v, c.previousMemberEpoch)
	v = kbin.AppendInt8(v, c.state)
	v = appendTopicPartitions(v, c.assigned)
	v = appendTopicPartitions(v, c.pendingRevocation)
	return Record{Key: cgKey(recConsumerGroupCurrentAssign, group, member), Value: appendNoTags(v)}
}

func cgRegexRecord(group, regex string, r *cgRegexValue) Record {
	v := kbin.AppendCompactArrayLen(valueHeader(), len(r.topics))
	for _, t := range r.topics {
		v = kbin.AppendCompactString(v, t)
	}
	v = kbin.AppendInt64(v, r.version)
	v = kbin.AppendInt64(v, r.timestamp)
	return Record{Key: cgKey(recConsumerGroupRegularExpresion, group, regex), Value: appendNoTags(v)}
}

// Tombstones.
func cgEpochTombstone(group string) Record {
	return Record{Key: cgKey(recConsumerGroupMetadata, group)}
}
func cgPartitionMetadataTombstone(group string) Record {
	return Record{Key: cgKey(recConsumerGroupPartitionMeta, group)}
}
func cgMemberMetadataTombstone(group, member string) Record {
	return Record{Key: cgKey(recConsumerGroupMemberMetadata, group, member)}
}
func cgTargetMetadataTombstone(group string) Record {
	return Record{Key: cgKey(recConsumerGroupTargetMetadata, group)}
}
func cgTargetMemberTombstone(group, member string) Record {
	return Record{Key: cgKey(recConsumerGroupTargetMember, group, member)}
}
func cgCurrentAssignmentTombstone(group, member string) Record {
	return Record{Key: cgKey(recConsumerGroupCurrentAssign, group, member)}
}
func cgRegexTombstone(group, regex string) Record {
	return Record{Key: cgKey(recConsumerGroupRegularExpresion, group, regex)}
}

// --- decoding values ---

// valueReader reads a flexible v0 value; fields it does not know (tags, newer versions'
// trailing fields) are skipped as Kafka's generated readers do.
func valueReader(value []byte) (kbin.Reader, error) {
	if len(value) < 2 {
		return kbin.Reader{}, fmt.Errorf("value of %d bytes", len(value))
	}
	if v := int16(binary.BigEndian.Uint16(value)); v != 0 {
		return kbin.Reader{}, fmt.Errorf("unknown value version %d", v)
	}
	return kbin.Reader{Src: value[2:]}, nil
}

// skipTags skips a tagged-field section, calling fn for each field (fn may be nil).
func skipTags(r *kbin.Reader, fn func(tag uint32, data []byte)) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Ok(); i++ {
		tag := r.Uvarint()
		size := r.Uvarint()
		data := r.Span(int(size))
		if fn != nil && r.Ok() {
			fn(tag, data)
		}
	}
}

func readTopicPartitions(r *kbin.Reader) assignment {
	n := r.CompactArrayLen()
	if n <= 0 {
		return assignment{}
	}
	a := make(assignment, n)
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		np := r.CompactArrayLen()
		ps := make([]int32, 0, max(np, 0))
		for j := int32(0); j < np && r.Ok(); j++ {
			ps = append(ps, r.Int32())
		}
		skipTags(r, nil)
		a[id] = normalizePartitions(append(a[id], ps...))
	}
	return a
}

func decodeCGEpoch(value []byte) (int32, error) {
	r, err := valueReader(value)
	if err != nil {
		return 0, err
	}
	e := r.Int32()
	skipTags(&r, nil)
	return e, r.Complete()
}

func decodeCGPartitionMetadata(value []byte) (map[string]cgTopicMetadata, error) {
	r, err := valueReader(value)
	if err != nil {
		return nil, err
	}
	out := map[string]cgTopicMetadata{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		t := cgTopicMetadata{id: r.Uuid(), name: r.CompactString(), partitions: r.Int32()}
		np := r.CompactArrayLen()
		for j := int32(0); j < np && r.Ok(); j++ {
			r.Int32()
			nr := r.CompactArrayLen()
			for k := int32(0); k < nr && r.Ok(); k++ {
				r.CompactString()
			}
			skipTags(&r, nil)
		}
		skipTags(&r, nil)
		out[t.name] = t
	}
	skipTags(&r, nil)
	return out, r.Complete()
}

func decodeCGMemberMetadata(value []byte) (*cgMemberMetadataValue, error) {
	r, err := valueReader(value)
	if err != nil {
		return nil, err
	}
	m := &cgMemberMetadataValue{
		instanceID: r.CompactNullableString(),
		rackID:     r.CompactNullableString(),
		clientID:   r.CompactString(),
		clientHost: r.CompactString(),
	}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		m.subscribedTopicNames = append(m.subscribedTopicNames, r.CompactString())
	}
	m.subscribedTopicRegex = r.CompactNullableString()
	m.rebalanceTimeoutMs = r.Int32()
	m.serverAssignor = r.CompactNullableString()
	var cerr error
	skipTags(&r, func(tag uint32, data []byte) {
		if tag != 0 {
			return
		}
		c := kbin.Reader{Src: data}
		if c.Int8() < 0 {
			return // a null ClassicMemberMetadata
		}
		cm := &classicMemberMetadata{sessionTimeoutMs: c.Int32()}
		np := c.CompactArrayLen()
		for i := int32(0); i < np && c.Ok(); i++ {
			p := Protocol{Name: c.CompactString(), Metadata: c.CompactBytes()}
			skipTags(&c, nil)
			cm.protocols = append(cm.protocols, p)
		}
		skipTags(&c, nil)
		if cerr = c.Complete(); cerr == nil {
			m.classic = cm
		}
	})
	if err := r.Complete(); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("classic member metadata: %w", cerr)
	}
	return m, nil
}

func decodeCGTargetMember(value []byte) (assignment, error) {
	r, err := valueReader(value)
	if err != nil {
		return nil, err
	}
	a := readTopicPartitions(&r)
	skipTags(&r, nil)
	return a, r.Complete()
}

func decodeCGCurrentAssignment(value []byte) (*cgCurrentAssignmentValue, error) {
	r, err := valueReader(value)
	if err != nil {
		return nil, err
	}
	c := &cgCurrentAssignmentValue{memberEpoch: r.Int32(), previousMemberEpoch: r.Int32(), state: r.Int8()}
	c.assigned = readTopicPartitions(&r)
	c.pendingRevocation = readTopicPartitions(&r)
	skipTags(&r, nil)
	return c, r.Complete()
}

func decodeCGRegex(value []byte) (*cgRegexValue, error) {
	r, err := valueReader(value)
	if err != nil {
		return nil, err
	}
	v := &cgRegexValue{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		v.topics = append(v.topics, r.CompactString())
	}
	v.version = r.Int64()
	v.timestamp = r.Int64()
	skipTags(&r, nil)
	return v, r.Complete()
}

// --- assignment helpers ---

// normalizePartitions sorts and removes duplicates and negatives, in place.
func normalizePartitions(ps []int32) []int32 {
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	out := ps[:0]
	for i, p := range ps {
		if p < 0 || i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// topicIDs returns the topic ids in byte order.
func (a assignment) topicIDs() [][16]byte {
	ids := make([][16]byte, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	return ids
}

func lessID(a, b [16]byte) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func (a assignment) has(id [16]byte, p int32) bool {
	ps := a[id]
	i := sort.Search(len(ps), func(i int) bool { return ps[i] >= p })
	return i < len(ps) && ps[i] == p
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) equal(b assignment) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		qs, ok := b[id]
		if !ok || len(ps) != len(qs) {
			return false
		}
		for i := range ps {
			if ps[i] != qs[i] {
				return false
			}
		}
	}
	return true
}

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for id, ps := range a {
		out[id] = append([]int32(nil), ps...)
	}
	return out
}

// add puts a partition in the assignment (keeping the list sorted).
func (a assignment) add(id [16]byte, p int32) {
	ps := a[id]
	i := sort.Search(len(ps), func(i int) bool { return ps[i] >= p })
	if i < len(ps) && ps[i] == p {
		return
	}
	out := make([]int32, 0, len(ps)+1) // never write into a list another assignment may share
	out = append(append(append(out, ps[:i]...), p), ps[i:]...)
	a[id] = out
}

// remove takes a partition out of the assignment, dropping the topic when empty.
func (a assignment) remove(id [16]byte, p int32) {
	ps := a[id]
	i := sort.Search(len(ps), func(i int) bool { return ps[i] >= p })
	if i == len(ps) || ps[i] != p {
		return
	}
	ps = append(ps[:i:i], ps[i+1:]...)
	if len(ps) == 0 {
		delete(a, id)
	} else {
		a[id] = ps
	}
}
