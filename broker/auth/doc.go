// Package auth is the broker's authentication: TLS settings of a listener (key stores and
// trust stores in JKS, PKCS12 or PEM, client certificates and the principal taken from their
// subject), SASL mechanisms (PLAIN from the listener's JAAS configuration, SCRAM-SHA-256 and
// SCRAM-SHA-512) and SCRAM credentials encoded as Kafka stores them in /config/users/<user>.
//
// The network server builds one Listener per configured listener at start and hands each
// connection's SASL exchange to it; handlers ask the connection's principal, never the other
// way round. Nothing here logs, and no error or string produced here carries a password, a
// key or a SASL token: errors name keys and users only.
//
// Concurrency: a Listener is immutable once built and safe for concurrent use; Credentials is
// safe for concurrent use (credential changes replace whole entries); an Exchange belongs to
// one connection.
package auth
