package broker

// Key and trust stores of the TLS listeners are reloaded without a restart, as Kafka's
// dynamic SSL configs are: an update of listener.name.<l>.ssl.keystore.* or
// ssl.truststore.* (or the same values written again after the files changed) is checked
// before it is stored (the stores load; the certificate keeps its distinguished name and
// subject alternative names unless ssl.allow.dn.changes / ssl.allow.san.changes), then
// every broker swaps the listener's TLS configuration: new handshakes use it, connections
// already open keep theirs. The inter-broker dialer follows its listener.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"

	"kbroker/broker/auth"
	"kbroker/broker/config"
)

// listenerTLS is a listener's TLS configuration and what it was built from.
type listenerTLS struct {
	cfg   *tls.Config
	stamp string            // tlsStamp of the settings and files it was built from
	leaf  *x509.Certificate // the broker's certificate
}

// tlsSettings are the listener settings a TLS configuration is built from.
var tlsSettings = []string{
	"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
	"ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.type", "ssl.truststore.location",
	"ssl.truststore.password", "ssl.truststore.certificates", "ssl.client.auth", "ssl.enabled.protocols",
	"ssl.cipher.suites", "ssl.endpoint.identification.algorithm",
}

// tlsStamp digests a listener's TLS settings in c and the size and modification time of its
// store files: a different stamp means the TLS configuration must be built again.
func tlsStamp(c *config.Config, listener string) string {
	h := sha256.New()
	for _, k := range tlsSettings {
		v, ok := c.ListenerValue(listener, k)
		fmt.Fprintf(h, "%s=%t:%q\n", k, ok, v)
		if ok && strings.HasSuffix(k, ".location") {
			if fi, err := os.Stat(v); err == nil {
				fmt.Fprintf(h, "file %d %d\n", fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildListenerTLS loads a listener's stores from the settings in c.
func buildListenerTLS(c *config.Config, listener string) (*listenerTLS, error) {
	stamp := tlsStamp(c, listener)
	cfg, err := auth.ServerTLS(listenerGetter(c, listener))
	if err != nil {
		return nil, err
	}
	cert := cfg.Certificates[0]
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("key store certificate: %w", err)
		}
	}
	return &listenerTLS{cfg: cfg, stamp: stamp, leaf: leaf}, nil
}

// nextListenerTLS builds a listener's TLS configuration from c when its settings or files
// changed (nil when nothing did), refusing a certificate that changes identity.
func nextListenerTLS(c *config.Config, ls *listenerState) (*listenerTLS, error) {
	cur := ls.tlsState.Load()
	if cur != nil && tlsStamp(c, ls.name) == cur.stamp {
		return nil, nil
	}
	next, err := buildListenerTLS(c, ls.name)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return next, nil
	}
	allowed := func(key string) bool { v, _ := c.ListenerValue(ls.name, key); return strings.EqualFold(v, "true") }
	if a, b := cur.leaf.Subject.String(), next.leaf.Subject.String(); a != b && !allowed("ssl.allow.dn.changes") {
		return nil, fmt.Errorf("Keystore DistinguishedName does not match: existing={%s}, new={%s}", a, b)
	}
	if a, b := subjectAltNames(cur.leaf), subjectAltNames(next.leaf); !slices.Equal(a, b) && !allowed("ssl.allow.san.changes") {
		return nil, fmt.Errorf("Keystore SubjectAltNames do not match: existing={%s}, new={%s}", strings.Join(a, ", "), strings.Join(b, ", "))
	}
	return next, nil
}

// subjectAltNames lists a certificate's alternative names, sorted.
func subjectAltNames(c *x509.Certificate) []string {
	var out []string
	out = append(out, c.DNSNames...)
	out = append(out, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	slices.Sort(out)
	return out
}

// validateListenerTLS checks that the TLS listeners' stores load under the prospective
// configuration c, before a dynamic update is stored.
func (s *Server) validateListenerTLS(c *config.Config) error {
	for _, ls := range s.lns {
		if ls.tls == nil {
			continue
		}
		if _, err := nextListenerTLS(c, ls); err != nil {
			return fmt.Errorf("Validation of dynamic config update of SSLFactory failed: listener %s: %w", ls.name, err)
		}
	}
	return nil
}

// reloadListenerTLS swaps in the TLS configuration of every listener whose settings or
// store files changed under c; one that does not load is logged and the listener keeps its
// configuration. Runs with s.dynMu held.
func (s *Server) reloadListenerTLS(c *config.Config) {
	ib := s.cfg.InterBrokerListener().Name
	for _, ls := range s.lns {
		if ls.tls == nil {
			continue
		}
		next, err := nextListenerTLS(c, ls)
		if err != nil {
			s.logger.Error().Str("listener", ls.name).Err(err).Msg("TLS key or trust store not reloaded; the listener keeps its certificate")
			continue
		}
		if next == nil {
			continue
		}
		ls.tlsState.Store(next)
		s.logger.Info().Str("listener", ls.name).Str("subject", next.leaf.Subject.String()).Str("serial", next.leaf.SerialNumber.String()).
			Time("not_after", next.leaf.NotAfter).Msg("TLS key and trust stores reloaded")
		if ls.name == ib && s.brokerDialer.Load() != nil {
			if err := s.newBrokerDialer(c); err != nil {
				s.logger.Error().Err(err).Msg("inter-broker TLS not reloaded")
			}
		}
	}
}
