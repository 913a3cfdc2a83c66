// Package broker is the network server and request handlers of the broker, and the replica
// manager that owns the partitions this broker hosts.
//
// Shape:
//   - Server (server.go) owns the listeners, the embedded or external metadata store, the
//     metadata cache and the replica manager. It starts every goroutine through one helper
//     (Server.goroutine) so Shutdown can wait for all of them.
//   - Each accepted connection (conn.go) has one reader goroutine that frames, decodes and
//     handles requests strictly in order, and one writer goroutine that writes the responses
//     in the same order. A broken frame or an undecodable request closes that connection only.
//   - apis.go holds the one table of supported API keys and versions; it drives dispatch,
//     version checks and the ApiVersions answer. Handlers live one file per key
//     (00_produce.go, 01_fetch.go, ...), each opening with the versions it serves.
//   - Handlers never panic on input: per-partition problems become error codes in the
//     response; a returned error means "close this connection". The connection boundary
//     recovers from panics as a last line and logs them as bugs.
//   - The replica manager (replica_manager.go, partition.go) holds one lock per partition;
//     appends take it, readers read the high watermark atomically, and long-poll fetches wait
//     on a per-partition waiter set that appends wake. See locks.go for the lock order.
//   - Security: listeners.go binds every listener with its TLS configuration and SASL
//     mechanisms (package auth); conn_auth.go runs a connection's TLS handshake and SASL
//     exchange and sets its principal before any other request is handled; authorize.go asks
//     the ACL authorizer (package acl), which is nil without authorizer.class.name; users.go
//     and acls.go keep SCRAM credentials and ACLs in step with the metadata store. Every
//     connection to another broker goes through Server.dial (cluster.go), over the
//     inter-broker listener's security protocol.
//   - Topic administration (topics.go) plays the controller's part: it writes the topic and
//     partition-state znodes through zkmeta and then makes this broker leader of the new
//     partitions, so that the cluster controller can take over this seam later.
package broker
