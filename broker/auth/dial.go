package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"kbroker/protocol"
)

// BrokerDialer opens the connections a broker makes to other brokers (controller requests,
// follower fetches, AlterPartition) over the inter-broker listener's security protocol:
// TLS with the listener's trust store (and key store as client certificate), then SASL
// with sasl.mechanism.inter.broker.protocol and the user of that mechanism's JAAS
// configuration on the listener.
type BrokerDialer struct {
	tls  *tls.Config
	mech sasl.Mechanism
}

// NewBrokerDialer builds the dialer of a security protocol from the inter-broker listener's
// settings.
func NewBrokerDialer(securityProtocol string, g Getter, mechanism string) (*BrokerDialer, error) {
	d := &BrokerDialer{}
	if securityProtocol == "SSL" || securityProtocol == "SASL_SSL" {
		var err error
		if d.tls, err = ClientTLS(g); err != nil {
			return nil, fmt.Errorf("inter-broker TLS: %w", err)
		}
	}
	if strings.HasPrefix(securityProtocol, "SASL_") {
		jaasKey := strings.ToLower(mechanism) + ".sasl.jaas.config"
		raw, ok := g(jaasKey)
		if !ok {
			return nil, fmt.Errorf("inter-broker SASL %s: listener.name.<inter-broker listener>.%s is not set", mechanism, jaasKey)
		}
		j, err := ParseJAAS(raw)
		if err != nil {
			return nil, err
		}
		user, pass := j.Options["username"], j.Options["password"]
		if user == "" {
			return nil, fmt.Errorf("inter-broker SASL %s: the JAAS configuration has no username", mechanism)
		}
		switch mechanism {
		case Plain:
			d.mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
		case ScramSHA256:
			d.mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
		case ScramSHA512:
			d.mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
		default:
			return nil, fmt.Errorf("sasl.mechanism.inter.broker.protocol %s is not supported", mechanism)
		}
	}
	return d, nil
}

// Dial connects to another broker and authenticates.
func (d *BrokerDialer) Dial(ctx context.Context, addr, clientID string) (*protocol.Client, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d.tls != nil {
		cfg := d.tls.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	c := protocol.NewClient(nc, clientID)
	if d.mech != nil {
		if err := d.authenticate(ctx, c, addr); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (d *BrokerDialer) authenticate(ctx context.Context, c *protocol.Client, addr string) error {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = d.mech.Name()
	raw, err := c.Request(ctx, hs)
	if err != nil {
		return fmt.Errorf("SaslHandshake with %s: %w", addr, err)
	}
	if err := kerr.ErrorForCode(raw.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("SaslHandshake %s with %s: %w", d.mech.Name(), addr, err)
	}
	sess, token, err := d.mech.Authenticate(ctx, addr)
	if err != nil {
		return err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(2)
		req.SASLAuthBytes = token
		raw, err := c.Request(ctx, req)
		if err != nil {
			return fmt.Errorf("SaslAuthenticate with %s: %w", addr, err)
		}
		resp := raw.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			msg := ""
			if resp.ErrorMessage != nil {
				msg = ": " + *resp.ErrorMessage
			}
			return fmt.Errorf("SASL %s with %s: %w%s", d.mech.Name(), addr, err, msg)
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			return fmt.Errorf("SASL %s with %s: %w", d.mech.Name(), addr, err)
		}
		if done {
			return nil
		}
		token = next
	}
}
