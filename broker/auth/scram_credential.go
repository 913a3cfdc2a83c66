package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// SCRAM mechanism names, as Kafka spells them (ScramMechanism).
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ScramMechanisms are the SCRAM mechanisms with their Kafka type ids
// (AlterUserScramCredentials mechanism field: 1 = SHA-256, 2 = SHA-512).
var ScramMechanisms = []string{ScramSHA256, ScramSHA512}

// ScramMinIterations and ScramMaxIterations bound the iterations Kafka accepts.
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ScramHash returns the hash of a SCRAM mechanism, or nil for another name.
func ScramHash(mechanism string) func() hash.Hash {
	switch mechanism {
	case ScramSHA256:
		return sha256.New
	case ScramSHA512:
		return sha512.New
	}
	return nil
}

// ScramMechanismByType maps Kafka's mechanism type (1, 2) to its name.
func ScramMechanismByType(t int8) (string, bool) {
	if t >= 1 && int(t) <= len(ScramMechanisms) {
		return ScramMechanisms[t-1], true
	}
	return "", false
}

// ScramMechanismType is the inverse of ScramMechanismByType.
func ScramMechanismType(name string) int8 {
	for i, m := range ScramMechanisms {
		if m == name {
			return int8(i + 1)
		}
	}
	return 0
}

// ScramCredential is what the broker keeps of a SCRAM password (RFC 5802): never the
// password, only the salt, StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key") and the iteration count.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// SaltedPassword is Hi(password, salt, i) of RFC 5802: PBKDF2 with the mechanism's HMAC.
// The password is taken as its UTF-8 bytes, as Kafka's ScramFormatter does (no SASLprep).
func SaltedPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h := ScramHash(mechanism)
	if h == nil {
		return nil, fmt.Errorf("unknown SCRAM mechanism %s", mechanism)
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// CredentialFromSalted derives the stored credential from a salted password (the form
// AlterUserScramCredentials carries).
func CredentialFromSalted(mechanism string, salted, salt []byte, iterations int) (ScramCredential, error) {
	h := ScramHash(mechanism)
	if h == nil {
		return ScramCredential{}, fmt.Errorf("unknown SCRAM mechanism %s", mechanism)
	}
	clientKey := hmacOf(h, salted, "Client Key")
	sum := h()
	sum.Write(clientKey)
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  sum.Sum(nil),
		ServerKey:  hmacOf(h, salted, "Server Key"),
		Iterations: iterations,
	}, nil
}

// NewScramCredential derives the stored credential of a password.
func NewScramCredential(mechanism, password string, salt []byte, iterations int) (ScramCredential, error) {
	salted, err := SaltedPassword(mechanism, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return CredentialFromSalted(mechanism, salted, salt, iterations)
}

func hmacOf(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// String encodes the credential as Kafka's ScramCredentialUtils.credentialToString does:
// salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>.
func (c ScramCredential) String() string {
	enc := base64.StdEncoding.EncodeToString
	return "salt=" + enc(c.Salt) + ",stored_key=" + enc(c.StoredKey) + ",server_key=" + enc(c.ServerKey) +
		",iterations=" + strconv.Itoa(c.Iterations)
}

// ParseScramCredential decodes ScramCredential.String's form.
func ParseScramCredential(s string) (ScramCredential, error) {
	var c ScramCredential
	seen := 0
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, errors.New("SCRAM credential: expected key=value pairs")
		}
		var err error
		switch k {
		case "salt":
			c.Salt, err = base64.StdEncoding.DecodeString(v)
		case "stored_key":
			c.StoredKey, err = base64.StdEncoding.DecodeString(v)
		case "server_key":
			c.ServerKey, err = base64.StdEncoding.DecodeString(v)
		case "iterations":
			c.Iterations, err = strconv.Atoi(v)
		default:
			continue
		}
		if err != nil {
			return c, fmt.Errorf("SCRAM credential: bad %s", k)
		}
		seen++
	}
	if seen != 4 || len(c.Salt) == 0 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0 || c.Iterations <= 0 {
		return c, errors.New("SCRAM credential: needs salt, stored_key, server_key and iterations")
	}
	return c, nil
}

// Credentials holds every user's SCRAM credentials, per mechanism. The broker fills it
// from /config/users at start and on every change notification; SCRAM exchanges read it.
type Credentials struct {
	mu    sync.RWMutex
	users map[string]map[string]ScramCredential
}

// NewCredentials returns an empty set.
func NewCredentials() *Credentials {
	return &Credentials{users: map[string]map[string]ScramCredential{}}
}

// SetUser replaces a user's credentials (none: the user has no SCRAM credential).
func (c *Credentials) SetUser(user string, creds map[string]ScramCredential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(creds) == 0 {
		delete(c.users, user)
		return
	}
	c.users[user] = creds
}

// Get returns a user's credential for a mechanism.
func (c *Credentials) Get(user, mechanism string) (ScramCredential, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cred, ok := c.users[user][mechanism]
	return cred, ok
}

// User returns a copy of a user's credentials.
func (c *Credentials) User(user string) map[string]ScramCredential {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]ScramCredential, len(c.users[user]))
	for m, cred := range c.users[user] {
		out[m] = cred
	}
	return out
}

// Users returns the names of the users with at least one credential.
func (c *Credentials) Users() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.users))
	for u := range c.users {
		out = append(out, u)
	}
	return out
}

// UserCredentialsFromConfig reads the SCRAM entries of a /config/users/<user> config map.
// Entries that do not parse are returned as errors by mechanism name (never with the value).
func UserCredentialsFromConfig(cfg map[string]string) (map[string]ScramCredential, error) {
	out := map[string]ScramCredential{}
	var errs []error
	for _, m := range ScramMechanisms {
		v, ok := cfg[m]
		if !ok {
			continue
		}
		cred, err := ParseScramCredential(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			continue
		}
		out[m] = cred
	}
	return out, errors.Join(errs...)
}
