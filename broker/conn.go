package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth"
	"kbroker/protocol"
)

// conn is one client connection: a reader goroutine that handles requests in order and a
// writer goroutine that writes their responses in the same order.
type conn struct {
	s        *Server
	nc       net.Conn
	id       string
	listener string // the listener's name
	logger   zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	out    chan outFrame
	once   sync.Once

	lsn *listenerState
	raw net.Conn // the TCP connection under nc (nc is a *tls.Conn on TLS listeners)
	// principal is who the client is (User:ANONYMOUS, User:<SASL user>, User:<certificate
	// subject>); set by the reader goroutine before requests are handled, read by handlers.
	principal string
	sasl      *saslConn // SASL listeners only (conn_auth.go)
	ip        string    // the client's IP address (ACL hosts, max.connections.per.ip)

	// mutedUntil: the reader reads nothing before then (a client over its quota, KIP-219).
	// Touched by the reader goroutine only.
	mutedUntil time.Time
}

func newConn(s *Server, nc net.Conn, ls *listenerState) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	id := strconv.FormatUint(s.connSeq.Add(1), 10)
	c := &conn{
		s:         s,
		nc:        nc,
		raw:       nc,
		id:        id,
		logger:    s.logger.With().Str("conn", id).Str("remote", nc.RemoteAddr().String()).Logger(),
		ctx:       ctx,
		cancel:    cancel,
		out:       make(chan outFrame, 32),
		lsn:       ls,
		principal: auth.Anonymous,
		ip:        remoteIP(nc),
	}
	if ls.sasl != nil {
		c.sasl = &saslConn{deadline: time.Now().Add(s.authTimeout())}
	}
	return c
}

func (c *conn) close() {
	c.once.Do(func() {
		c.cancel()
		c.raw.Close()
	})
}

// serve runs the reader in this goroutine and the writer in another, and returns when both end.
func (c *conn) serve() {
	defer c.s.removeConn(c)
	defer c.close()
	c.logger.Debug().Str("listener", c.lsn.name).Msg("connection opened")
	if c.lsn.tls != nil && !c.startTLS() {
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	close(c.out)
	<-writerDone
	c.logger.Debug().Msg("connection closed")
}

func (c *conn) readLoop() {
	br := &lazyReader{nc: c.nc, pool: &c.s.buffers}
	defer br.idle()
	idle := time.Duration(c.s.cfg.ConnectionsMaxIdleMs) * time.Millisecond
	var spare []byte // the previous Produce frame's buffer, reused for the next frame
	for {
		switch {
		case c.authenticating():
			c.nc.SetReadDeadline(c.sasl.deadline)
		case idle > 0:
			c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		if !c.waitUnmuted() {
			return
		}
		frame, err := protocol.ReadFrame(br, c.frameLimit(), spare)
		spare = nil
		if err != nil {
			c.logReadError(err)
			return
		}
		if err := c.handleFrame(frame); err != nil {
			if !errors.Is(err, errCloseQuietly) {
				c.logger.Warn().Err(err).Msg("closing connection")
			}
			return
		}
		if reusableFrame(frame) {
			spare = frame[:0]
		}
		br.idle()
	}
}

// waitUnmuted waits until a throttled connection may be read again; false when it closes.
func (c *conn) waitUnmuted() bool {
	d := time.Until(c.mutedUntil)
	c.mutedUntil = time.Time{}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// maxSpareFrame bounds the frame buffer a connection keeps between requests.
const maxSpareFrame = 8 << 20

// reusableFrame reports whether a handled request's frame buffer may be read into again. Only
// Produce frames qualify: decoded requests alias their frame, and a Produce handler keeps
// nothing of it once it has returned (the batches are copied into the log), whereas other
// handlers may (group member metadata, for one). Reusing the buffer saves growing a fresh
// one for every produce request, which a CPU profile under load showed as a third of the
// broker's time.
func reusableFrame(frame []byte) bool {
	return len(frame) >= 2 && binary.BigEndian.Uint16(frame) == 0 && cap(frame) <= maxSpareFrame
}

var errCloseQuietly = errors.New("connection closing")

func (c *conn) logReadError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.ctx.Err() != nil:
		c.logger.Debug().Err(err).Msg("connection ended")
	case errors.As(err, &ne) && ne.Timeout() && c.authenticating():
		c.logger.Info().Msg("closing connection: SASL authentication did not complete in time")
	case errors.As(err, &ne) && ne.Timeout():
		c.logger.Info().Msg("closing idle connection (connections.max.idle.ms)")
	case errors.Is(err, protocol.ErrFrameTooLarge), errors.Is(err, protocol.ErrNegativeSize):
		c.logger.Warn().Err(err).Int32("socket_request_max_bytes", c.s.cfg.SocketRequestMaxBytes).Msg("closing connection: bad frame size")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.logger.Warn().Err(err).Msg("closing connection: truncated frame")
	default:
		c.logger.Warn().Err(err).Msg("closing connection: read failed")
	}
}

// handleFrame decodes and handles one request. A returned error closes the connection.
func (c *conn) handleFrame(frame []byte) (err error) {
	if c.sasl != nil {
		if handled, err := c.saslFrame(frame); handled || err != nil {
			return err
		}
	}
	hdr, body, err := protocol.ParseRequestHeader(frame)
	if err != nil {
		return fmt.Errorf("bad request header (api %d v%d, correlation %d): %w", hdr.APIKey, hdr.APIVersion, hdr.CorrelationID, err)
	}
	a, ok := c.s.apis[hdr.APIKey]
	if !ok {
		return fmt.Errorf("unsupported api key %d (v%d)", hdr.APIKey, hdr.APIVersion)
	}
	if hdr.APIVersion < a.min || hdr.APIVersion > a.max {
		if hdr.APIKey == apiKeyApiVersions && hdr.APIVersion > a.max {
			// Answered in v0 format so that any client can read the supported range (KIP-511).
			c.send(outFrame{head: protocol.AppendAPIVersionsUnsupported(nil, hdr.CorrelationID, c.s.protocolRanges())})
			return nil
		}
		return fmt.Errorf("unsupported version %d of %s (supported %d-%d)", hdr.APIVersion, kmsg.NameForKey(hdr.APIKey), a.min, a.max)
	}
	req := kmsg.RequestForKey(hdr.APIKey)
	req.SetVersion(hdr.APIVersion)
	if err := req.ReadFrom(body); err != nil {
		return fmt.Errorf("undecodable %s v%d request (correlation %d): %w", kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, hdr.CorrelationID, err)
	}
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error().Str("api", kmsg.NameForKey(hdr.APIKey)).Int16("version", hdr.APIVersion).
				Int32("corr", hdr.CorrelationID).Interface("panic", r).Bytes("stack", debug.Stack()).
				Msg("bug: request handler panicked; closing connection")
			err = errCloseQuietly
		}
	}()
	rc := &requestContext{conn: c, hdr: hdr}
	defer rc.regions.release() // regions of a response that was not handed to the writer
	if c.logger.Debug().Enabled() {
		c.logger.Debug().Str("api", kmsg.NameForKey(hdr.APIKey)).Int16("version", hdr.APIVersion).Int32("corr", hdr.CorrelationID).Str("client_id", clientID(hdr)).Msg("request")
	}
	started := time.Now()
	resp, err := a.handle(rc, req)
	if err != nil {
		return err
	}
	c.s.meterRequest(rc, started)
	if m := c.s.metrics; m != nil {
		total := time.Since(started)
		m.Request(hdr.APIKey, hdr.APIVersion, total.Seconds(), (total - rc.waited).Seconds(), rc.waited.Seconds(), resp)
		if rc.throttle > 0 {
			m.Throttled(hdr.APIKey, rc.throttle.Seconds())
		}
	}
	if rc.throttle > 0 {
		c.mutedUntil = time.Now().Add(rc.throttle)
		if tr, ok := resp.(kmsg.SetThrottleResponse); ok {
			tr.SetThrottle(int32(min(rc.throttle.Milliseconds(), math.MaxInt32)))
		}
	}
	if resp == nil {
		return nil // acks=0 produce: no response at all
	}
	resp.SetVersion(hdr.APIVersion)
	encoded := protocol.AppendResponse(make([]byte, 0, responseSizeHint(resp)), hdr.CorrelationID, resp)
	if len(rc.regions.marks) == 0 {
		c.send(outFrame{head: encoded, key: hdr.APIKey})
		return nil
	}
	head, regions, err := spliceRegions(encoded, resp.IsFlexible(), &rc.regions)
	if err == nil {
		c.send(outFrame{head: head, regions: regions, key: hdr.APIKey})
		return nil
	}
	// Never expected: answer with the record bytes copied into the response instead.
	c.logger.Error().Err(err).Int32("corr", hdr.CorrelationID).Msg("bug: cannot splice record sets into a fetch response; copying them")
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return fmt.Errorf("%s response with record regions", kmsg.NameForKey(hdr.APIKey))
	}
	if err := materializeRegions(fr, &rc.regions); err != nil {
		return fmt.Errorf("fetch response: %w", err)
	}
	c.send(outFrame{head: protocol.AppendResponse(make([]byte, 0, responseSizeHint(resp)), hdr.CorrelationID, resp)})
	return nil
}

// responseSizeHint estimates the encoded size of a response whose bulk is record data (Fetch),
// so that encoding it copies the records once instead of growing the buffer step by step.
// Other responses start small and grow.
func responseSizeHint(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 256
	}
	n := 64
	for i := range fr.Topics {
		t := &fr.Topics[i]
		n += 16 + len(t.Topic)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += 96 + len(p.RecordBatches) + 24*len(p.AbortedTransactions)
		}
	}
	return n
}

// requestContext is what a handler knows about the request it handles.
type requestContext struct {
	conn    *conn
	hdr     protocol.RequestHeader
	regions fetchRegions // record sets of a Fetch response still in segment files
	// fetchDenied holds the topics of a Fetch the principal may not read (nil: authorizer off).
	fetchDenied map[string]struct{}
	// throttle is how long the client must wait for its quotas (client_quotas.go); waited
	// is the time the handler spent waiting (long polls, acks=all), not working.
	throttle time.Duration
	waited   time.Duration
	// replica marks a request from another broker (follower fetch), which client quotas
	// do not meter.
	replica bool
}

func (rc *requestContext) ctx() context.Context { return rc.conn.ctx }
func (rc *requestContext) server() *Server      { return rc.conn.s }
func (rc *requestContext) version() int16       { return rc.hdr.APIVersion }

func clientID(h protocol.RequestHeader) string {
	if h.ClientID == nil {
		return ""
	}
	return *h.ClientID
}
