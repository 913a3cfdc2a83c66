package protocol

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client is one TCP connection to a Kafka broker for broker-to-broker traffic
// (controller requests, follower fetches). It is safe for concurrent use:
// requests are written in the order Request is called, pipelined, and their
// responses matched by correlation id, so a slow response does not hold up
// the writing of later requests. One reader goroutine per Client decodes the
// responses; it ends when the connection breaks or Close is called.
//
// Every request must expect a response (a Produce with acks=0 does not get
// one and is not supported). Once the connection breaks (I/O error, a frame
// that cannot be matched or decoded, a cancelled wait) every pending and
// later Request fails with the error that broke it: dial a new Client.
type Client struct {
	conn     net.Conn
	clientID string

	wmu sync.Mutex // serialises frame writes
	buf []byte     // write buffer; guarded by wmu

	mu      sync.Mutex
	corr    int32
	pending map[int32]*clientCall
	err     error // sticky: set once the connection is broken

	readerDone chan struct{}
}

// clientCall is one request waiting for its response.
type clientCall struct {
	req  kmsg.Request
	done chan clientResult // buffered: the reader never blocks on it
}

type clientResult struct {
	resp kmsg.Response
	err  error
}

// ErrClientClosed is returned by requests on a Client that was closed.
var ErrClientClosed = errors.New("protocol: client closed")

// maxResponseSize bounds one response frame (fetch responses carry record
// batches, so the bound is generous; the buffer grows with the bytes read).
const maxResponseSize = 1 << 30

// Dial connects to addr (host:port) and starts the reader goroutine.
// clientID goes into every request header.
func Dial(ctx context.Context, addr string, clientID string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient(conn, clientID), nil
}

// NewClient wraps an established connection (Dial uses it; tests may pass one
// end of a net.Pipe).
func NewClient(conn net.Conn, clientID string) *Client {
	c := &Client{
		conn:       conn,
		clientID:   clientID,
		pending:    map[int32]*clientCall{},
		readerDone: make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// Close closes the connection; pending requests fail with ErrClientClosed.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	<-c.readerDone
	return nil
}

// Err returns the error that broke the connection, or nil while it is usable.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail breaks the connection with err (the first error wins) and fails every
// pending call.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = map[int32]*clientCall{}
	c.mu.Unlock()
	_ = c.conn.Close()
	for _, call := range pending {
		call.done <- clientResult{err: err}
	}
}

// Request sends req (its version set by the caller with SetVersion) and waits
// for its response. The request header has the version RequestHeaderVersion
// gives; the response is decoded with the header version ResponseHeaderVersion
// gives. When ctx ends first, the wait ends with ctx's error and the
// connection is broken, since the response stream can no longer be trusted
// to be read in step.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if req == nil {
		return nil, errors.New("protocol: nil request")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	call := &clientCall{req: req, done: make(chan clientResult, 1)}

	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, err
	}
	c.corr++
	corr := c.corr
	c.pending[corr] = call
	c.mu.Unlock()
	c.buf = appendRequest(c.buf[:0], req, corr, c.clientID)
	werr := c.write(ctx, c.buf)
	c.wmu.Unlock()
	if werr != nil {
		c.fail(fmt.Errorf("protocol: writing request: %w", werr))
	}

	select {
	case r := <-call.done:
		return r.resp, r.err
	case <-ctx.Done():
		c.fail(fmt.Errorf("protocol: request abandoned: %w", ctx.Err()))
		return nil, ctx.Err()
	}
}

// write writes one frame, giving up when ctx ends.
func (c *Client) write(ctx context.Context, frame []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetWriteDeadline(dl)
	} else {
		_ = c.conn.SetWriteDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := c.conn.Write(frame)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// appendRequest appends the whole frame: size, header, body.
func appendRequest(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	key, version := req.Key(), req.GetVersion()
	dst = kbin.AppendInt16(dst, key)
	dst = kbin.AppendInt16(dst, version)
	dst = kbin.AppendInt32(dst, corr)
	hv := RequestHeaderVersion(key, version)
	if hv >= 1 {
		dst = kbin.AppendString(dst, clientID)
	}
	if hv >= 2 {
		dst = append(dst, 0) // no tagged fields
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// readLoop reads response frames and hands each to its waiting call.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		frame, err := ReadFrame(r, maxResponseSize, nil)
		if err != nil {
			c.fail(fmt.Errorf("protocol: reading response: %w", err))
			return
		}
		if len(frame) < 4 {
			c.fail(errors.New("protocol: response frame shorter than its header"))
			return
		}
		corr := int32(binary.BigEndian.Uint32(frame))
		c.mu.Lock()
		call, ok := c.pending[corr]
		delete(c.pending, corr)
		c.mu.Unlock()
		if !ok {
			c.fail(fmt.Errorf("protocol: response with unknown correlation id %d", corr))
			return
		}
		resp, err := decodeResponse(call.req, frame[4:])
		if err != nil {
			call.done <- clientResult{err: err}
			c.fail(err)
			return
		}
		call.done <- clientResult{resp: resp}
	}
}

// decodeResponse decodes the body after the correlation id.
func decodeResponse(req kmsg.Request, body []byte) (kmsg.Response, error) {
	key, version := req.Key(), req.GetVersion()
	if ResponseHeaderVersion(key, version) >= 1 {
		rest, err := skipTaggedFields(body)
		if err != nil {
			return nil, fmt.Errorf("protocol: response header: %w", err)
		}
		body = rest
	}
	resp := req.ResponseKind()
	resp.SetVersion(version)
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("protocol: decoding %T v%d: %w", resp, version, err)
	}
	return resp, nil
}
