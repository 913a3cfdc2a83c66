package controller

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/zkmeta"
)

// brokerQueue is the send queue of one live broker (one registration: a
// broker that registers again with a new epoch gets a new queue). Enqueue
// never blocks; one goroutine sends the requests in order, retrying a failed
// send with backoff until it succeeds or the queue is stopped.
type brokerQueue struct {
	info    zkmeta.BrokerInfo
	sender  Sender
	timeout time.Duration
	logger  zerolog.Logger

	mu      sync.Mutex
	items   []kmsg.Request
	sending bool          // a request is popped and not yet answered
	signal  chan struct{} // capacity 1: "items is not empty"

	cancel context.CancelFunc
	done   chan struct{}
}

func startQueue(parent context.Context, info zkmeta.BrokerInfo, sender Sender, timeout time.Duration, logger zerolog.Logger) *brokerQueue {
	ctx, cancel := context.WithCancel(parent)
	q := &brokerQueue{
		info:    info,
		sender:  sender,
		timeout: timeout,
		logger:  logger.With().Int32("broker", info.ID).Logger(),
		signal:  make(chan struct{}, 1),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go q.run(ctx)
	return q
}

// enqueue appends requests to be sent in order.
func (q *brokerQueue) enqueue(reqs ...kmsg.Request) {
	if len(reqs) == 0 {
		return
	}
	q.mu.Lock()
	q.items = append(q.items, reqs...)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// stop ends the goroutine (an in-flight send is cancelled) and waits for it;
// unsent requests are dropped.
func (q *brokerQueue) stop() {
	q.cancel()
	<-q.done
}

func (q *brokerQueue) pop() (kmsg.Request, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	req := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	q.sending = true
	return req, true
}

// idle reports whether every enqueued request has been answered.
func (q *brokerQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0 && !q.sending
}

func (q *brokerQueue) run(ctx context.Context) {
	defer close(q.done)
	for {
		req, ok := q.pop()
		if !ok {
			select {
			case <-q.signal:
				continue
			case <-ctx.Done():
				return
			}
		}
		ok = q.send(ctx, req)
		q.mu.Lock()
		q.sending = false
		q.mu.Unlock()
		if !ok {
			return
		}
	}
}

// send sends req until it gets a response; false when ctx ended first.
func (q *brokerQueue) send(ctx context.Context, req kmsg.Request) bool {
	backoff := sendRetryBackoff
	for {
		rctx, cancel := context.WithTimeout(ctx, q.timeout)
		resp, err := q.sender.Send(rctx, q.info, req)
		cancel()
		if err == nil {
			q.checkResponse(req, resp)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		q.logger.Warn().Err(err).Int16("api", req.Key()).Dur("retry_in", backoff).Msg("controller request to broker failed")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false
		}
		backoff = min(2*backoff, maxSendRetryBackoff)
	}
}

// checkResponse logs a request-level error (a stale controller or broker
// epoch, ...); such requests are not retried, as in Kafka.
func (q *brokerQueue) checkResponse(req kmsg.Request, resp kmsg.Response) {
	var code int16
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		code = r.ErrorCode
	case *kmsg.UpdateMetadataResponse:
		code = r.ErrorCode
	case *kmsg.StopReplicaResponse:
		code = r.ErrorCode
	}
	if code != 0 {
		q.logger.Warn().Int16("api", req.Key()).Str("error", kerr.ErrorForCode(code).Error()).Msg("broker refused controller request")
	}
}
