package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startSASLSSL starts a broker whose only listener is SASL_SSL with PLAIN (the admin user
// of the JAAS configuration) and both SCRAM mechanisms, its key store in the given form.
func startSASLSSL(t *testing.T, p *testPKI, form string, extra ...string) *Broker {
	t.Helper()
	ov := append(p.keyStoreOverrides(form),
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		saslPlainJAAS("SASL_SSL"),
		"auto.create.topics.enable=true",
		"group.initial.rebalance.delay.ms=0",
	)
	b := startBrokerWith(t, brokerOpts{listener: "SASL_SSL", overrides: append(ov, extra...)})
	return b
}

// TestSecuritySASLSSL drives a SASL_SSL listener with franz-go: SCRAM users created with
// AlterUserScramCredentials by the PLAIN admin, produce and consume as a SCRAM user (record
// sets large enough to leave the small-copy path, so the TLS copy of segment regions is
// used), wrong passwords and unknown users, DescribeUserScramCredentials, and the
// credentials surviving a restart.
func TestSecuritySASLSSL(t *testing.T) {
	p := newTestPKI(t)
	b := startSASLSSL(t, p, "JKS")
	ctx := testCtx(t, 2*time.Minute)
	adminCl := secureClient(t, b.Addr(), p.tlsConfig(), plainMech("admin", adminPass))
	admin := kadm.NewClient(adminCl)

	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-secret"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-secret"},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("AlterUserSCRAMs: %v %v", err, res.Error())
	}
	desc, err := admin.DescribeUserSCRAMs(ctx, "alice", "bob", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if d := desc["bob"]; d.Err != nil || len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 || d.CredInfos[0].Iterations != 8192 {
		t.Errorf("bob described as %+v", d)
	}
	if d := desc["nobody"]; !errors.Is(d.Err, kerr.ResourceNotFound) {
		t.Errorf("nobody: %v, want RESOURCE_NOT_FOUND", d.Err)
	}
	bad := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "carol", 1, 1000, []byte("salt"), bytes.Repeat([]byte{1}, 32)
	bad.Upsertions = append(bad.Upsertions, up)
	if r, err := bad.RequestWith(ctx, adminCl); err != nil || len(r.Results) != 1 || r.Results[0].ErrorCode != kerr.UnacceptableCredential.Code ||
		r.Results[0].ErrorMessage == nil || *r.Results[0].ErrorMessage != "Too few iterations" {
		t.Errorf("1000 iterations: %+v %v, want UNACCEPTABLE_CREDENTIAL \"Too few iterations\"", r, err)
	}

	// Produce and consume as bob (SCRAM-SHA-512) over TLS; 64 KiB values.
	topic := "secure-topic"
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	bob := secureClient(t, b.Addr(), p.tlsConfig(), scramMech("SCRAM-SHA-512", "bob", "bob-secret"),
		kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ProducerBatchMaxBytes(1<<20))
	value := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for i := 0; i < 10; i++ {
		if err := bob.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce as bob: %v", err)
		}
	}
	got := 0
	for got < 10 {
		fs := bob.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume as bob: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.Equal(r.Value, value) {
				t.Fatalf("record %d corrupted over TLS", r.Offset)
			}
			got++
		})
	}

	// Wrong password, unknown user, a credential for the other mechanism only.
	for _, tc := range []struct {
		name string
		cl   *kgo.Client
		msg  string
	}{
		{"wrong SCRAM password", secureClient(t, b.Addr(), p.tlsConfig(), scramMech("SCRAM-SHA-256", "alice", "nope")), "SCRAM-SHA-256"},
		{"unknown SCRAM user", secureClient(t, b.Addr(), p.tlsConfig(), scramMech("SCRAM-SHA-512", "nobody", "x")), "SCRAM-SHA-512"},
		{"other mechanism", secureClient(t, b.Addr(), p.tlsConfig(), scramMech("SCRAM-SHA-512", "alice", "alice-secret")), "SCRAM-SHA-512"},
		{"wrong PLAIN password", secureClient(t, b.Addr(), p.tlsConfig(), plainMech("admin", "nope")), "Invalid username or password"},
	} {
		err := tc.cl.Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED mentioning %q", tc.name, err, tc.msg)
		}
	}
	if strings.Contains(b.Stderr(), "alice-secret") || strings.Contains(b.Stderr(), adminPass) {
		t.Error("a password appears in the broker's log")
	}

	// The broker keeps serving after the failures, and the users survive a restart.
	b.Stop()
	b.Restart(t)
	alice := secureClient(t, b.Addr(), p.tlsConfig(), scramMech("SCRAM-SHA-256", "alice", "alice-secret"))
	eventually(t, 30*time.Second, func() error { return alice.Ping(ctx) })
}

// TestSecuritySASLRawProtocol checks what Kafka does with clients that misbehave on a SASL
// listener: an unknown mechanism, a request before authentication, a request between
// SaslHandshake and SaslAuthenticate, plaintext bytes on a TLS port, and a stalled client.
func TestSecuritySASLRawProtocol(t *testing.T) {
	p := newTestPKI(t)
	b := startSASLSSL(t, p, "PKCS12", "request.timeout.ms=3000")
	dial := func(t *testing.T) *tls.Conn {
		c, err := tls.Dial("tcp", b.Addr(), p.tlsConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}

	t.Run("unknown mechanism", func(t *testing.T) {
		c := dial(t)
		req := handshakeRequest(1, "GSSAPI")
		resp := roundTrip(t, c, req).(*kmsg.SASLHandshakeResponse)
		if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || !sameStrings(resp.SupportedMechanisms, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}) {
			t.Errorf("answer %d %v", resp.ErrorCode, resp.SupportedMechanisms)
		}
		expectClosed(t, c)
	})
	t.Run("request before authentication", func(t *testing.T) {
		c := dial(t)
		av := kmsg.NewPtrApiVersionsRequest()
		av.SetVersion(3)
		av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
		if resp := roundTrip(t, c, av).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Fatalf("ApiVersions before authentication: %d", resp.ErrorCode)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		writeRequest(t, c, md, 2)
		expectClosed(t, c)
	})
	t.Run("request between handshake and authenticate", func(t *testing.T) {
		c := dial(t)
		req := handshakeRequest(1, "PLAIN")
		if resp := roundTrip(t, c, req).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
			t.Fatalf("handshake: %d", resp.ErrorCode)
		}
		lg := kmsg.NewPtrListGroupsRequest()
		lg.SetVersion(2)
		if resp := roundTrip(t, c, lg).(*kmsg.ListGroupsResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("ListGroups between handshake and authenticate: error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
		}
		expectClosed(t, c)
	})
	t.Run("v0 raw token flow", func(t *testing.T) {
		c := dial(t)
		req := handshakeRequest(0, "PLAIN")
		if resp := roundTrip(t, c, req).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
			t.Fatalf("handshake v0: %d", resp.ErrorCode)
		}
		token := []byte("\x00admin\x00" + adminPass)
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(token)))
		if _, err := c.Write(append(frame, token...)); err != nil {
			t.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
			t.Fatalf("raw token answer: %v %x", err, size)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		if resp := roundTrip(t, c, md).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
			t.Errorf("metadata after v0 authentication: %+v", resp.Brokers)
		}
	})
	t.Run("oversized frame before authentication", func(t *testing.T) {
		c := dial(t)
		// sasl.server.max.receive.size (512 KiB) bounds frames until authenticated.
		frame := binary.BigEndian.AppendUint32(nil, 600<<10)
		if _, err := c.Write(append(frame, make([]byte, 64)...)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	})
	t.Run("plaintext on the TLS port", func(t *testing.T) {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		writeRequest(t, c, md, 1)
		buf := make([]byte, 7)
		if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, []byte{0x15, 3, 3, 0, 2, 2, 0x50}) {
			t.Errorf("plaintext request answered with %x (%v), want Kafka's 7-byte fatal alert", buf, err)
		}
		expectClosed(t, c)
	})
	t.Run("stalled handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		expectClosed(t, c) // request.timeout.ms=3000 bounds the TLS handshake
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("stalled handshake closed after %v", took)
		}
		// Everyone else is still served.
		admin := secureClient(t, b.Addr(), p.tlsConfig(), plainMech("admin", adminPass))
		if err := admin.Ping(context.Background()); err != nil {
			t.Fatalf("broker no longer serves: %v", err)
		}
	})
}

// writeRequest writes one request frame.
func writeRequest(t *testing.T, c net.Conn, req kmsg.Request, corr int32) {
	t.Helper()
	body := req.AppendTo(nil)
	hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(corr))
	hdr = binary.BigEndian.AppendUint16(hdr, 4)
	hdr = append(hdr, "test"...)
	if req.IsFlexible() {
		hdr = append(hdr, 0)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+len(body)))
	if _, err := c.Write(append(append(frame, hdr...), body...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// roundTrip writes a request and reads its response.
func roundTrip(t *testing.T, c net.Conn, req kmsg.Request) kmsg.Response {
	t.Helper()
	writeRequest(t, c, req, 7)
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("%s: reading the response: %v", kmsg.NameForKey(req.Key()), err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	buf = buf[4:] // correlation id
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		buf = buf[1:] // empty tagged fields of the header
	}
	if err := resp.ReadFrom(buf); err != nil {
		t.Fatalf("decoding %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// expectClosed waits for the broker to close the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection still open")
		}
		return
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// TestSecurityReauthentication checks connections.max.reauth.ms (KIP-368): the session
// lifetime is told in SaslAuthenticate, a client that re-authenticates (franz-go does)
// keeps its connection, and one that does not is closed at its first request after the
// session ended.
func TestSecurityReauthentication(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{listener: "SASL_PLAINTEXT", overrides: []string{
		"sasl.enabled.mechanisms=PLAIN", "sasl.mechanism.inter.broker.protocol=PLAIN", saslPlainJAAS("SASL_PLAINTEXT"),
		"connections.max.reauth.ms=1500",
	}})
	ctx := testCtx(t, time.Minute)
	cl := secureClient(t, b.Addr(), nil, plainMech("admin", adminPass), kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation())
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
			t.Fatalf("produce across re-authentications: %v", err)
		}
	}

	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	hs := handshakeRequest(1, "PLAIN")
	if resp := roundTrip(t, c, hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		t.Fatalf("handshake: %d", resp.ErrorCode)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.SetVersion(1)
	au.SASLAuthBytes = []byte("\x00admin\x00" + adminPass)
	if resp := roundTrip(t, c, au).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 1500 {
		t.Fatalf("authenticate: error %d, session lifetime %d, want 1500", resp.ErrorCode, resp.SessionLifetimeMillis)
	}
	time.Sleep(2 * time.Second)
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(9)
	writeRequest(t, c, md, 3)
	expectClosed(t, c)
}

// handshakeRequest is a SaslHandshake request.
func handshakeRequest(version int16, mechanism string) *kmsg.SASLHandshakeRequest {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.SetVersion(version)
	req.Mechanism = mechanism
	return req
}
