package driver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by calls made after the loop stopped.
var ErrClosed = errors.New("coordinator is shut down")

// Loop is a mailbox drained by one goroutine (Run), which hands each event to a step
// function. E is the machine's event type and K its timer key. Post, Call and Go are safe
// for concurrent use; Answer, Arm, Cancel and Forget belong to the Run goroutine (the step
// function) alone.
type Loop[E any, K comparable] struct {
	fired func(key K, seq uint64) E // the event a timer posts when it goes off

	in      chan envelope[E]
	done    chan struct{}
	reqSeq  atomic.Uint64
	mu      sync.Mutex
	closed  bool           // Run has ended: Go starts nothing more
	workers sync.WaitGroup // goroutines started by Go; Run waits for them

	// Owned by the Run goroutine.
	waiters map[uint64]chan any
	timers  map[K]*time.Timer
}

type envelope[E any] struct {
	ev     E
	id     uint64
	reply  chan any
	forget uint64 // a caller gave up on request forget: drop its reply channel
}

// New returns a loop; fired builds the event a timer armed with Arm(key, seq, ...) posts.
func New[E any, K comparable](fired func(key K, seq uint64) E) *Loop[E, K] {
	return &Loop[E, K]{
		fired:   fired,
		in:      make(chan envelope[E], 256),
		done:    make(chan struct{}),
		waiters: map[uint64]chan any{},
		timers:  map[K]*time.Timer{},
	}
}

// Run feeds the posted events to step, one at a time, until ctx ends; then it stops the
// timers, makes Post and Call fail with ErrClosed, and waits for the goroutines started by
// Go.
func (l *Loop[E, K]) Run(ctx context.Context, step func(E)) {
	defer func() {
		for _, t := range l.timers {
			t.Stop()
		}
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.done)
		l.workers.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-l.in:
			if e.forget != 0 {
				delete(l.waiters, e.forget)
				continue
			}
			if e.reply != nil {
				l.waiters[e.id] = e.reply
			}
			step(e.ev)
		}
	}
}

// Post queues an event; false when the loop has stopped.
func (l *Loop[E, K]) Post(ev E) bool {
	if l.stopped() {
		return false
	}
	select {
	case l.in <- envelope[E]{ev: ev}:
		return true
	case <-l.done:
		return false
	}
}

// Call queues a request event, after setReq has given it a request id, and waits for the
// Answer to that id, until ctx ends or the loop stops.
func (l *Loop[E, K]) Call(ctx context.Context, ev E, setReq func(uint64)) (any, error) {
	if l.stopped() {
		return nil, ErrClosed
	}
	id := l.reqSeq.Add(1)
	setReq(id)
	ch := make(chan any, 1)
	select {
	case l.in <- envelope[E]{ev: ev, id: id, reply: ch}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, ErrClosed
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		select {
		case l.in <- envelope[E]{forget: id}:
		case <-l.done:
		}
		return nil, ctx.Err()
	case <-l.done:
		return nil, ErrClosed
	}
}

// stopped tells whether Run has ended (a send to the buffered mailbox could still win
// the select against done).
func (l *Loop[E, K]) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Answer hands result to the caller of request req, if it still waits.
func (l *Loop[E, K]) Answer(req uint64, result any) {
	if ch, ok := l.waiters[req]; ok {
		delete(l.waiters, req)
		ch <- result
	}
}

// Arm posts fired(key, seq) after d, replacing the timer armed with key, if any.
func (l *Loop[E, K]) Arm(key K, seq uint64, d time.Duration) {
	if t := l.timers[key]; t != nil {
		t.Stop()
	}
	l.timers[key] = time.AfterFunc(d, func() { l.Post(l.fired(key, seq)) })
}

// Cancel stops the timer armed with key, if any.
func (l *Loop[E, K]) Cancel(key K) {
	if t := l.timers[key]; t != nil {
		t.Stop()
		delete(l.timers, key)
	}
}

// Forget drops the timer armed with key once it has fired and was not armed again.
func (l *Loop[E, K]) Forget(key K) { delete(l.timers, key) }

// Go runs fn in a goroutine that Run waits for before it returns; false (and fn not run)
// when the loop has stopped.
func (l *Loop[E, K]) Go(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.workers.Add(1)
	go func() {
		defer l.workers.Done()
		fn()
	}()
	return true
}

// Spawn runs fn in a goroutine (see Go) and posts the event it returns.
func (l *Loop[E, K]) Spawn(fn func() E) {
	l.Go(func() { l.Post(fn()) })
}
