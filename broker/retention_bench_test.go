package broker

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"kbroker/broker/config"
	"kbroker/log"
)

// BenchmarkRetentionPass10k is one pass of the log manager's retention task over 10,000
// hosted partitions with nothing to delete (Kafka's defaults: 7 days, no size limit), the
// steady state of a broker with many partitions. It reports the CPU time of the pass
// (user+system from getrusage) as cpu-ms/pass (docs/benchmarks.md).
func BenchmarkRetentionPass10k(b *testing.B) {
	const n = 10_000
	cfg := config.Default()
	cfg.LogDirs = []string{b.TempDir()}
	rm := newReplicaManager(cfg, zerolog.Nop())
	b.Cleanup(func() { _ = rm.close() })
	tc, err := cfg.ResolveTopic(nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := rawBatch(10, 100)
	st := leaderState{leader: 0, leaderEpoch: 0, replicas: []int32{0}, isr: []int32{0}}
	for i := 0; i < n; i++ {
		p, err := rm.makeLeader(log.TopicPartition{Topic: fmt.Sprintf("t%d", i/100), Partition: int32(i % 100)}, [16]byte{byte(i / 100)}, tc, st)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.appendClientBatch(append([]byte(nil), batch...), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rm.cleanupLogs()
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/pass")
}
