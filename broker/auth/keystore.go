package auth

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// Getter returns a setting by its Kafka key (for a listener: the listener.name.<l>. value,
// else the plain key, else the default); ok is false when it has no value.
type Getter func(key string) (string, bool)

func (g Getter) str(key string) string {
	v, _ := g(key)
	return v
}

// KeyStore is what ssl.keystore.* name: the type, a file or inline PEM values, passwords.
type KeyStore struct {
	Type        string // JKS, PKCS12 or PEM
	Location    string // file; "" with PEM inline values
	Password    string // ssl.keystore.password
	KeyPassword string // ssl.key.password
	Key         string // ssl.keystore.key (PEM inline)
	Chain       string // ssl.keystore.certificate.chain (PEM inline)
}

// TrustStore is what ssl.truststore.* name.
type TrustStore struct {
	Type         string
	Location     string
	Password     string
	Certificates string // ssl.truststore.certificates (PEM inline)
}

// KeyStoreFrom reads the ssl.keystore.* settings.
func KeyStoreFrom(g Getter) KeyStore {
	return KeyStore{Type: strings.ToUpper(g.str("ssl.keystore.type")), Location: g.str("ssl.keystore.location"),
		Password: g.str("ssl.keystore.password"), KeyPassword: g.str("ssl.key.password"),
		Key: g.str("ssl.keystore.key"), Chain: g.str("ssl.keystore.certificate.chain")}
}

// TrustStoreFrom reads the ssl.truststore.* settings.
func TrustStoreFrom(g Getter) TrustStore {
	return TrustStore{Type: strings.ToUpper(g.str("ssl.truststore.type")), Location: g.str("ssl.truststore.location"),
		Password: g.str("ssl.truststore.password"), Certificates: g.str("ssl.truststore.certificates")}
}

// Configured reports whether a key store is given at all.
func (k KeyStore) Configured() bool { return k.Location != "" || k.Key != "" }

// Configured reports whether a trust store is given at all.
func (t TrustStore) Configured() bool { return t.Location != "" || t.Certificates != "" }

// Load reads the key store: one private key and its certificate chain, leaf first.
func (k KeyStore) Load() (tls.Certificate, error) {
	if k.Type == "PEM" {
		return k.loadPEM()
	}
	data, err := os.ReadFile(k.Location)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl.keystore.location: %w", err)
	}
	switch k.Type {
	case "PKCS12":
		key, leaf, cas, err := pkcs12.DecodeChain(data, k.Password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("PKCS12 key store %s: %w", k.Location, err)
		}
		return certificate(key, append([]*x509.Certificate{leaf}, cas...))
	case "JKS", "":
		return k.loadJKS(data)
	}
	return tls.Certificate{}, fmt.Errorf("ssl.keystore.type %q is not JKS, PKCS12 or PEM", k.Type)
}

func (k KeyStore) loadJKS(data []byte) (tls.Certificate, error) {
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(k.Password)); err != nil {
		return tls.Certificate{}, fmt.Errorf("JKS key store %s: %w (check ssl.keystore.password)", k.Location, err)
	}
	keyPass := k.KeyPassword
	if keyPass == "" {
		keyPass = k.Password
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("JKS key store %s, entry %q: %w (check ssl.key.password)", k.Location, alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("JKS key store %s, entry %q: private key: %w", k.Location, alias, err)
		}
		var chain []*x509.Certificate
		for _, c := range e.CertificateChain {
			cert, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("JKS key store %s, entry %q: certificate: %w", k.Location, alias, err)
			}
			chain = append(chain, cert)
		}
		return certificate(key, chain)
	}
	return tls.Certificate{}, fmt.Errorf("JKS key store %s has no private key entry", k.Location)
}

// loadPEM reads a PEM key store: a file holding the key and the chain, or the inline
// ssl.keystore.key and ssl.keystore.certificate.chain. As in Kafka, the key is PKCS#8,
// encrypted exactly when ssl.key.password is set.
func (k KeyStore) loadPEM() (tls.Certificate, error) {
	keyPEM, chainPEM := []byte(k.Key), []byte(k.Chain)
	where := "ssl.keystore.key"
	if k.Location != "" {
		if k.Key != "" || k.Chain != "" {
			return tls.Certificate{}, errors.New("set either ssl.keystore.location or ssl.keystore.key with ssl.keystore.certificate.chain, not both")
		}
		data, err := os.ReadFile(k.Location)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		keyPEM, chainPEM, where = data, data, k.Location
	}
	var key crypto.PrivateKey
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		var err error
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			if k.KeyPassword == "" {
				return tls.Certificate{}, fmt.Errorf("%s: the private key is encrypted; set ssl.key.password", where)
			}
			key, err = pkcs8.ParsePKCS8PrivateKey(b.Bytes, []byte(k.KeyPassword))
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			// The library's message may quote bytes of the key; keep it out.
			return tls.Certificate{}, fmt.Errorf("%s: cannot read the %s (wrong ssl.key.password?)", where, strings.ToLower(b.Type))
		}
		break
	}
	if key == nil {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM private key", where)
	}
	chain, err := parseCerts(chainPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", where, err)
	}
	return certificate(key, chain)
}

func certificate(key crypto.PrivateKey, chain []*x509.Certificate) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("key store has no certificate")
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, cert := range chain {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	// Refuse a key that does not belong to the leaf certificate now rather than at
	// the first handshake.
	if pub, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		if eq, ok := pub.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !eq.Equal(chain[0].PublicKey) {
			return tls.Certificate{}, errors.New("the private key does not match the first certificate of the chain")
		}
	}
	return c, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// Load reads the trusted certificates.
func (t TrustStore) Load() (*x509.CertPool, error) {
	certs, err := t.certs()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func (t TrustStore) certs() ([]*x509.Certificate, error) {
	if t.Type == "PEM" {
		data := []byte(t.Certificates)
		where := "ssl.truststore.certificates"
		if t.Location != "" {
			var err error
			if data, err = os.ReadFile(t.Location); err != nil {
				return nil, fmt.Errorf("ssl.truststore.location: %w", err)
			}
			where = t.Location
		}
		certs, err := parseCerts(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return certs, nil
	}
	data, err := os.ReadFile(t.Location)
	if err != nil {
		return nil, fmt.Errorf("ssl.truststore.location: %w", err)
	}
	switch t.Type {
	case "PKCS12":
		certs, err := pkcs12.DecodeTrustStore(data, t.Password)
		if err != nil || len(certs) == 0 {
			// Not a Java trust store: take the certificates of a key store.
			_, leaf, cas, err2 := pkcs12.DecodeChain(data, t.Password)
			if err2 != nil {
				return nil, fmt.Errorf("PKCS12 trust store %s: %w", t.Location, errors.Join(err, err2))
			}
			certs = append([]*x509.Certificate{leaf}, cas...)
		}
		return certs, nil
	case "JKS", "":
		ks := keystore.New(keystore.WithOrderedAliases())
		if err := ks.Load(bytes.NewReader(data), []byte(t.Password)); err != nil {
			return nil, fmt.Errorf("JKS trust store %s: %w (check ssl.truststore.password)", t.Location, err)
		}
		var out []*x509.Certificate
		for _, alias := range ks.Aliases() {
			var raw []byte
			switch {
			case ks.IsTrustedCertificateEntry(alias):
				e, err := ks.GetTrustedCertificateEntry(alias)
				if err != nil {
					return nil, fmt.Errorf("JKS trust store %s, entry %q: %w", t.Location, alias, err)
				}
				raw = e.Certificate.Content
			default:
				continue
			}
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return nil, fmt.Errorf("JKS trust store %s, entry %q: %w", t.Location, alias, err)
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("JKS trust store %s has no trusted certificate", t.Location)
		}
		return out, nil
	}
	return nil, fmt.Errorf("ssl.truststore.type %q is not JKS, PKCS12 or PEM", t.Type)
}
