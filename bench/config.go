package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Config says what to run and where the tools are.
type Config struct {
	BrokerBin  string // our broker binary
	KloadBin   string // the kload binary
	KafkaLib   string // Apache Kafka 3.9 jars (.cache/kafka-3.9.x/lib); "" skips Kafka
	KafkaLog4j string // log4j.properties for the Kafka broker ("" = none)
	ZKServer   string // ZooKeeper launcher (.cache/zookeeper/bin/zk-server)
	Java       string // java binary (default "java")
	WorkDir    string // data directories of both systems, created and removed here

	Rounds        int   // alternating rounds per system of the load and replicated steps; medians are taken over them
	SkipLoad      bool  // skip the load rounds (start-up, throughput, latency, RSS)
	Partitions    int32 // partitions of every load topic
	Records1K     int   // records of the 1 KiB produce runs
	Records100    int   // records of the 100 B produce runs
	JavaPerf      bool  // also run kafka-producer-perf-test / kafka-consumer-perf-test
	PerfRecords   int   // records of the Java perf-test runs (1 KiB)
	E2ERate       int   // records/s of the end-to-end latency probe
	E2EDuration   time.Duration
	E2EWarmup     time.Duration
	RecoveryBytes int64 // log written before kill -9 (0 skips the recovery step)
	// ReplicatedRecords are the 1 KiB records of the replicated workload (three brokers per
	// system, replication factor 3, acks=all), run Rounds times; 0 skips it.
	ReplicatedRecords int
	// TxnRecords are the 1 KiB records of the transactional workload (transactions of
	// 1,000 records, then a read_committed consume), run Rounds times; 0 skips it.
	TxnRecords int
	// TLSRecords are the 1 KiB records produced and consumed over an SSL listener in the TLS
	// step, run Rounds times, which also counts TLS handshakes per second for
	// TLSHandshakeTime; 0 skips it.
	TLSRecords       int
	TLSHandshakeTime time.Duration
	// CleanerBytes of keyed records over CleanerKeys keys are compacted by each broker's log
	// cleaner in the compaction step (cleaner.go); 0 skips it.
	CleanerBytes    int64
	CleanerKeys     int
	CleanerThrottle float64 // log.cleaner.io.max.bytes.per.second of both brokers in that step (0: none)
	ScalePartitions int     // partitions of the scale step (0 skips it)
	IdleConns       int     // idle connections of the scale step (0 skips them)
	LimitBytes      int64   // bytes written to measure the disk (and the loopback duration scales with it)

	Logger zerolog.Logger
}

// Defaults is the full benchmark of `make bench`.
func Defaults() Config {
	return Config{
		Java: "java", Rounds: 3, Partitions: 6,
		Records1K: 300_000, Records100: 2_000_000, JavaPerf: true, PerfRecords: 300_000,
		E2ERate: 10_000, E2EDuration: 15 * time.Second, E2EWarmup: 3 * time.Second,
		ReplicatedRecords: 300_000, TxnRecords: 300_000, TLSRecords: 300_000, TLSHandshakeTime: 5 * time.Second,
		CleanerBytes: 512 << 20, CleanerKeys: 100_000,
		RecoveryBytes: 1 << 30, ScalePartitions: 10_000, IdleConns: 5_000, LimitBytes: 1 << 30,
	}
}

// Smoke is the seconds-long version of `make bench-smoke`: every step, tiny sizes.
func Smoke() Config {
	return Config{
		Java: "java", Rounds: 1, Partitions: 3,
		Records1K: 2_000, Records100: 5_000, JavaPerf: true, PerfRecords: 2_000,
		E2ERate: 500, E2EDuration: 2 * time.Second, E2EWarmup: 500 * time.Millisecond,
		ReplicatedRecords: 2_000, TxnRecords: 5_000, TLSRecords: 2_000, TLSHandshakeTime: time.Second,
		CleanerBytes: 4 << 20, CleanerKeys: 1_000,
		RecoveryBytes: 4 << 20, ScalePartitions: 50, IdleConns: 50, LimitBytes: 16 << 20,
	}
}

func (c Config) validate() error {
	switch {
	case c.BrokerBin == "":
		return errors.New("bench: no broker binary")
	case c.KloadBin == "":
		return errors.New("bench: no kload binary")
	case c.WorkDir == "":
		return errors.New("bench: no work directory")
	case c.KafkaLib != "" && c.ZKServer == "":
		return errors.New("bench: Kafka needs the ZooKeeper launcher")
	case c.ReplicatedRecords > 0 && c.ZKServer == "":
		return errors.New("bench: the replicated workload needs the ZooKeeper launcher (-zk, or -no-replicated)")
	case c.Rounds < 0:
		return fmt.Errorf("bench: %d rounds", c.Rounds)
	case c.Partitions < 1:
		return fmt.Errorf("bench: %d partitions, want at least 1", c.Partitions)
	case c.E2ERate < 1 || c.E2EDuration <= c.E2EWarmup:
		return fmt.Errorf("bench: end-to-end probe rate %d for %v (warm-up %v)", c.E2ERate, c.E2EDuration, c.E2EWarmup)
	}
	return nil
}
