package driver

import (
	"context"
	"errors"
	"testing"
	"time"
)

// event is a test event: a request (req set by Call) or a timer firing.
type event struct {
	req   uint64
	timer string
	seq   uint64
	echo  int
}

func startLoop(t *testing.T, step func(l *Loop[*event, string], e *event)) (*Loop[*event, string], context.CancelFunc, chan struct{}) {
	t.Helper()
	l := New(func(k string, seq uint64) *event { return &event{timer: k, seq: seq} })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { l.Run(ctx, func(e *event) { step(l, e) }); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	return l, cancel, stopped
}

func TestLoopCallAnswers(t *testing.T) {
	l, _, _ := startLoop(t, func(l *Loop[*event, string], e *event) { l.Answer(e.req, e.echo*2) })
	for i := 1; i <= 100; i++ {
		e := &event{echo: i}
		r, err := l.Call(context.Background(), e, func(id uint64) { e.req = id })
		if err != nil || r != i*2 {
			t.Fatalf("call %d: %v, %v", i, r, err)
		}
	}
}

func TestLoopTimers(t *testing.T) {
	fired := make(chan *event, 10)
	l, _, _ := startLoop(t, func(l *Loop[*event, string], e *event) {
		switch {
		case e.timer != "":
			l.Forget(e.timer)
			fired <- e
		case e.echo == 1: // arm a and b, then re-arm a with a new seq and cancel b
			l.Arm("a", 1, time.Hour)
			l.Arm("b", 1, 10*time.Millisecond)
			l.Arm("a", 2, 10*time.Millisecond)
			l.Cancel("b")
			l.Answer(e.req, len(l.timers))
		}
	})
	e := &event{echo: 1}
	if r, err := l.Call(context.Background(), e, func(id uint64) { e.req = id }); err != nil || r != 1 {
		t.Fatalf("armed timers: %v, %v", r, err)
	}
	select {
	case f := <-fired:
		if f.timer != "a" || f.seq != 2 {
			t.Fatalf("fired %+v, want a/2", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timer a did not fire")
	}
	select {
	case f := <-fired:
		t.Fatalf("%+v fired after it was cancelled or replaced", f)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestLoopCallEndsWithContextAndStop(t *testing.T) {
	l, cancel, stopped := startLoop(t, func(*Loop[*event, string], *event) {}) // never answers
	ctx, cancelCall := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelCall()
	e := &event{}
	if _, err := l.Call(ctx, e, func(id uint64) { e.req = id }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered call: %v", err)
	}
	worker := make(chan struct{})
	if !l.Go(func() { <-worker }) {
		t.Fatal("Go refused before the loop stopped")
	}
	cancel()
	select {
	case <-stopped:
		t.Fatal("Run returned before its worker ended")
	case <-time.After(50 * time.Millisecond):
	}
	close(worker)
	<-stopped
	if _, err := l.Call(context.Background(), e, func(id uint64) { e.req = id }); err != ErrClosed {
		t.Fatalf("call after stop: %v", err)
	}
	if l.Post(&event{}) || l.Go(func() {}) {
		t.Fatal("Post or Go accepted after stop")
	}
}
