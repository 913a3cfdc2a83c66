package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"kbroker/broker/config"
	"kbroker/log"
	"kbroker/protocol"
)

// partition is one partition this broker hosts. Appends are serialised by the log; the high
// watermark and leader epoch are read atomically; fetches that wait for data register a
// channel that appends signal.
type partition struct {
	tp      log.TopicPartition
	topicID [16]byte
	root    string // the log dir holding this partition's directory
	log     *log.Log

	cfg         atomic.Pointer[config.TopicConfig]
	hw          atomic.Int64
	leaderEpoch atomic.Int32

	mu      sync.Mutex
	waiters map[chan struct{}]struct{}
}

func newPartition(tp log.TopicPartition, topicID [16]byte, root string, l *log.Log, tc config.TopicConfig, epoch int32) *partition {
	p := &partition{tp: tp, topicID: topicID, root: root, log: l, waiters: make(map[chan struct{}]struct{})}
	p.cfg.Store(&tc)
	p.leaderEpoch.Store(epoch)
	// A single-replica leader has every record it wrote: the high watermark is its log end.
	p.hw.Store(l.LogEndOffset())
	return p
}

// appendResult is the outcome of one client batch append.
type appendResult struct {
	log.AppendResult
	logAppendTime int64 // -1 unless the topic uses LogAppendTime
}

// appendClientBatch stamps LogAppendTime when the topic asks for it, appends the validated
// batch under the current leader epoch, advances the high watermark and wakes waiting fetches.
func (p *partition) appendClientBatch(batch []byte, now time.Time) (appendResult, error) {
	res := appendResult{logAppendTime: -1}
	if p.cfg.Load().MessageTimestampType == "LogAppendTime" {
		res.logAppendTime = now.UnixMilli()
		protocol.SetLogAppendTime(batch, res.logAppendTime)
	}
	ar, err := p.log.Append(batch, p.leaderEpoch.Load())
	if err != nil {
		return res, err
	}
	res.AppendResult = ar
	if !ar.Duplicate {
		p.advanceHW(p.log.LogEndOffset())
		p.wake()
	}
	return res, nil
}

// advanceHW moves the high watermark forward to v, never back.
func (p *partition) advanceHW(v int64) {
	for {
		cur := p.hw.Load()
		if v <= cur || p.hw.CompareAndSwap(cur, v) {
			return
		}
	}
}

// highWatermark is the offset below which records are committed and visible to consumers.
func (p *partition) highWatermark() int64 { return p.hw.Load() }

// lastStableOffset equals the high watermark while transactions are not supported.
func (p *partition) lastStableOffset() int64 { return p.hw.Load() }

func (p *partition) addWaiter(ch chan struct{}) {
	p.mu.Lock()
	p.waiters[ch] = struct{}{}
	p.mu.Unlock()
}

func (p *partition) removeWaiter(ch chan struct{}) {
	p.mu.Lock()
	delete(p.waiters, ch)
	p.mu.Unlock()
}

// wake signals every waiting fetch without blocking.
func (p *partition) wake() {
	p.mu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}
