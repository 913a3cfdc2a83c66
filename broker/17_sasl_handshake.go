package broker

// SaslHandshake (key 17), versions 0-1.
//
// On a SASL listener the handshake is handled by the connection's authenticator before the
// dispatch table (conn_auth.go): v0 starts the raw-token flow, v1 the SaslAuthenticate
// flow, and on an authenticated connection v1 starts a re-authentication (KIP-368). What
// reaches this handler is a handshake on a listener without SASL: Kafka answers
// ILLEGAL_SASL_STATE and lists no mechanism.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleSaslHandshake(rc *requestContext, req *kmsg.SASLHandshakeRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.SupportedMechanisms = rc.conn.enabledMechanisms()
	return resp, nil
}
