package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is a parsed kload command line.
type Config struct {
	Brokers     []string
	Topic       string
	Records     int
	Size        int
	Partitions  int32
	Replication int16
	Acks        string // "all", "1" or "0"
	Mode        string // "produce", "consume" or "both"
	Compression string // "none", "gzip", "snappy", "lz4" or "zstd"
	Linger      time.Duration
	Partitioner string // "sticky" (franz-go's default) or "roundrobin"
	Inflight    int
	Txn         int    // records per transaction; 0: no transactions
	Isolation   string // "read_uncommitted" or "read_committed" (consume)
	Timeout     time.Duration
	JSON        bool
	TLSCA       string // PEM file of the CA to trust: connect with TLS ("" = plaintext)
}

// base returns the options every client starts from (ParseConfig has checked -tls-ca).
func (c Config) base() []kgo.Opt {
	opts, err := c.clientOpts()
	if err != nil {
		return []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	}
	return opts
}

// ParseConfig parses args (without the program name); errors name the flag.
func ParseConfig(args []string, stderr io.Writer) (Config, error) {
	var c Config
	var brokers string
	var parts, repl int
	fs := flag.NewFlagSet("kload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers")
	fs.StringVar(&c.Topic, "topic", "kload", "topic to load (created when missing)")
	fs.IntVar(&c.Records, "records", 200000, "number of records to produce")
	fs.IntVar(&c.Size, "size", 1024, "record value size in bytes")
	fs.IntVar(&parts, "partitions", 6, "partitions when creating the topic")
	fs.IntVar(&repl, "replication", -1, "replication factor when creating the topic (-1: broker default)")
	fs.StringVar(&c.Acks, "acks", "all", "producer acks: all, 1 or 0")
	fs.StringVar(&c.Mode, "mode", "both", "produce, consume or both")
	fs.StringVar(&c.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&c.Linger, "linger", 5*time.Millisecond, "producer linger")
	fs.StringVar(&c.Partitioner, "partitioner", "sticky", "sticky (franz-go's default: partitions fill unevenly) or roundrobin (record by record: equal partitions)")
	fs.IntVar(&c.Inflight, "inflight", 5, "produce requests in flight per broker when acks is 1 or 0")
	fs.IntVar(&c.Txn, "txn", 0, "records per transaction (a transactional producer, acks=all; 0: none)")
	fs.StringVar(&c.Isolation, "isolation", "read_uncommitted", "consumer isolation: read_uncommitted or read_committed")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "overall deadline")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON object instead of text")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "connect with TLS, trusting the CA certificates in this PEM file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	c.Partitions, c.Replication = int32(parts), int16(repl)
	if err := c.validate(parts, repl); err != nil {
		return c, err
	}
	_, err := c.clientOpts()
	return c, err
}

func (c Config) validate(parts, repl int) error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("-brokers: no broker given")
	case c.Topic == "":
		return errors.New("-topic: empty")
	case c.Records < 0:
		return fmt.Errorf("-records: %d is negative", c.Records)
	case c.Size < 0:
		return fmt.Errorf("-size: %d is negative", c.Size)
	case parts < 1 || parts > 1<<20:
		return fmt.Errorf("-partitions: %d out of range", parts)
	case repl < -1 || repl == 0 || repl > 1<<10:
		return fmt.Errorf("-replication: %d out of range", repl)
	case c.Inflight < 1:
		return fmt.Errorf("-inflight: %d, want at least 1", c.Inflight)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout: %v, want a positive duration", c.Timeout)
	case c.Txn < 0:
		return fmt.Errorf("-txn: %d is negative", c.Txn)
	case c.Txn > 0 && c.Acks != "all" && c.Acks != "-1":
		return fmt.Errorf("-txn: transactions need -acks all, not %s", c.Acks)
	case c.Isolation != "read_uncommitted" && c.Isolation != "read_committed":
		return fmt.Errorf("-isolation: %q, want read_uncommitted or read_committed", c.Isolation)
	}
	if _, err := c.acks(); err != nil {
		return err
	}
	if _, err := c.codec(); err != nil {
		return err
	}
	switch c.Mode {
	case "produce", "consume", "both":
	default:
		return fmt.Errorf("-mode: %q, want produce, consume or both", c.Mode)
	}
	switch c.Partitioner {
	case "sticky", "roundrobin":
	default:
		return fmt.Errorf("-partitioner: %q, want sticky or roundrobin", c.Partitioner)
	}
	return nil
}

func (c Config) acks() (kgo.Acks, error) {
	switch c.Acks {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "0":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("-acks: %q, want all, 1 or 0", c.Acks)
}

func (c Config) codec() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("-compression: %q, want none, gzip, snappy, lz4 or zstd", c.Compression)
}

// produces and consumes report which phases run.
func (c Config) produces() bool { return c.Mode != "consume" }
func (c Config) consumes() bool { return c.Mode != "produce" }

// producerOpts are the kgo options of the produce phase.
func (c Config) producerOpts() []kgo.Opt {
	acks, _ := c.acks()
	codec, _ := c.codec()
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(c.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(c.Linger),
	}
	if c.Acks != "all" && c.Acks != "-1" {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(c.Inflight))
	}
	if c.Partitioner == "roundrobin" {
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	}
	if c.Txn > 0 {
		opts = append(opts, kgo.TransactionalID(fmt.Sprintf("kload-%s-%d", c.Topic, time.Now().UnixNano())),
			kgo.TransactionTimeout(time.Minute))
	}
	return opts
}

// consumerOpts are the kgo options of the consume phase besides the assignment.
func (c Config) consumerOpts() []kgo.Opt {
	if c.Isolation == "read_committed" {
		return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	}
	return nil
}

// clientOpts are the seed brokers and, with -tls-ca, TLS.
func (c Config) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLSCA == "" {
		return opts, nil
	}
	pem, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca: no PEM certificate in %s", c.TLSCA)
	}
	return append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: pool})), nil
}
