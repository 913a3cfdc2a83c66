package broker

// Connection authentication, as Kafka's SslTransportLayer and SaslServerAuthenticator do it:
//
//   - SSL and SASL_SSL listeners run the TLS handshake first; the principal of an SSL
//     connection comes from the client certificate's subject (ssl.principal.mapping.rules),
//     User:ANONYMOUS without one.
//   - SASL listeners accept, before authentication, ApiVersions and SaslHandshake only; any
//     other request closes the connection without an answer. SaslHandshake v1+ is followed
//     by SaslAuthenticate requests; v0 by raw length-prefixed tokens (old clients). A request
//     between SaslHandshake and SaslAuthenticate gets its own error response with
//     ILLEGAL_SASL_STATE, then the connection closes. A failed authentication answers
//     SASL_AUTHENTICATION_FAILED with Kafka's message and closes.
//   - Until authenticated, frames are limited to sasl.server.max.receive.size, and the TLS
//     handshake plus the SASL exchange must end within authTimeout (a stalled client is
//     closed).
//   - connections.max.reauth.ms (KIP-368): the session lifetime is told to the client in
//     SaslAuthenticate; a request after it ends, other than a re-authentication
//     (SaslHandshake then SaslAuthenticate, same mechanism and principal), closes the
//     connection.
//
// No token, password or key is ever logged; failures log the mechanism and Kafka's message.

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth"
	"kbroker/protocol"
)

const (
	apiKeySaslHandshake    = 17
	apiKeySaslAuthenticate = 36
)

// authTimeout bounds the TLS handshake and the SASL exchange of a new connection. Kafka has
// no key of its own for it (its idle reaper ends a stalled handshake after
// connections.max.idle.ms); the broker uses the shorter of that and request.timeout.ms.
func (s *Server) authTimeout() time.Duration {
	d := time.Duration(s.cfg.RequestTimeoutMs) * time.Millisecond
	if idle := time.Duration(s.cfg.ConnectionsMaxIdleMs) * time.Millisecond; idle > 0 && idle < d {
		d = idle
	}
	if d <= 0 {
		d = 30 * time.Second
	}
	return d
}

// startTLS runs the server side of the TLS handshake and takes the principal from the
// client certificate. False means the connection is to be closed.
func (c *conn) startTLS() bool {
	c.nc.SetDeadline(time.Now().Add(c.s.authTimeout()))
	var first [1]byte
	if _, err := io.ReadFull(c.nc, first[:]); err != nil {
		ev := c.logger.Info()
		if errors.Is(err, io.EOF) {
			ev = c.logger.Debug() // a port probe
		}
		ev.Err(err).Str("listener", c.lsn.name).Msg("closing connection: no TLS handshake")
		return false
	}
	if first[0] != tlsRecordHandshake {
		// Plaintext on a TLS port: Kafka's SSLEngine answers with a fatal alert and closes.
		c.nc.Write(tlsAlertInternalError)
		c.logger.Info().Str("listener", c.lsn.name).Msg("closing connection: not a TLS handshake (plaintext client on a TLS listener?)")
		return false
	}
	tc := tls.Server(&prefixConn{Conn: c.nc, first: first[:]}, c.lsn.tls)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.logger.Info().Err(err).Str("listener", c.lsn.name).Msg("closing connection: TLS handshake failed")
		return false
	}
	tc.SetDeadline(time.Time{})
	c.nc = tc
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		p, err := c.lsn.mapper.CertificatePrincipal(certs[0])
		if err != nil {
			c.logger.Info().Err(err).Msg("closing connection: no principal for the client certificate")
			return false
		}
		c.principal = p
	}
	return true
}

// tlsRecordHandshake is the content type of a TLS handshake record, the first byte a TLS
// client sends.
const tlsRecordHandshake = 0x16

// tlsAlertInternalError is the 7-byte TLS record a Kafka broker answers non-TLS bytes with:
// alert, TLS 1.2, length 2, fatal, internal_error.
var tlsAlertInternalError = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50}

// prefixConn gives back the bytes read to recognise a TLS client before the rest.
type prefixConn struct {
	net.Conn
	first []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

type saslPhase uint8

const (
	saslHandshake    saslPhase = iota // ApiVersions and SaslHandshake accepted
	saslAuthenticate                  // SaslAuthenticate requests carry the tokens (handshake v1+)
	saslRawToken                      // raw length-prefixed tokens (handshake v0)
	saslDone                          // authenticated
)

// saslConn is a SASL connection's authentication state; only the reader goroutine uses it.
type saslConn struct {
	phase    saslPhase
	mech     string
	v0       bool // handshake v0: no re-authentication
	ex       auth.Exchange
	reauth   bool      // a re-authentication is under way
	expires  time.Time // end of the session (connections.max.reauth.ms); zero = none
	deadline time.Time // authentication must end by then
}

// authenticating reports whether frames are still limited to sasl.server.max.receive.size.
func (c *conn) authenticating() bool { return c.sasl != nil && c.sasl.phase != saslDone }

// saslFrame handles a frame of a SASL connection that is not (yet) an ordinary request:
// handled is false when the frame goes on to the dispatch table. A returned error closes
// the connection (after any response already sent).
func (c *conn) saslFrame(frame []byte) (handled bool, err error) {
	sc := c.sasl
	if sc.phase == saslDone {
		if len(frame) < 2 {
			return false, nil
		}
		key := int16(binary.BigEndian.Uint16(frame))
		if key == apiKeySaslHandshake && !sc.v0 {
			return c.saslRequest(frame) // re-authentication (KIP-368)
		}
		if !sc.expires.IsZero() && time.Now().After(sc.expires) {
			c.logger.Info().Str("principal", c.principal).Msg("closing connection: SASL session expired without re-authentication (connections.max.reauth.ms)")
			return true, errCloseQuietly
		}
		return false, nil
	}
	if sc.phase == saslRawToken {
		return true, c.saslStep(frame, nil)
	}
	return c.saslRequest(frame)
}

// saslRequest handles a Kafka request during authentication.
func (c *conn) saslRequest(frame []byte) (bool, error) {
	sc := c.sasl
	hdr, body, err := protocol.ParseRequestHeader(frame)
	if err != nil {
		return true, fmt.Errorf("bad request header during SASL authentication: %w", err)
	}
	switch {
	case hdr.APIKey == apiKeyApiVersions && sc.phase == saslHandshake && !sc.reauth:
		return false, nil
	case hdr.APIKey == apiKeySaslHandshake && (sc.phase == saslHandshake || sc.phase == saslDone):
		req := kmsg.NewPtrSASLHandshakeRequest()
		if err := c.decode(hdr, body, req); err != nil {
			return true, err
		}
		return true, c.saslHandshake(hdr, req)
	case hdr.APIKey == apiKeySaslAuthenticate && sc.phase == saslAuthenticate:
		req := kmsg.NewPtrSASLAuthenticateRequest()
		if err := c.decode(hdr, body, req); err != nil {
			return true, err
		}
		return true, c.saslStep(req.SASLAuthBytes, &hdr)
	case sc.phase == saslAuthenticate:
		c.sendErrorResponse(hdr, kerr.IllegalSaslState.Code)
		c.logger.Info().Str("api", kmsg.NameForKey(hdr.APIKey)).Msg("closing connection: request between SaslHandshake and SaslAuthenticate")
		return true, errCloseQuietly
	default:
		c.logger.Info().Str("api", kmsg.NameForKey(hdr.APIKey)).Msg("closing connection: request before SASL authentication")
		return true, errCloseQuietly
	}
}

// decode checks the version against the table and decodes a request.
func (c *conn) decode(hdr protocol.RequestHeader, body []byte, req kmsg.Request) error {
	a := c.s.apis[hdr.APIKey]
	if hdr.APIVersion < a.min || hdr.APIVersion > a.max {
		return fmt.Errorf("unsupported version %d of %s (supported %d-%d)", hdr.APIVersion, kmsg.NameForKey(hdr.APIKey), a.min, a.max)
	}
	req.SetVersion(hdr.APIVersion)
	if err := req.ReadFrom(body); err != nil {
		return fmt.Errorf("undecodable %s v%d request: %w", kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, err)
	}
	return nil
}

func (c *conn) respond(hdr protocol.RequestHeader, resp kmsg.Response) {
	resp.SetVersion(hdr.APIVersion)
	c.send(outFrame{head: protocol.AppendResponse(nil, hdr.CorrelationID, resp)})
}

func (c *conn) saslHandshake(hdr protocol.RequestHeader, req *kmsg.SASLHandshakeRequest) error {
	sc := c.sasl
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = c.lsn.sasl.Enabled()
	reauth := sc.phase == saslDone
	if reauth && req.Mechanism != sc.mech {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.respond(hdr, resp)
		c.logger.Info().Str("mechanism", req.Mechanism).Str("was", sc.mech).Msg("closing connection: re-authentication with another SASL mechanism")
		return errCloseQuietly
	}
	ex, ok := c.lsn.sasl.Start(req.Mechanism)
	if !ok {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.respond(hdr, resp)
		c.logger.Info().Str("mechanism", req.Mechanism).Strs("enabled", resp.SupportedMechanisms).Msg("closing connection: SASL mechanism not enabled")
		return errCloseQuietly
	}
	c.respond(hdr, resp)
	sc.mech, sc.ex, sc.reauth = req.Mechanism, ex, reauth
	sc.v0 = hdr.APIVersion == 0
	sc.phase = saslAuthenticate
	if sc.v0 {
		sc.phase = saslRawToken
	}
	if reauth {
		sc.deadline = time.Now().Add(c.s.authTimeout())
	}
	return nil
}

// saslStep feeds a token to the exchange and answers it: in a SaslAuthenticate response
// (hdr set) or as a raw token (v0 flow).
func (c *conn) saslStep(token []byte, hdr *protocol.RequestHeader) error {
	sc := c.sasl
	answer, done, err := sc.ex.Step(token)
	var resp *kmsg.SASLAuthenticateResponse
	if hdr != nil {
		resp = kmsg.NewPtrSASLAuthenticateResponse()
		resp.SASLAuthBytes = answer
	}
	if err == nil && done {
		principal := "User:" + sc.ex.User()
		if sc.reauth && principal != c.principal {
			err = &auth.AuthError{Message: "Cannot change principals during re-authentication from " + c.principal + ": " + principal}
		} else {
			c.principal = principal
		}
	}
	if err != nil {
		var ae *auth.AuthError
		msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + sc.mech
		if errors.As(err, &ae) {
			msg = ae.Message
		}
		c.logger.Info().Str("mechanism", sc.mech).Str("reason", msg).Msg("closing connection: SASL authentication failed")
		if resp != nil {
			resp.ErrorCode, resp.ErrorMessage, resp.SASLAuthBytes = kerr.SaslAuthenticationFailed.Code, &msg, nil
			c.respond(*hdr, resp)
		}
		return errCloseQuietly
	}
	if done {
		sc.phase, sc.reauth, sc.deadline = saslDone, false, time.Time{}
		if ms := c.s.cfg.Security.ConnectionsMaxReauthMs; ms > 0 {
			sc.expires = time.Now().Add(time.Duration(ms) * time.Millisecond)
			if resp != nil {
				resp.SessionLifetimeMillis = ms
			}
		}
		c.logger.Debug().Str("mechanism", sc.mech).Str("principal", c.principal).Msg("SASL authentication succeeded")
	}
	if resp != nil {
		c.respond(*hdr, resp)
		return nil
	}
	raw := make([]byte, 4+len(answer))
	binary.BigEndian.PutUint32(raw, uint32(len(answer)))
	copy(raw[4:], answer)
	c.send(outFrame{head: raw})
	return nil
}

// sendErrorResponse answers a request with error code in its top-level error field, as
// Kafka's AbstractRequest.getErrorResponse does; requests whose response has no such field
// get no answer (the connection closes right after).
func (c *conn) sendErrorResponse(hdr protocol.RequestHeader, code int16) {
	req := kmsg.RequestForKey(hdr.APIKey)
	if req == nil {
		return
	}
	req.SetVersion(hdr.APIVersion)
	resp := req.ResponseKind()
	f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode")
	if !f.IsValid() || f.Kind() != reflect.Int16 || !f.CanSet() {
		return
	}
	f.SetInt(int64(code))
	c.respond(hdr, resp)
}

// frameLimit is the largest frame the connection accepts now.
func (c *conn) frameLimit() int32 {
	if c.authenticating() {
		return min(c.s.cfg.SocketRequestMaxBytes, c.s.cfg.Security.SaslServerMaxReceiveSize)
	}
	return c.s.cfg.SocketRequestMaxBytes
}

// enabledMechanisms is the SaslHandshake answer on a listener (none on a non-SASL one).
func (c *conn) enabledMechanisms() []string {
	if c.lsn.sasl == nil {
		return []string{}
	}
	return slices.Clip(c.lsn.sasl.Enabled())
}
