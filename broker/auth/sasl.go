package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"
)

// Mechanism names besides SCRAM.
const (
	Plain = "PLAIN"
)

// AuthError is a failed authentication: Message is what Kafka answers the client in
// SaslAuthenticate's error message (SASL_AUTHENTICATION_FAILED). It never holds a secret.
type AuthError struct{ Message string }

func (e *AuthError) Error() string { return e.Message }

// Exchange is the server side of one SASL authentication on one connection.
type Exchange interface {
	// Step takes the client's next token and returns the server's answer; done is true
	// once the client is authenticated. An error ends the exchange (an *AuthError for a
	// refusal Kafka explains to the client).
	Step(token []byte) (answer []byte, done bool, err error)
	// User is the authenticated user name once done.
	User() string
}

// SASL is the SASL side of one listener: the enabled mechanisms it can serve.
type SASL struct {
	enabled []string // as configured, for UNSUPPORTED_SASL_MECHANISM answers
	plain   map[string][32]byte
	scram   map[string]*scram.Server
}

// NewSASL builds a listener's SASL mechanisms from its settings (sasl.enabled.mechanisms,
// plain.sasl.jaas.config) and the SCRAM credentials. Mechanisms this broker does not
// implement (GSSAPI, OAUTHBEARER) are an error: clients would be offered something that
// cannot work.
func NewSASL(g Getter, creds *Credentials) (*SASL, error) {
	s := &SASL{scram: map[string]*scram.Server{}}
	list, _ := g("sasl.enabled.mechanisms")
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		switch m {
		case Plain:
			jaas, ok := g("plain.sasl.jaas.config")
			if !ok {
				return nil, errors.New("PLAIN is enabled but listener.name.<listener>.plain.sasl.jaas.config is not set")
			}
			j, err := ParseJAAS(jaas)
			if err != nil {
				return nil, err
			}
			s.plain = map[string][32]byte{}
			for k, v := range j.Options {
				if user, ok := strings.CutPrefix(k, "user_"); ok {
					s.plain[user] = sha256.Sum256([]byte(v))
				}
			}
		case ScramSHA256, ScramSHA512:
			mech := m
			lookup := func(user string) (scram.StoredCredentials, error) {
				c, ok := creds.Get(user, mech)
				if !ok {
					return scram.StoredCredentials{}, errUnknownUser
				}
				return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
					StoredKey: c.StoredKey, ServerKey: c.ServerKey}, nil
			}
			hg := scram.SHA256
			if m == ScramSHA512 {
				hg = scram.SHA512
			}
			srv, err := hg.NewServer(lookup)
			if err != nil {
				return nil, err
			}
			s.scram[m] = srv
		default:
			return nil, fmt.Errorf("SASL mechanism %s is not supported (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are)", m)
		}
		s.enabled = append(s.enabled, m)
	}
	if len(s.enabled) == 0 {
		return nil, errors.New("a SASL listener needs sasl.enabled.mechanisms")
	}
	return s, nil
}

var errUnknownUser = errors.New("unknown user")

// Enabled returns the enabled mechanisms.
func (s *SASL) Enabled() []string { return append([]string(nil), s.enabled...) }

// Start begins an exchange with a mechanism; ok is false when it is not enabled.
func (s *SASL) Start(mechanism string) (Exchange, bool) {
	if mechanism == Plain && s.plain != nil {
		return &plainExchange{users: s.plain}, true
	}
	if srv, ok := s.scram[mechanism]; ok {
		return &scramExchange{mech: mechanism, conv: srv.NewConversation()}, true
	}
	return nil, false
}

// plainExchange is SASL/PLAIN (RFC 4616) against the JAAS users, as Kafka's PlainSaslServer.
type plainExchange struct {
	users map[string][32]byte
	user  string
}

// dummyPassword is compared against when the user is unknown, so that an unknown user
// costs what a wrong password does.
var dummyPassword = sha256.Sum256([]byte("no such user"))

func (p *plainExchange) Step(token []byte) ([]byte, bool, error) {
	parts := strings.Split(string(token), "\x00")
	if len(parts) != 3 {
		return nil, false, &AuthError{fmt.Sprintf("Invalid SASL/PLAIN response: expected 3 tokens, got %d", len(parts))}
	}
	authz, user, pass := parts[0], parts[1], parts[2]
	switch {
	case user == "":
		return nil, false, &AuthError{"Authentication failed: username not specified"}
	case pass == "":
		return nil, false, &AuthError{"Authentication failed: password not specified"}
	}
	want, known := p.users[user]
	if !known {
		want = dummyPassword
	}
	got := sha256.Sum256([]byte(pass))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return nil, false, &AuthError{"Authentication failed: Invalid username or password"}
	}
	if authz != "" && authz != user {
		return nil, false, &AuthError{"Authentication failed: Client requested an authorization id that is different from username"}
	}
	p.user = user
	return nil, true, nil
}

func (p *plainExchange) User() string { return p.user }

// scramExchange is SCRAM-SHA-256/512 (RFC 5802, 7677) over xdg-go/scram's server
// conversation, which compares proofs in constant time.
type scramExchange struct {
	mech string
	conv *scram.ServerConversation
}

func (s *scramExchange) Step(token []byte) ([]byte, bool, error) {
	answer, err := s.conv.Step(string(token))
	if err != nil {
		return nil, false, &AuthError{"Authentication failed during authentication due to invalid credentials with SASL mechanism " + s.mech}
	}
	return []byte(answer), s.conv.Valid(), nil
}

func (s *scramExchange) User() string { return s.conv.Username() }

// withNonce makes the SCRAM servers use a fixed nonce generator (tests: RFC vectors).
func (s *SASL) withNonce(f func() string) {
	for _, srv := range s.scram {
		srv.WithNonceGenerator(f)
	}
}
