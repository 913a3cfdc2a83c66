// Package integration is the end-to-end test suite of the broker: it builds
// the real binary (./cmd/broker) once per run, starts it as a child process on
// a free 127.0.0.1 port with a temporary log.dirs, and drives it with stock
// clients (franz-go kgo/kadm, IBM Sarama) and with hand-framed kmsg requests
// over raw TCP.
//
// Contract of the suite:
//   - Every test starts its own broker through startBroker (t.Cleanup stops
//     it); the broker's combined stdout+stderr is printed with t.Log only
//     when the test fails.
//   - Every blocking client call carries a context deadline, so a broken
//     broker fails a test instead of hanging the run.
//   - A broker bug is reported as a failing test naming the request, the
//     expected and the observed answer; tests are never weakened to pass.
//
// The package holds no production code; everything lives in _test.go files.
// Run it with `make integration` or `go test -count=1 ./integration/...`.
package integration
