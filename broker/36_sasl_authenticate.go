package broker

// SaslAuthenticate (key 36), versions 0-2 (v1 adds the session lifetime of KIP-368, v2 is
// flexible).
//
// The tokens of an authentication are handled by the connection's authenticator before the
// dispatch table (conn_auth.go). What reaches this handler is a SaslAuthenticate on a
// listener without SASL, or on a connection that already authenticated and did not start a
// re-authentication: ILLEGAL_SASL_STATE, as Kafka answers.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleSaslAuthenticate(rc *requestContext, req *kmsg.SASLAuthenticateRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	msg := "SaslAuthenticate request received after successful authentication"
	if rc.conn.sasl == nil {
		msg = "SaslAuthenticate on a listener without SASL"
	}
	resp.ErrorMessage = &msg
	return resp, nil
}
