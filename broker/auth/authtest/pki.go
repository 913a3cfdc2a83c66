// Package authtest makes throwaway certificate authorities, certificates and key stores
// (PEM, PKCS12, JKS) for tests and benchmarks. Every key is generated fresh in memory; none
// is ever committed.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// Cert is a certificate with its private key and the chain above it.
type Cert struct {
	Cert  *x509.Certificate
	Key   *ecdsa.PrivateKey
	Chain []*x509.Certificate // issuers, nearest first (empty for a CA)
}

// NewCA makes a self-signed certificate authority.
func NewCA(cn string) (*Cert, error) {
	return issue(nil, pkix.Name{CommonName: cn}, true, nil)
}

// Issue makes a certificate signed by ca for subject, valid for the given host names and
// IP addresses (for servers) and for client authentication.
func (ca *Cert) Issue(subject pkix.Name, hosts ...string) (*Cert, error) {
	return issue(ca, subject, false, hosts)
}

func issue(ca *Cert, subject pkix.Name, isCA bool, hosts []string) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
		chain = append([]*x509.Certificate{ca.Cert}, ca.Chain...)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: cert, Key: key, Chain: chain}, nil
}

// TLS returns the certificate for a tls.Config.
func (c *Cert) TLS() tls.Certificate {
	out := tls.Certificate{PrivateKey: c.Key, Leaf: c.Cert, Certificate: [][]byte{c.Cert.Raw}}
	for _, p := range c.Chain {
		out.Certificate = append(out.Certificate, p.Raw)
	}
	return out
}

// Pool is a pool holding c alone (for a CA: what clients trust).
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// CertPEM is the certificate chain in PEM, leaf first.
func (c *Cert) CertPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
	for _, p := range c.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Raw})...)
	}
	return out
}

// KeyPEM is the private key in PKCS#8 PEM, encrypted (PBES2, AES-256) when password is not empty.
func (c *Cert) KeyPEM(password string) ([]byte, error) {
	if password == "" {
		der, err := x509.MarshalPKCS8PrivateKey(c.Key)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := pkcs8.MarshalPrivateKey(c.Key, []byte(password), nil)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// PKCS12 is a PKCS12 key store of the key and chain (AES, as OpenSSL 3 writes them).
func (c *Cert) PKCS12(password string) ([]byte, error) {
	return pkcs12.Modern.Encode(c.Key, c.Cert, c.Chain, password)
}

// TrustPKCS12 is a Java PKCS12 trust store holding c's certificate.
func (c *Cert) TrustPKCS12(password string) ([]byte, error) {
	return pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{c.Cert}, password)
}

// JKS is a JKS key store of the key and chain; the key is protected by keyPassword.
func (c *Cert) JKS(storePassword, keyPassword string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	ks := keystore.New()
	e := keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der}
	for _, cert := range append([]*x509.Certificate{c.Cert}, c.Chain...) {
		e.CertificateChain = append(e.CertificateChain, keystore.Certificate{Type: "X509", Content: cert.Raw})
	}
	if err := ks.SetPrivateKeyEntry("broker", e, []byte(keyPassword)); err != nil {
		return nil, err
	}
	return storeJKS(ks, storePassword)
}

// TrustJKS is a JKS trust store holding c's certificate.
func (c *Cert) TrustJKS(password string) ([]byte, error) {
	ks := keystore.New()
	if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: c.Cert.Raw}}); err != nil {
		return nil, err
	}
	return storeJKS(ks, password)
}

func storeJKS(ks keystore.KeyStore, password string) ([]byte, error) {
	f, err := os.CreateTemp("", "jks-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := ks.Store(f, []byte(password)); err != nil {
		return nil, err
	}
	return os.ReadFile(f.Name())
}

// WriteFile writes data to dir/name with owner-only permissions and returns the path.
func WriteFile(dir, name string, data []byte) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, data, 0o600)
}
