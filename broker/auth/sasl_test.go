package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScramRFC7677 runs the server side of the SCRAM-SHA-256 exchange of RFC 7677 section 3
// (user "user", password "pencil") with the credential derived as Kafka derives it.
func TestScramRFC7677(t *testing.T) {
	creds := NewCredentials()
	cred, err := NewScramCredential(ScramSHA256, "pencil", mustB64(t, "W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)
	if err != nil {
		t.Fatal(err)
	}
	creds.SetUser("user", map[string]ScramCredential{ScramSHA256: cred})
	s, err := NewSASL(getter(map[string]string{"sasl.enabled.mechanisms": "SCRAM-SHA-256"}), creds)
	if err != nil {
		t.Fatal(err)
	}
	s.withNonce(func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" })
	ex, ok := s.Start(ScramSHA256)
	if !ok {
		t.Fatal("SCRAM-SHA-256 not enabled")
	}
	first, done, err := ex.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; err != nil || done || string(first) != want {
		t.Fatalf("server-first %q done=%v err=%v, want %q", first, done, err, want)
	}
	final, done, err := ex.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; err != nil || !done || string(final) != want {
		t.Fatalf("server-final %q done=%v err=%v, want %q", final, done, err, want)
	}
	if ex.User() != "user" {
		t.Errorf("user %q", ex.User())
	}

	// The same exchange with a wrong proof fails with Kafka's message.
	ex, _ = s.Start(ScramSHA256)
	ex.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	_, _, err = ex.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAAAapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Message != "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256" {
		t.Errorf("wrong proof: %v", err)
	}
}

// TestScramCredentialEncoding checks the /config/users value against Kafka's
// ScramCredentialUtils form and that it survives a round trip.
func TestScramCredentialEncoding(t *testing.T) {
	cred, err := NewScramCredential(ScramSHA256, "pencil", mustB64(t, "W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)
	if err != nil {
		t.Fatal(err)
	}
	// StoredKey and ServerKey of RFC 7677's example (computed from its SaltedPassword).
	want := "salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,server_key=wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,iterations=4096"
	if got := cred.String(); got != want {
		t.Errorf("encoded\n %s\nwant\n %s", got, want)
	}
	back, err := ParseScramCredential(want)
	if err != nil || back.String() != want {
		t.Errorf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "salt=AA==", "salt=!!,stored_key=AA==,server_key=AA==,iterations=1", "salt=AA==,stored_key=AA==,server_key=AA==,iterations=x"} {
		if _, err := ParseScramCredential(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMechanismsWithFranzGo runs franz-go's own SASL client mechanisms against the server
// exchanges: PLAIN from a JAAS configuration, SCRAM-SHA-256 and SCRAM-SHA-512.
func TestMechanismsWithFranzGo(t *testing.T) {
	creds := NewCredentials()
	for _, m := range ScramMechanisms {
		c, err := NewScramCredential(m, "bob-secret", []byte("0123456789abcdef"), 4096)
		if err != nil {
			t.Fatal(err)
		}
		creds.SetUser("bob", map[string]ScramCredential{m: c})
		s, err := NewSASL(getter(map[string]string{
			"sasl.enabled.mechanisms": "PLAIN," + m,
			"plain.sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a" user_admin="a" user_alice="alice \"secret\"";`,
		}), creds)
		if err != nil {
			t.Fatal(err)
		}
		scramAuth := kscram.Auth{User: "bob", Pass: "bob-secret"}
		scramMech := scramAuth.AsSha256Mechanism()
		if m == ScramSHA512 {
			scramMech = scramAuth.AsSha512Mechanism()
		}
		cases := []struct {
			mech sasl.Mechanism
			ok   bool
			user string
		}{
			{scramMech, true, "bob"},
			{plain.Auth{User: "alice", Pass: `alice "secret"`}.AsMechanism(), true, "alice"},
			{plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(), false, ""},
			{plain.Auth{User: "nobody", Pass: "a"}.AsMechanism(), false, ""},
		}
		bad := kscram.Auth{User: "bob", Pass: "nope"}
		if m == ScramSHA512 {
			cases = append(cases, struct {
				mech sasl.Mechanism
				ok   bool
				user string
			}{bad.AsSha512Mechanism(), false, ""})
		} else {
			cases = append(cases, struct {
				mech sasl.Mechanism
				ok   bool
				user string
			}{bad.AsSha256Mechanism(), false, ""})
		}
		for _, tc := range cases {
			user, err := converse(t, s, tc.mech)
			if tc.ok != (err == nil) || user != tc.user {
				t.Errorf("%s via %s: user %q err %v, want ok=%v", m, tc.mech.Name(), user, err, tc.ok)
			}
		}
		if _, ok := s.Start("GSSAPI"); ok {
			t.Error("GSSAPI started")
		}
	}
	if _, err := NewSASL(getter(map[string]string{"sasl.enabled.mechanisms": "GSSAPI"}), creds); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("GSSAPI: %v", err)
	}
}

// converse drives a client mechanism against the server's exchange.
func converse(t *testing.T, s *SASL, m sasl.Mechanism) (string, error) {
	t.Helper()
	ex, ok := s.Start(m.Name())
	if !ok {
		t.Fatalf("%s not enabled", m.Name())
	}
	sess, token, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	for {
		answer, done, err := ex.Step(token)
		if err != nil {
			return "", err
		}
		clientDone, next, err := sess.Challenge(answer)
		if err != nil {
			return "", err
		}
		if done {
			if !clientDone {
				t.Fatalf("%s: server done, client not", m.Name())
			}
			return ex.User(), nil
		}
		token = next
	}
}

func TestParseJAAS(t *testing.T) {
	j, err := ParseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required
		username="admin" password="p;w=\"x\"" tokenauth=false ;`)
	if err != nil {
		t.Fatal(err)
	}
	if j.Module != "org.apache.kafka.common.security.scram.ScramLoginModule" || j.Flag != "required" ||
		j.Options["username"] != "admin" || j.Options["password"] != `p;w="x"` || j.Options["tokenauth"] != "false" {
		t.Errorf("%+v", j)
	}
	for _, bad := range []string{"", "Mod", "Mod always;", `Mod required user="x`, "Mod required user", `Mod required a="b"`} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), `"b"`) {
			t.Errorf("error shows a value: %v", err)
		}
	}
}
