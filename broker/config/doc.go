// Package config holds the broker's configuration: Kafka's own property names,
// defaults and validation rules (Apache Kafka 3.9, ZooKeeper mode), read from a
// server.properties file plus "--override key=value" arguments.
//
// # One table
//
// Every known key is one row of a single table (name, type, default, doc,
// validator, scope broker or topic, Kafka's dynamic flag, broker synonyms). The
// table drives everything else, so they cannot disagree:
//   - parsing of the properties file and of overrides (Load),
//   - validation messages: a bad value is an error naming the key, the value and
//     what is expected, e.g. `invalid value "abc" for configuration
//     "num.partitions": not an integer`; an unknown key is only a Warning,
//   - topic overrides (ResolveTopic, ValidateTopicConfig): unknown key or bad
//     value is an error that matches kerr.InvalidConfig with errors.Is,
//   - DescribeConfigs answers (DescribeBroker, DescribeTopic), with Kafka's
//     config sources and synonyms, computed as Kafka 3.9 computes them (see
//     DescribeTopic for the one surprising case),
//   - the README's configuration table (Keys, MarkdownTable).
//
// # Differences from Apache Kafka
//   - broker.id defaults to 0; Kafka's -1 (generated id) is not supported and a
//     negative broker.id is an error.
//   - listeners defaults to PLAINTEXT://127.0.0.1:9092 (Kafka: PLAINTEXT://:9092)
//     and log.dir to "data", relative to the working directory (Kafka:
//     /tmp/kafka-logs).
//   - listener.name.<listener>.<key> overrides are known for the ssl.* and
//     sasl.* keys and <mechanism>.sasl.jaas.config (ListenerValue); GSSAPI and
//     OAUTHBEARER are not supported.
//   - a listener with an empty host is advertised with the machine's hostname;
//     advertising 0.0.0.0 or :: is an error (Kafka rejects 0.0.0.0).
//   - with neither inter.broker.listener.name nor security.inter.broker.protocol
//     set and no listener named PLAINTEXT, the first listener serves brokers
//     (Kafka refuses to start).
//   - remote (tiered) storage is not supported: enabling it is an error.
//   - "metrics.listen" is our own key (not Kafka's): the host:port of the
//     Prometheus HTTP endpoint, empty to disable.
//   - default.replication.factor must be between 1 and 32767 (Kafka does not
//     check it at start-up).
//   - the properties file is read as UTF-8 (Java reads ISO-8859-1); \uXXXX
//     escapes work as in Java.
//   - many keys are accepted for compatibility only (thread counts, purgatory
//     intervals, ...): they are parsed, validated and reported, but have no
//     effect. Their doc says so.
//
// # Concurrency
//
// A *Config is built once by Load (or Default) and then only read: all methods
// are safe for concurrent use as long as nobody writes the struct. Nothing in
// the package keeps mutable global state; the key table is built once and never
// changed.
package config
