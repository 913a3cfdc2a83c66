// Package driver holds what the group and the transaction coordinators share around their
// pure state machines: the single goroutine that owns a machine and feeds it events one at
// a time (Loop: requests with a reply channel, timer firings, outcomes posted by worker
// goroutines), and the lock-protected record of which coordinator partitions are loaded
// (Loads), which request handlers read without going through the loop.
package driver
