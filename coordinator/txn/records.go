package txn

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/coordinator"
)

// Record versions, as Kafka 3.9 writes them (transaction.version 0): TransactionLogKey v0
// and TransactionLogValue v0, without tagged fields.
const (
	keyVersion   = 0
	valueVersion = 0
)

func txnKey(txnID string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: txnID}
	return k.AppendTo(nil)
}

// transitRecord is the record of a prepared state change. Partitions are grouped by topic
// in topic order; an Empty transaction has none (a null array, as Kafka writes it).
func transitRecord(txnID string, tr transit) coordinator.Record {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID = tr.producerID
	v.ProducerEpoch = tr.epoch
	v.TimeoutMillis = tr.timeoutMs
	v.State = tr.state
	v.LastUpdateTimestamp = tr.updateTs
	v.StartTimestamp = tr.startTs
	if tr.state != Empty {
		v.Topics = []kmsg.TxnMetadataValueTopic{}
		for _, tp := range tr.partitions {
			if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != tp.Topic {
				t := kmsg.NewTxnMetadataValueTopic()
				t.Topic = tp.Topic
				v.Topics = append(v.Topics, t)
			}
			last := &v.Topics[len(v.Topics)-1]
			last.Partitions = append(last.Partitions, tp.Partition)
		}
	}
	return coordinator.Record{Key: txnKey(txnID), Value: v.AppendTo(nil)}
}

// tombstone removes an expired transactional id.
func tombstone(txnID string) coordinator.Record { return coordinator.Record{Key: txnKey(txnID)} }

// loader rebuilds a partition's transactional ids from its records: the last value of each
// key, tombstones applied (Kafka's loadTransactionMetadata). Keys of an unknown version
// are skipped with a warning, as Kafka does; a value of an unknown version is an error.
type loader struct {
	partition int32
	txns      map[string]*txnMeta
	unknown   int
}

func newLoader(partition int32) *loader {
	return &loader{partition: partition, txns: map[string]*txnMeta{}}
}

func (l *loader) apply(key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("record key of %d bytes", len(key))
	}
	if version := int16(binary.BigEndian.Uint16(key)); version != keyVersion {
		l.unknown++
		return nil
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("transaction log key: %w", err)
	}
	if value == nil {
		delete(l.txns, k.TransactionalID)
		return nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("transaction log value for %q: %w", k.TransactionalID, err)
	}
	if v.Version > 1 {
		return fmt.Errorf("transaction log value for %q: unknown version %d", k.TransactionalID, v.Version)
	}
	if v.State > PrepareEpochFence || v.State < 0 {
		return fmt.Errorf("transaction log value for %q: unknown state %d", k.TransactionalID, v.State)
	}
	t := &txnMeta{
		id: k.TransactionalID, partition: l.partition,
		producerID: v.ProducerID, lastProducerID: noProducerID,
		epoch: v.ProducerEpoch, lastEpoch: noProducerEpoch,
		timeoutMs: v.TimeoutMillis, state: v.State,
		partitions: map[TopicPartition]struct{}{},
		startTs:    v.StartTimestamp, updateTs: v.LastUpdateTimestamp,
	}
	if t.state != Empty {
		for _, topic := range v.Topics {
			for _, p := range topic.Partitions {
				t.partitions[TopicPartition{topic.Topic, p}] = struct{}{}
			}
		}
	}
	l.txns[k.TransactionalID] = t
	return nil
}

// Load returns the event that installs a partition's transactional ids, rebuilt from its
// batches (whole magic-2 batches as stored, from the log start). It runs outside the
// machine (in the loader goroutine).
func Load(partition, epoch int32, batches [][]byte) (PartitionLoaded, error) {
	l := newLoader(partition)
	for _, b := range batches {
		if _, err := coordinator.ForEachBatchRecord(b, l.apply); err != nil {
			return PartitionLoaded{}, err
		}
	}
	return PartitionLoaded{Partition: partition, Epoch: epoch, snap: l.txns}, nil
}
