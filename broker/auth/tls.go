package auth

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// tlsVersions maps Kafka's ssl.enabled.protocols names to Go's versions.
var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// ServerTLS builds the TLS configuration of an SSL or SASL_SSL listener from its ssl.*
// settings: the key store (required), the trust store (required with ssl.client.auth
// required or requested), ssl.client.auth, ssl.enabled.protocols and ssl.cipher.suites.
func ServerTLS(g Getter) (*tls.Config, error) {
	ks := KeyStoreFrom(g)
	if !ks.Configured() {
		return nil, fmt.Errorf("no key store: set ssl.keystore.location (or ssl.keystore.key and ssl.keystore.certificate.chain with ssl.keystore.type=PEM)")
	}
	cert, err := ks.Load()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if err := applyProtocols(cfg, g); err != nil {
		return nil, err
	}
	switch mode, _ := g("ssl.client.auth"); strings.ToLower(mode) {
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	if cfg.ClientAuth != tls.NoClientCert {
		ts := TrustStoreFrom(g)
		if !ts.Configured() {
			return nil, fmt.Errorf("ssl.client.auth needs a trust store: set ssl.truststore.location or ssl.truststore.certificates")
		}
		if cfg.ClientCAs, err = ts.Load(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// ClientTLS builds the TLS configuration a broker uses to reach another broker's SSL or
// SASL_SSL listener: the trust store checks the other broker's certificate (host name too
// unless ssl.endpoint.identification.algorithm is empty), and the key store, when given, is
// offered as this broker's client certificate.
func ClientTLS(g Getter) (*tls.Config, error) {
	cfg := &tls.Config{}
	if err := applyProtocols(cfg, g); err != nil {
		return nil, err
	}
	if ts := TrustStoreFrom(g); ts.Configured() {
		pool, err := ts.Load()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if ks := KeyStoreFrom(g); ks.Configured() {
		cert, err := ks.Load()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if alg, _ := g("ssl.endpoint.identification.algorithm"); alg == "" {
		// Kafka's empty algorithm: the chain is checked, the host name is not.
		cfg.InsecureSkipVerify = true
		roots := cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, roots) }
	}
	return cfg, nil
}

// applyProtocols sets the TLS versions and TLS 1.2 cipher suites.
func applyProtocols(cfg *tls.Config, g Getter) error {
	protocols, _ := g("ssl.enabled.protocols")
	for _, p := range strings.Split(protocols, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, ok := tlsVersions[p]
		if !ok {
			return fmt.Errorf("ssl.enabled.protocols: unknown protocol %q", p)
		}
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		if v > cfg.MaxVersion {
			cfg.MaxVersion = v
		}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS13
	}
	suites, _ := g("ssl.cipher.suites")
	byName := map[string]uint16{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs.ID
	}
	for _, s := range strings.Split(suites, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if id, ok := byName[s]; ok {
			cfg.CipherSuites = append(cfg.CipherSuites, id)
			continue
		}
		if strings.HasPrefix(s, "TLS_AES_") || strings.HasPrefix(s, "TLS_CHACHA20_") {
			continue // TLS 1.3 suites: always on in Go
		}
		return fmt.Errorf("ssl.cipher.suites: unknown cipher suite %q", s)
	}
	return nil
}
