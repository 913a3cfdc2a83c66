package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/broker/auth/authtest"
)

// TestSecurityKeyStoreReload renews a TLS listener's certificate without a restart, as
// operators do with kafka-configs: the listener.name.ssl.ssl.keystore.* update is checked,
// stored with its password encrypted (password.encoder.secret), and new handshakes get the
// new certificate while open connections carry on; the same location written again after
// the file was replaced reloads it; the update survives a restart. Updates that would break
// the listener (a store that does not load, another distinguished name), an unprefixed key,
// a password at the cluster default and a password without an encoder secret are refused
// with INVALID_REQUEST and change nothing.
func TestSecurityKeyStoreReload(t *testing.T) {
	p := newTestPKI(t)
	const encoderSecret = "encoder-secret-for-the-test"
	b := startBrokerWith(t, brokerOpts{listener: "SSL", overrides: append(p.keyStoreOverrides("PKCS12"),
		"password.encoder.secret="+encoderSecret)})
	ctx := testCtx(t, 3*time.Minute)

	// served is the serial number of the certificate a new TLS handshake gets.
	served := func() *big.Int {
		t.Helper()
		d := tls.Dialer{Config: p.tlsConfig()}
		c, err := d.DialContext(ctx, "tcp", b.Addr())
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber
	}
	waitServed := func(what string, want *big.Int) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			if got := served(); got.Cmp(want) != 0 {
				return fmt.Errorf("%s: serial %v served, want %v", what, got, want)
			}
			return nil
		})
	}
	if got := served(); got.Cmp(p.broker.Cert.SerialNumber) != 0 {
		t.Fatalf("serial %v served at start, want the static key store's %v", got, p.broker.Cert.SerialNumber)
	}
	writeP12 := func(c *authtest.Cert, name string) string { return p.writeClientP12(t, c, name) }
	issue := func(cn string) *authtest.Cert {
		t.Helper()
		c, err := p.ca.Issue(pkix.Name{CommonName: cn}, "127.0.0.1", "localhost")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// A client connected before the change keeps producing through it.
	topic := "reload"
	cl := newClient(t, b, kgo.DialTLSConfig(p.tlsConfig()), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce before the renewal: %v", err)
	}

	// The renewal, through Kafka's tool over the TLS listener.
	renewed := issue("broker")
	renewedPath := writeP12(renewed, "broker-renewed.p12")
	tool := kafkaTool(t, pinnedVersion(t, "KAFKA_3_VERSION"), "kafka-configs")
	props := p.javaClientProps(t, "admin-ssl.properties", "SSL", "", "", "")
	configs := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{name: tool, args: append([]string{"--bootstrap-server", b.Addr(), "--command-config", props}, args...)})
	}
	configs("--alter", "--entity-type", "brokers", "--entity-name", "0", "--add-config",
		"listener.name.ssl.ssl.keystore.location="+renewedPath+",listener.name.ssl.ssl.keystore.password="+storePass)
	waitServed("after the renewal", renewed.Cert.SerialNumber)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce on the connection opened before the renewal: %v", err)
	}
	out := configs("--describe", "--entity-type", "brokers", "--entity-name", "0")
	for _, want := range []string{
		"listener.name.ssl.ssl.keystore.location=" + renewedPath + " sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:listener.name.ssl.ssl.keystore.location=" + renewedPath + ", STATIC_BROKER_CONFIG:ssl.keystore.location=" + p.brokerP12,
		"listener.name.ssl.ssl.keystore.password=null sensitive=true synonyms={DYNAMIC_BROKER_CONFIG:listener.name.ssl.ssl.keystore.password=null",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, storePass) {
		t.Errorf("describe shows the key store password:\n%s", out)
	}
	// Stored encrypted: the password is nowhere in the broker's data directory.
	var sawEncrypted bool
	filepath.WalkDir(b.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(storePass)) {
			t.Errorf("%s holds the key store password in clear", path)
		}
		sawEncrypted = sawEncrypted || bytes.Contains(data, []byte("encryptedPassword:"))
		return nil
	})
	if !sawEncrypted {
		t.Error("no encrypted password stored in the metadata")
	}

	// Refused updates, each leaving the renewed certificate in place.
	alter := func(resource string, kv ...string) (int16, string) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, resource
		for i := 0; i < len(kv); i += 2 {
			op := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			op.Name, op.Value = kv[i], kmsg.StringPtr(kv[i+1])
			r.Configs = append(r.Configs, op)
		}
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		msg := ""
		if m := resp.Resources[0].ErrorMessage; m != nil {
			msg = *m
		}
		return resp.Resources[0].ErrorCode, msg
	}
	garbage, err := authtest.WriteFile(p.dir, "garbage.p12", []byte("not a key store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, resource string
		kv             []string
		msg            string
	}{
		{"a store that does not load", "0", []string{"listener.name.ssl.ssl.keystore.location", garbage}, "Validation of dynamic config update of SSLFactory failed"},
		{"the wrong store password", "0", []string{"listener.name.ssl.ssl.keystore.password", "nope"}, "Validation of dynamic config update of SSLFactory failed"},
		{"another distinguished name", "0", []string{"listener.name.ssl.ssl.keystore.location", writeP12(issue("impostor"), "impostor.p12")}, "Keystore DistinguishedName does not match"},
		{"an unprefixed key", "0", []string{"ssl.keystore.location", renewedPath}, "only per-listener using the listener prefix"},
		{"a password at the cluster default", "", []string{"listener.name.ssl.ssl.keystore.password", storePass}, "broker id must be specified"},
	} {
		code, msg := alter(tc.resource, tc.kv...)
		if code != kerr.InvalidRequest.Code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %s %q, want INVALID_REQUEST with %q", tc.name, kafkaCode(code), msg, tc.msg)
		}
		if strings.Contains(msg, storePass) {
			t.Errorf("%s: the error message shows a password: %q", tc.name, msg)
		}
	}
	if got := served(); got.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("serial %v served after the refused updates, want %v", got, renewed.Cert.SerialNumber)
	}

	// The file replaced in place, and the same settings written again: reloaded.
	again := issue("broker")
	writeP12(again, "broker-renewed.p12")
	configs("--alter", "--entity-type", "brokers", "--entity-name", "0", "--add-config",
		"listener.name.ssl.ssl.keystore.location="+renewedPath+",listener.name.ssl.ssl.keystore.password="+storePass)
	waitServed("after the file was replaced", again.Cert.SerialNumber)

	// The update survives a restart (the stored password decrypted with the secret).
	b.Stop()
	b.Restart(t)
	waitServed("after a restart", again.Cert.SerialNumber)
	for _, line := range strings.Split(b.Stderr(), "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, storePass) { // log lines, not the harness's command lines
			t.Errorf("the key store password appears in the broker's log: %s", line)
		}
	}

	// Without password.encoder.secret a password config cannot be stored.
	plain := startBroker(t)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
	op := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	op.Name, op.Value = "listener.name.plaintext.ssl.keystore.password", kmsg.StringPtr(storePass)
	r.Configs = append(r.Configs, op)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, newClient(t, plain))
	if err != nil {
		t.Fatal(err)
	}
	if res := resp.Resources[0]; res.ErrorCode != kerr.InvalidRequest.Code || res.ErrorMessage == nil || !strings.Contains(*res.ErrorMessage, "Password encoder secret not configured") {
		t.Errorf("a password without an encoder secret: %s %v", kafkaCode(res.ErrorCode), res.ErrorMessage)
	}
}
