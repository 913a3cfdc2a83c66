package integration

import (
	"os"
	"runtime"
	"sync"
	"testing"
)

// dumpedStacks are the tests whose goroutines dumpTestStacks has printed.
var dumpedStacks sync.Map

// dumpTestStacks prints every goroutine of the test process once per failed test when
// KBROKER_IT_STACKS is set: what the clients were waiting on when the test gave up. It runs
// in a client's cleanup, before the client is closed.
func dumpTestStacks(t testing.TB) {
	if !t.Failed() || os.Getenv("KBROKER_IT_STACKS") == "" {
		return
	}
	if _, done := dumpedStacks.LoadOrStore(t.Name(), true); done {
		return
	}
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Logf("test process goroutines:\n%s", buf)
}
