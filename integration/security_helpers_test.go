package integration

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"kbroker/broker/auth/authtest"
)

// Passwords of the throwaway stores and users the security tests make.
const (
	storePass = "store-secret"
	keyPass   = "key-secret"
	adminPass = "admin-secret"
)

// testPKI is a fresh certificate authority with a broker certificate for 127.0.0.1 and
// localhost, written to a temporary directory in every form the tests use.
type testPKI struct {
	dir    string
	ca     *authtest.Cert
	broker *authtest.Cert

	caPEM       string // trusted CA, PEM
	brokerPEM   string // encrypted key (keyPass) and chain, PEM
	brokerP12   string // PKCS12 key store (storePass)
	brokerJKS   string // JKS key store made by keytool (storePass, key keyPass)
	trustJKS    string // JKS trust store made by keytool (storePass)
	trustP12    string // PKCS12 trust store (storePass)
	brokerKey   string // inline PEM key, unencrypted
	brokerChain string // inline PEM chain
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	var err error
	if p.ca, err = authtest.NewCA("kbroker-test-ca"); err != nil {
		t.Fatal(err)
	}
	if p.broker, err = p.ca.Issue(pkix.Name{CommonName: "broker"}, "127.0.0.1", "localhost"); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		path, err := authtest.WriteFile(p.dir, name, data)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyPEM, err := p.broker.KeyPEM(keyPass)
	p.brokerPEM = write("broker.pem", append(keyPEM, p.broker.CertPEM()...), err)
	plainKey, err := p.broker.KeyPEM("")
	if err != nil {
		t.Fatal(err)
	}
	p.brokerKey, p.brokerChain = string(plainKey), string(p.broker.CertPEM())
	p.caPEM = write("ca.pem", p.ca.CertPEM(), nil)
	p12, err := p.broker.PKCS12(storePass)
	p.brokerP12 = write("broker.p12", p12, err)
	trustP12, err := p.ca.TrustPKCS12(storePass)
	p.trustP12 = write("trust.p12", trustP12, err)

	// JKS stores with Java's own keytool.
	keytool := needCommand(t, "keytool")
	p.brokerJKS = filepath.Join(p.dir, "broker.jks")
	mustRun(t, cmdSpec{name: keytool, args: []string{"-importkeystore", "-noprompt",
		"-srckeystore", p.brokerP12, "-srcstoretype", "PKCS12", "-srcstorepass", storePass,
		"-destkeystore", p.brokerJKS, "-deststoretype", "JKS", "-deststorepass", storePass, "-destkeypass", keyPass}})
	p.trustJKS = filepath.Join(p.dir, "trust.jks")
	mustRun(t, cmdSpec{name: keytool, args: []string{"-importcert", "-noprompt", "-alias", "ca", "-file", p.caPEM,
		"-keystore", p.trustJKS, "-storetype", "JKS", "-storepass", storePass}})
	return p
}

// client issues a client certificate for subject.
func (p *testPKI) client(t testing.TB, subject pkix.Name) *authtest.Cert {
	t.Helper()
	c, err := p.ca.Issue(subject)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeClientP12 writes a client certificate as a PKCS12 key store for Java clients.
func (p *testPKI) writeClientP12(t testing.TB, c *authtest.Cert, name string) string {
	t.Helper()
	data, err := c.PKCS12(storePass)
	if err != nil {
		t.Fatal(err)
	}
	path, err := authtest.WriteFile(p.dir, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsConfig is what a Go client needs to trust the broker, with client certificates.
func (p *testPKI) tlsConfig(certs ...*authtest.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1"}
	for _, c := range certs {
		cfg.Certificates = append(cfg.Certificates, c.TLS())
	}
	return cfg
}

// keyStoreOverrides are the broker settings of one key store form ("JKS", "PKCS12",
// "PEM" file, "PEM-inline"), with the matching trust store.
func (p *testPKI) keyStoreOverrides(form string) []string {
	switch form {
	case "JKS":
		return []string{"ssl.keystore.type=JKS", "ssl.keystore.location=" + p.brokerJKS, "ssl.keystore.password=" + storePass,
			"ssl.key.password=" + keyPass, "ssl.truststore.type=JKS", "ssl.truststore.location=" + p.trustJKS, "ssl.truststore.password=" + storePass}
	case "PKCS12":
		return []string{"ssl.keystore.type=PKCS12", "ssl.keystore.location=" + p.brokerP12, "ssl.keystore.password=" + storePass,
			"ssl.truststore.type=PKCS12", "ssl.truststore.location=" + p.trustP12, "ssl.truststore.password=" + storePass}
	case "PEM":
		return []string{"ssl.keystore.type=PEM", "ssl.keystore.location=" + p.brokerPEM, "ssl.key.password=" + keyPass,
			"ssl.truststore.type=PEM", "ssl.truststore.location=" + p.caPEM}
	}
	panic("unknown key store form " + form)
}

// writeInlinePEMProps writes a server.properties with the key, chain and trusted
// certificates inline, newlines escaped as \n (Java properties syntax).
func (p *testPKI) writeInlinePEMProps(t testing.TB, extra ...string) string {
	t.Helper()
	esc := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", `\n`) }
	lines := []string{
		"ssl.keystore.type=PEM",
		"ssl.keystore.key=" + esc(p.brokerKey),
		"ssl.keystore.certificate.chain=" + esc(p.brokerChain),
		"ssl.truststore.type=PEM",
		"ssl.truststore.certificates=" + esc(string(p.ca.CertPEM())),
	}
	path := filepath.Join(p.dir, "server.properties")
	if err := os.WriteFile(path, []byte(strings.Join(append(lines, extra...), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// javaClientProps writes a client.properties for Kafka's tools: SASL_SSL with SCRAM (or
// PLAIN) and the JKS trust store.
func (p *testPKI) javaClientProps(t testing.TB, name, protocol, mechanism, user, pass string, extra ...string) string {
	t.Helper()
	module := "org.apache.kafka.common.security.scram.ScramLoginModule"
	if mechanism == "PLAIN" {
		module = "org.apache.kafka.common.security.plain.PlainLoginModule"
	}
	lines := []string{"security.protocol=" + protocol}
	if strings.HasPrefix(protocol, "SASL_") {
		lines = append(lines, "sasl.mechanism="+mechanism,
			`sasl.jaas.config=`+module+` required username="`+user+`" password="`+pass+`";`)
	}
	if strings.HasSuffix(protocol, "SSL") {
		lines = append(lines, "ssl.truststore.location="+p.trustJKS, "ssl.truststore.password="+storePass, "ssl.truststore.type=JKS")
	}
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(append(lines, extra...), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// saslJAAS is the broker's JAAS setting for PLAIN on a listener, with the admin user and
// any "user=password" pairs.
func saslPlainJAAS(listener string, users ...string) string {
	var b strings.Builder
	b.WriteString("listener.name." + strings.ToLower(listener) + ".plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required")
	b.WriteString(` username="admin" password="` + adminPass + `" user_admin="` + adminPass + `"`)
	for _, u := range users {
		name, pass, _ := strings.Cut(u, "=")
		b.WriteString(` user_` + name + `="` + pass + `"`)
	}
	b.WriteString(";")
	return b.String()
}

// scramMech is franz-go's SCRAM client mechanism.
func scramMech(mech, user, pass string) sasl.Mechanism {
	a := scram.Auth{User: user, Pass: pass}
	if mech == "SCRAM-SHA-512" {
		return a.AsSha512Mechanism()
	}
	return a.AsSha256Mechanism()
}

// plainMech is franz-go's PLAIN client mechanism.
func plainMech(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

// secureClient is a franz-go client over TLS (when cfg is not nil) with a SASL mechanism
// (when m is not nil).
func secureClient(t testing.TB, addr string, cfg *tls.Config, m sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	o := []kgo.Opt{kgo.SeedBrokers(addr)}
	if cfg != nil {
		o = append(o, kgo.DialTLSConfig(cfg))
	}
	if m != nil {
		o = append(o, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(append(o, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// startBrokerWith is startBroker with every brokerOpts field (listener, properties file).
func startBrokerWith(t testing.TB, opts brokerOpts) *Broker {
	t.Helper()
	b := newBroker(t, opts)
	if err := b.launch(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	if err := b.waitReady(readyTimeout); err != nil {
		t.Fatalf("broker not ready: %v", err)
	}
	return b
}
