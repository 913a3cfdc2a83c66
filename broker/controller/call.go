package controller

import (
	"context"
	"errors"
)

var (
	errNotActive = errors.New("controller: not the active controller")
)

// call runs fn on the event goroutine of the running term and returns its
// result. It fails with errNotActive when there is no term or the term ends
// first, and with ctx's error when ctx ends first.
func call[R any](ctx context.Context, c *Controller, fn func(t *term) (R, error)) (R, error) {
	var zero R
	t := c.activeTerm()
	if t == nil {
		return zero, errNotActive
	}
	type result struct {
		r   R
		err error
	}
	reply := make(chan result, 1)
	ev := evCall{fn: func(t *term) error {
		r, err := fn(t)
		reply <- result{r, err}
		return err
	}}
	select {
	case t.events <- ev:
	case <-t.done:
		return zero, errNotActive
	case <-t.ctx.Done():
		return zero, errNotActive
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case res := <-reply:
		return res.r, res.err
	case <-t.done:
		select {
		case res := <-reply:
			return res.r, res.err
		default:
		}
		return zero, errNotActive
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
