// Command kbench runs the side-by-side benchmark of this broker and Apache Kafka 3.9
// (ZooKeeper mode) on this machine and prints one table (see package kbroker/bench).
//
//	kbench -broker bin/broker -kload bin/kload -kafka-lib .cache/kafka-3.9.2/lib \
//	       -zk .cache/zookeeper/bin/zk-server -work /tmp/kbench [-smoke] [-json] [-out file.md]
//
// Without -kafka-lib only our broker runs (the ratio column stays empty). -smoke runs every
// step with tiny sizes. Exit status: 0 when every step ran, 1 when one failed (the report still shows the
// rest), 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"kbroker/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	smoke := fs.Bool("smoke", false, "every step with tiny sizes (seconds)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown")
	out := fs.String("out", "", "also write the Markdown report to this file")
	jsonOut := fs.String("json-out", "", "also write the JSON report to this file")
	rounds := fs.Int("rounds", 0, "rounds per system (0: 3, or 1 with -smoke)")
	noJava := fs.Bool("no-java-perf", false, "skip kafka-producer-perf-test and kafka-consumer-perf-test")
	noRecovery := fs.Bool("no-recovery", false, "skip the kill -9 recovery step")
	noScale := fs.Bool("no-scale", false, "skip the partitions and idle connections step")
	timeout := fs.Duration("timeout", 2*time.Hour, "overall deadline")
	scaleParts := fs.Int("scale-partitions", -1, "partitions of the scale step (-1: 10000, or 50 with -smoke)")
	idleConns := fs.Int("idle-conns", -1, "idle connections of the scale step (-1: 5000, or 50 with -smoke)")
	noLoad := fs.Bool("no-load", false, "skip the load rounds (start-up, throughput, latency, RSS)")
	noReplicated := fs.Bool("no-replicated", false, "skip the replicated workload (3 brokers per system, RF 3, acks=all)")
	noTxn := fs.Bool("no-txn", false, "skip the transactional workload (transactions of 1,000 records, read_committed)")
	noTLS := fs.Bool("no-tls", false, "skip the TLS step (produce, consume and handshakes over an SSL listener)")
	noCleaner := fs.Bool("no-cleaner", false, "skip the compaction step")
	cleanerThrottle := fs.Float64("cleaner-throttle", 0, "log.cleaner.io.max.bytes.per.second of both brokers in the compaction step (0: no limit)")
	cleanerBytes := fs.Int64("cleaner-bytes", -1, "bytes of keyed records the compaction step cleans per compacted topic (-1: 512 MiB, or 4 MiB with -smoke)")
	var c bench.Config
	fs.StringVar(&c.BrokerBin, "broker", "", "our broker binary")
	fs.StringVar(&c.KloadBin, "kload", "", "kload binary")
	fs.StringVar(&c.KafkaLib, "kafka-lib", "", "Apache Kafka 3.9 jars (empty: our broker only)")
	fs.StringVar(&c.KafkaLog4j, "kafka-log4j", "", "log4j.properties for the Kafka broker")
	fs.StringVar(&c.ZKServer, "zk", "", "ZooKeeper launcher (zk-server <port> <dataDir>)")
	fs.StringVar(&c.Java, "java", "java", "java binary")
	fs.StringVar(&c.WorkDir, "work", "", "work directory (data of both systems)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := bench.Defaults()
	if *smoke {
		cfg = bench.Smoke()
	}
	cfg.BrokerBin, cfg.KloadBin, cfg.KafkaLib, cfg.KafkaLog4j = c.BrokerBin, c.KloadBin, c.KafkaLib, c.KafkaLog4j
	cfg.ZKServer, cfg.Java, cfg.WorkDir = c.ZKServer, c.Java, c.WorkDir
	if *rounds > 0 {
		cfg.Rounds = *rounds
	}
	if *noJava {
		cfg.JavaPerf = false
	}
	if *noRecovery {
		cfg.RecoveryBytes = 0
	}
	if *scaleParts >= 0 {
		cfg.ScalePartitions = *scaleParts
	}
	if *idleConns >= 0 {
		cfg.IdleConns = *idleConns
	}
	if *noLoad {
		cfg.SkipLoad = true
	}
	if *noReplicated {
		cfg.ReplicatedRecords = 0
	}
	if *noTxn {
		cfg.TxnRecords = 0
	}
	if *noTLS {
		cfg.TLSRecords = 0
	}
	if *cleanerBytes >= 0 {
		cfg.CleanerBytes = *cleanerBytes
	}
	cfg.CleanerThrottle = *cleanerThrottle
	if *noCleaner {
		cfg.CleanerBytes = 0
	}
	if *noScale {
		cfg.ScalePartitions, cfg.IdleConns = 0, 0
	}
	cfg.Logger = zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger().Level(zerolog.InfoLevel)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintf(stderr, "kbench: %v\n", err)
		return 1
	}
	status := 0
	if err != nil || len(rep.Failures) > 0 {
		fmt.Fprintf(stderr, "kbench: %d steps failed (%v); the report shows what ran\n", len(rep.Failures), err)
		status = 1
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteMarkdown(stdout)
	}
	if err == nil && *out != "" {
		err = writeFile(*out, rep.WriteMarkdown)
	}
	if err == nil && *jsonOut != "" {
		err = writeFile(*jsonOut, rep.WriteJSON)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kbench: %v\n", err)
		return 1
	}
	return status
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
