package broker

import (
	"context"
	"sync"

	"kbroker/zkmeta"
)

// producerIDBlockSize is how many producer ids a broker takes from the store at once (Kafka's).
const producerIDBlockSize = 1000

// producerIDs hands out producer ids from blocks reserved in /latest_producer_id_block, so ids
// stay unique across restarts and, later, across brokers.
type producerIDs struct {
	meta     *zkmeta.Metadata
	brokerID int32

	mu        sync.Mutex
	next, end int64 // next id to hand out; end is the last id of the block (inclusive)
}

func newProducerIDs(meta *zkmeta.Metadata, brokerID int32) *producerIDs {
	return &producerIDs{meta: meta, brokerID: brokerID, next: 0, end: -1}
}

// NextID hands out the next producer id (txn.ProducerIDs).
func (p *producerIDs) NextID(ctx context.Context) (int64, error) { return p.nextID(ctx) }

func (p *producerIDs) nextID(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next > p.end {
		start, end, err := p.meta.NextProducerIDBlock(ctx, p.brokerID, producerIDBlockSize)
		if err != nil {
			return 0, err
		}
		p.next, p.end = start, end
	}
	id := p.next
	p.next++
	return id, nil
}
