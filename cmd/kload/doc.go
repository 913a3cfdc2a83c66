// Command kload is a small load generator for the broker (or any Kafka
// cluster), built on franz-go. It creates the topic when missing, produces
// -records records of -size bytes as fast as it can (asynchronously, with
// several batches in flight), then reads them back with direct partition
// assignment, and reports throughput (MB/s, records/s) and produce latency
// percentiles (p50, p99), as text or, with -json, as one JSON object on
// stdout.
//
//	kload -brokers 127.0.0.1:9092 -topic t -records 200000 -size 1024 \
//	      -partitions 6 -acks all|1|0 -mode produce|consume|both [-json]
//
// MB means 10^6 bytes of record values. Latency is measured per record from
// the Produce call to its acknowledgement, so it includes client batching
// (linger) and queueing behind earlier records. With -acks all the producer is
// idempotent (the franz-go default); with -acks 1 or 0 it is not, and
// -inflight bounds the produce requests in flight per broker. The consume
// phase reads every partition from its start up to the end offsets listed when
// the phase begins.
//
// With -txn N the producer is transactional: it first gets its producer id
// (InitProducerId, which on a fresh broker creates __transaction_state; timed
// apart, before the clock starts), then the records go in transactions of N
// records (begin, produce, commit), one after the other, and the report adds
// how long each commit took (from the commit call, which first waits for the
// transaction's records, to the coordinator's answer), p50 and p99. With
// -isolation read_committed the consume phase reads committed records only;
// since a transaction's markers take offsets too, it then stops after -records
// records (or the produce phase's count) instead of at the end offsets.
//
// Exit status: 0 on success, 1 on a load error, 2 on bad flags.
package main
