package config

import (
	"regexp"
	"strings"
)

// securityKeys are the TLS, SASL and authorizer keys (Kafka's SslConfigs,
// BrokerSecurityConfigs, SaslConfigs and AclAuthorizer properties, 3.9). The
// ssl.* and sasl.* keys may also be given per listener as
// listener.name.<lower-case listener name>.<key> (ListenerValue).
func securityKeys() []keyDef {
	return []keyDef{
		// TLS.
		{name: "ssl.keystore.type", typ: TypeString, def: "JKS", valid: oneOf("JKS", "PKCS12", "PEM"), dynamic: true,
			doc: "Format of the key store: JKS, PKCS12 or PEM (file at ssl.keystore.location, or inline in ssl.keystore.key and ssl.keystore.certificate.chain)."},
		{name: "ssl.keystore.location", typ: TypeString, null: true, dynamic: true,
			doc: "Path of the key store holding this broker's private key and certificate chain."},
		{name: "ssl.keystore.password", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Password of the key store file (JKS and PKCS12)."},
		{name: "ssl.key.password", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Password of the private key in the key store (JKS; PEM: the key is encrypted PKCS#8); unset = ssl.keystore.password for JKS."},
		{name: "ssl.keystore.key", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Private key in PEM (PKCS#8, encrypted when ssl.key.password is set), with ssl.keystore.type=PEM."},
		{name: "ssl.keystore.certificate.chain", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Certificate chain in PEM, with ssl.keystore.type=PEM and ssl.keystore.key."},
		{name: "ssl.truststore.type", typ: TypeString, def: "JKS", valid: oneOf("JKS", "PKCS12", "PEM"), dynamic: true,
			doc: "Format of the trust store: JKS, PKCS12 or PEM."},
		{name: "ssl.truststore.location", typ: TypeString, null: true, dynamic: true,
			doc: "Path of the trust store: the certificate authorities client certificates (and, between brokers, server certificates) are checked against."},
		{name: "ssl.truststore.password", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Password of the trust store file (JKS and PKCS12; optional)."},
		{name: "ssl.truststore.certificates", typ: TypePassword, null: true, sensitive: true, dynamic: true,
			doc: "Trusted certificates in PEM, with ssl.truststore.type=PEM."},
		{name: "ssl.client.auth", typ: TypeString, def: "none", valid: oneOf("required", "requested", "none"),
			doc: "Client certificates: required (the handshake fails without one), requested (checked when given), none."},
		{name: "ssl.enabled.protocols", typ: TypeList, def: "TLSv1.2,TLSv1.3", valid: oneOf("TLSv1.2", "TLSv1.3", "TLSv1.1", "TLSv1"), dynamic: true,
			doc: "TLS versions accepted."},
		{name: "ssl.protocol", typ: TypeString, def: "TLSv1.3", dynamic: true,
			doc: "TLS protocol of the SSLContext; the versions in use come from ssl.enabled.protocols."},
		{name: "ssl.cipher.suites", typ: TypeList, def: "", dynamic: true,
			doc: "TLS 1.2 cipher suites accepted, by their IANA names; empty = Go's secure defaults. TLS 1.3 suites cannot be restricted."},
		{name: "ssl.endpoint.identification.algorithm", typ: TypeString, def: "https", dynamic: true,
			doc: "Between brokers: https checks the other broker's host name against its certificate; empty = no check."},
		{name: "ssl.principal.mapping.rules", typ: TypeString, def: "DEFAULT",
			doc: "Rules mapping a client certificate's distinguished name to a user name: RULE:pattern/replacement/[LU], ..., DEFAULT."},
		{name: "ssl.allow.dn.changes", typ: TypeBoolean, def: "false",
			doc: "Let a dynamic key store update change the certificate's distinguished name."},
		{name: "ssl.allow.san.changes", typ: TypeBoolean, def: "false",
			doc: "Let a dynamic key store update change the certificate's subject alternative names."},
		{name: "ssl.keymanager.algorithm", typ: TypeString, def: "SunX509", dynamic: true,
			doc: "Java key manager algorithm." + compat},
		{name: "ssl.trustmanager.algorithm", typ: TypeString, def: "PKIX", dynamic: true,
			doc: "Java trust manager algorithm." + compat},
		{name: "ssl.secure.random.implementation", typ: TypeString, null: true, dynamic: true,
			doc: "Java SecureRandom implementation." + compat},

		// Encryption of the password configs set dynamically (stored in ZooKeeper).
		{name: "password.encoder.secret", typ: TypePassword, null: true, sensitive: true,
			doc: "Secret the password configs set dynamically are encrypted with in ZooKeeper; without it they are refused.",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.Secret = v.s }},
		{name: "password.encoder.old.secret", typ: TypePassword, null: true, sensitive: true,
			doc: "The previous password.encoder.secret, to read passwords stored before a change of secret.",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.OldSecret = v.s }},
		{name: "password.encoder.keyfactory.algorithm", typ: TypeString, null: true,
			doc: "Key derivation of the password encoder: PBKDF2WithHmacSHA512 (default), PBKDF2WithHmacSHA256 or PBKDF2WithHmacSHA1.",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.KeyFactory = v.s }},
		{name: "password.encoder.cipher.algorithm", typ: TypeString, def: "AES/CBC/PKCS5Padding",
			doc: "Cipher of the password encoder: AES/CBC/PKCS5Padding or AES/GCM/NoPadding.",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.Cipher = v.s }},
		{name: "password.encoder.key.length", typ: TypeInt, def: "128", valid: atLeast(8),
			doc: "Key length in bits of the password encoder (an AES key length: 128, 192 or 256).",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.KeyLength = int(v.i) }},
		{name: "password.encoder.iterations", typ: TypeInt, def: "4096", valid: atLeast(1024),
			doc: "Iterations of the password encoder's key derivation.",
			set: func(c *Config, v value) { c.Security.PasswordEncoder.Iterations = int(v.i) }},

		// SASL.
		{name: "sasl.enabled.mechanisms", typ: TypeList, def: "GSSAPI", dynamic: true,
			doc: "SASL mechanisms offered on SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not supported and ignored)."},
		{name: "sasl.mechanism.inter.broker.protocol", typ: TypeString, def: "GSSAPI", dynamic: true,
			doc: "SASL mechanism between brokers; must be enabled on the inter-broker listener.",
			set: func(c *Config, v value) { c.Security.InterBrokerMechanism = v.s }},
		{name: "sasl.server.max.receive.size", typ: TypeInt, def: "524288",
			doc: "Largest request accepted before authentication completes.",
			set: func(c *Config, v value) { c.Security.SaslServerMaxReceiveSize = int32(v.i) }},
		{name: "connections.max.reauth.ms", typ: TypeLong, def: "0", valid: atLeast(0),
			doc: "Longest SASL session before the client must re-authenticate (KIP-368); 0 = never.",
			set: func(c *Config, v value) { c.Security.ConnectionsMaxReauthMs = v.i }},
		{name: "principal.builder.class", typ: TypeClass, def: "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder",
			doc: "Principal builder." + compat},

		// Authorizer.
		{name: "authorizer.class.name", typ: TypeString, def: "",
			valid: oneOf("", "kafka.security.authorizer.AclAuthorizer", "kafka.security.auth.SimpleAclAuthorizer"),
			doc:   "kafka.security.authorizer.AclAuthorizer switches ACLs on (stored in ZooKeeper under /kafka-acl); empty = every client may do everything.",
			set:   func(c *Config, v value) { c.Security.AuthorizerClassName = v.s }},
		{name: "super.users", typ: TypeString, null: true,
			doc: "Principals allowed everything, separated by semicolons: User:admin;User:CN=broker.",
			set: func(c *Config, v value) {
				for _, p := range strings.Split(v.s, ";") {
					if p = strings.TrimSpace(p); p != "" {
						c.Security.SuperUsers = append(c.Security.SuperUsers, p)
					}
				}
			}},
		{name: "allow.everyone.if.no.acl.found", typ: TypeBoolean, def: "false",
			doc: "With the authorizer on, allow an operation on a resource that has no ACL at all.",
			set: func(c *Config, v value) { c.Security.AllowEveryoneIfNoACLFound = v.b }},
	}
}

// Security holds the typed security settings. Per-listener TLS and SASL
// settings are read with ListenerValue.
type Security struct {
	InterBrokerMechanism      string          // sasl.mechanism.inter.broker.protocol GSSAPI
	SaslServerMaxReceiveSize  int32           // sasl.server.max.receive.size 524288
	ConnectionsMaxReauthMs    int64           // connections.max.reauth.ms 0
	AuthorizerClassName       string          // authorizer.class.name ""
	SuperUsers                []string        // super.users, split on ';'
	AllowEveryoneIfNoACLFound bool            // allow.everyone.if.no.acl.found false
	PasswordEncoder           PasswordEncoder // password.encoder.*
}

// AuthorizerEnabled reports whether ACLs are checked.
func (s Security) AuthorizerEnabled() bool { return s.AuthorizerClassName != "" }

// listenerKeyRE matches listener.name.<listener>.<rest>.
var listenerKeyRE = regexp.MustCompile(`^listener\.name\.([^.]+)\.(.+)$`)

// jaasKeyRE matches <mechanism>.sasl.jaas.config (after the listener prefix).
var jaasKeyRE = regexp.MustCompile(`^([a-z0-9-]+)\.sasl\.jaas\.config$`)

// checkListenerKey checks a listener.name.<l>.<key> entry: ok when name has that
// shape, and then a nil Error when the rest is a per-listener key with a good
// value. known is false when the rest is no per-listener key.
func checkListenerKey(name, raw string) (ok, known bool, bad *Error) {
	m := listenerKeyRE.FindStringSubmatch(name)
	if m == nil {
		return false, false, nil
	}
	rest := m[2]
	if jaasKeyRE.MatchString(rest) {
		return true, true, nil
	}
	k := brokerKey(rest)
	if k == nil || !perListener(rest) {
		return true, false, nil
	}
	if _, bad := k.check(raw); bad != nil {
		bad.Key = name
		return true, true, bad
	}
	return true, true, nil
}

// perListener reports whether key may be set per listener.
func perListener(key string) bool {
	return strings.HasPrefix(key, "ssl.") || strings.HasPrefix(key, "sasl.") || key == "connections.max.reauth.ms"
}

// ListenerValue returns key's value for a listener, as Kafka resolves it:
// listener.name.<lower-case listener>.<key>, else key, else the key's default.
// ok is false when none of them has a value. Keys of the form
// <mechanism>.sasl.jaas.config exist only with the listener prefix.
func (c *Config) ListenerValue(listener, key string) (string, bool) {
	if v, ok := c.Raw["listener.name."+strings.ToLower(listener)+"."+key]; ok {
		return v, true
	}
	if v, ok := c.Raw[key]; ok {
		return v, true
	}
	v, ok := c.values[key]
	return v, ok
}

// ListenerList is ListenerValue for a list key, split on commas.
func (c *Config) ListenerList(listener, key string) []string {
	v, _ := c.ListenerValue(listener, key)
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// InterBrokerListener is the listener brokers use between themselves.
func (c *Config) InterBrokerListener() Listener {
	for _, l := range c.AdvertisedListeners {
		if l.Name == c.InterBrokerListenerName {
			return l
		}
	}
	return c.AdvertisedListeners[0]
}
