// Package bench runs the side-by-side benchmark of this broker and Apache
// Kafka 3.9 (ZooKeeper mode) on one machine, and measures the machine's
// physical limits in the same run.
//
// Run starts each system in turn (rounds alternate: ours, Kafka, ours, ...),
// drives it with the same client (the kload binary, franz-go, plus the
// in-process end-to-end latency probe of this package and optionally Kafka's
// own perf-test tools), samples the server process from /proc (VmRSS, VmHWM,
// CPU ticks) and stops it. Every figure is kept per round; the Report holds
// the median of the rounds for each system and the ratio ours/Kafka.
//
// Contract:
//   - Nothing here asserts anything about speed: a step that cannot run is an
//     error, a step that runs yields numbers.
//   - Every process started is killed before Run returns, also on error or
//     context cancellation; each system's data lives under Config.WorkDir and
//     is removed after its round.
//   - Progress is logged through the injected zerolog.Logger; the Report is
//     returned and rendered by the caller (Markdown or JSON).
//   - All traffic stays on 127.0.0.1.
//
// Run is not safe for concurrent use with the same WorkDir.
package bench
