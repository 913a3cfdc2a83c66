// Package zkmetatest is the conformance suite every zkmeta.Store
// implementation must pass (the embedded store, the ZooKeeper one).
//
// Run calls open(t) one or more times in each subtest: every call within one
// subtest must return a new session onto the same tree, which is empty when
// the subtest starts apart from its root (a fresh directory for the embedded
// store, a fresh chroot for ZooKeeper). open registers the cleanup of what it
// opens with t.Cleanup; the suite also closes some sessions itself, so
// Close must be idempotent.
package zkmetatest
