package auth

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"
	"time"

	"kbroker/broker/auth/authtest"
)

func getter(m map[string]string) Getter {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// pki is a CA, a server certificate for 127.0.0.1 and a client certificate.
func pki(t *testing.T) (ca, server, client *authtest.Cert) {
	t.Helper()
	ca, err := authtest.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	server, err = ca.Issue(pkix.Name{CommonName: "broker"}, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	client, err = ca.Issue(pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Corp, Inc."}})
	if err != nil {
		t.Fatal(err)
	}
	return ca, server, client
}

func write(t *testing.T, dir, name string, data []byte, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	p, err := authtest.WriteFile(dir, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeyStoreTypes loads the broker's key and trust stores in every supported form and
// completes a mutual TLS handshake with each.
func TestKeyStoreTypes(t *testing.T) {
	ca, server, client := pki(t)
	dir := t.TempDir()
	keyPEM, err := server.KeyPEM("keypass")
	plainKeyPEM, err2 := server.KeyPEM("")
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	p12, err := server.PKCS12("storepass")
	jks, err2 := server.JKS("storepass", "keypass")
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	trustP12, err := ca.TrustPKCS12("trustpass")
	trustJKS, err2 := ca.TrustJKS("trustpass")
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	pemFile := write(t, dir, "server.pem", append(keyPEM, server.CertPEM()...), nil)
	caFile := write(t, dir, "ca.pem", ca.CertPEM(), nil)
	cases := map[string]map[string]string{
		"PEM file, encrypted key": {"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile, "ssl.key.password": "keypass",
			"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile},
		"PEM inline": {"ssl.keystore.type": "PEM", "ssl.keystore.key": string(plainKeyPEM), "ssl.keystore.certificate.chain": string(server.CertPEM()),
			"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM())},
		"PEM inline, encrypted key": {"ssl.keystore.type": "PEM", "ssl.keystore.key": string(keyPEM), "ssl.key.password": "keypass",
			"ssl.keystore.certificate.chain": string(server.CertPEM()), "ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM())},
		"PKCS12": {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": write(t, dir, "server.p12", p12, nil), "ssl.keystore.password": "storepass",
			"ssl.truststore.type": "PKCS12", "ssl.truststore.location": write(t, dir, "trust.p12", trustP12, nil), "ssl.truststore.password": "trustpass"},
		"JKS": {"ssl.keystore.type": "JKS", "ssl.keystore.location": write(t, dir, "server.jks", jks, nil), "ssl.keystore.password": "storepass",
			"ssl.key.password":    "keypass",
			"ssl.truststore.type": "JKS", "ssl.truststore.location": write(t, dir, "trust.jks", trustJKS, nil), "ssl.truststore.password": "trustpass"},
	}
	for name, settings := range cases {
		t.Run(name, func(t *testing.T) {
			settings["ssl.client.auth"] = "required"
			cfg, err := ServerTLS(getter(settings))
			if err != nil {
				t.Fatal(err)
			}
			st := handshake(t, cfg, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{client.TLS()}})
			if len(st.PeerCertificates) == 0 {
				t.Fatal("no client certificate seen")
			}
			m, _ := NewPrincipalMapper("DEFAULT")
			p, err := m.CertificatePrincipal(st.PeerCertificates[0])
			if want := `User:CN=alice,OU=eng,O=Corp\, Inc.`; err != nil || p != want {
				t.Errorf("principal %q (%v), want %q", p, err, want)
			}
		})
	}
}

func TestKeyStoreErrors(t *testing.T) {
	_, server, _ := pki(t)
	dir := t.TempDir()
	keyPEM, _ := server.KeyPEM("keypass")
	p12, _ := server.PKCS12("storepass")
	jks, _ := server.JKS("storepass", "keypass")
	for name, tc := range map[string]struct {
		settings map[string]string
		want     string
	}{
		"no key store":        {map[string]string{}, "no key store"},
		"PEM without key pwd": {map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": write(t, dir, "s.pem", append(keyPEM, server.CertPEM()...), nil)}, "set ssl.key.password"},
		"PEM wrong key pwd": {map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": write(t, dir, "s2.pem", append(keyPEM, server.CertPEM()...), nil),
			"ssl.key.password": "nope"}, "wrong ssl.key.password"},
		"PKCS12 wrong pwd": {map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": write(t, dir, "s.p12", p12, nil), "ssl.keystore.password": "nope"}, "PKCS12"},
		"JKS wrong key pwd": {map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.location": write(t, dir, "s.jks", jks, nil), "ssl.keystore.password": "storepass",
			"ssl.key.password": "nope"}, "ssl.key.password"},
		"missing file":          {map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.location": dir + "/none.jks"}, "ssl.keystore.location"},
		"client auth, no trust": {map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": write(t, dir, "s2.p12", p12, nil), "ssl.keystore.password": "storepass", "ssl.client.auth": "required"}, "trust store"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ServerTLS(getter(tc.settings))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			for _, secret := range []string{"keypass", "storepass", "nope"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a password", err)
				}
			}
		})
	}
}

func TestProtocolsAndCiphers(t *testing.T) {
	ca, server, _ := pki(t)
	keyPEM, _ := server.KeyPEM("")
	base := map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.key": string(keyPEM), "ssl.keystore.certificate.chain": string(server.CertPEM())}
	base["ssl.enabled.protocols"] = "TLSv1.2"
	base["ssl.cipher.suites"] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	cfg, err := ServerTLS(getter(base))
	if err != nil {
		t.Fatal(err)
	}
	st := handshake(t, cfg, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("version %x suite %x", st.Version, st.CipherSuite)
	}
	base["ssl.cipher.suites"] = "TLS_NOT_A_SUITE"
	if _, err := ServerTLS(getter(base)); err == nil {
		t.Error("unknown cipher suite accepted")
	}
}

// handshake runs a TLS handshake over a pipe and returns the server's view.
func handshake(t *testing.T, server, client *tls.Config) tls.ConnectionState {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(b, client)
		err := c.Handshake()
		if err == nil {
			// TLS 1.3: the server reads the client's certificate after the client is done.
			_, err = c.Write([]byte{0})
		}
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	s := tls.Server(a, server)
	if err := s.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if _, err := s.Read(make([]byte, 1)); err != nil {
		t.Fatalf("server read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	return s.ConnectionState()
}

func TestPrincipalMapping(t *testing.T) {
	for _, tc := range []struct{ rules, dn, want string }{
		{"DEFAULT", "CN=alice,OU=eng", "CN=alice,OU=eng"},
		{"RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT", "CN=Alice,OU=Eng", "alice@eng"},
		{"RULE:^CN=(.*?),OU=(.*?)$/$1@$2/U, DEFAULT", "CN=Alice,OU=Eng", "ALICE@ENG"},
		{"RULE:^CN=([^,]*).*$/$1/,DEFAULT", "CN=bob,O=x", "bob"},
		{"RULE:^CN=admin$/root/,DEFAULT", "CN=bob,O=x", "CN=bob,O=x"},
	} {
		m, err := NewPrincipalMapper(tc.rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.rules, err)
		}
		if got, err := m.Name(tc.dn); err != nil || got != tc.want {
			t.Errorf("%s on %s: %q %v, want %q", tc.rules, tc.dn, got, err, tc.want)
		}
	}
	m, _ := NewPrincipalMapper("RULE:^CN=admin$/root/")
	if _, err := m.Name("CN=bob"); err == nil {
		t.Error("no rule applies, yet a name came out")
	}
	if _, err := NewPrincipalMapper("RULE:broken"); err == nil {
		t.Error("a broken rule was accepted")
	}
}
