package config

import (
	"net"
	"strconv"
)

// Config is the broker's configuration, typed. Each field names the Kafka key
// it comes from; keys marked "accepted for compatibility" are parsed, validated
// and reported by DescribeConfigs but do not change the broker's behaviour.
//
// Build it with Load or Default; a zero Config is not meaningful.
type Config struct {
	// General.
	BrokerID                     int32  // broker.id, 0 by default here (Kafka's -1 auto-generation is not supported)
	BrokerRack                   string // broker.rack
	MessageMaxBytes              int32  // message.max.bytes 1048588
	NumNetworkThreads            int    // num.network.threads 3, accepted for compatibility
	NumIOThreads                 int    // num.io.threads 8, accepted for compatibility
	BackgroundThreads            int    // background.threads 10, accepted for compatibility
	QueuedMaxRequests            int    // queued.max.requests 500
	QueuedMaxRequestBytes        int64  // queued.max.request.bytes -1 (no limit)
	RequestTimeoutMs             int    // request.timeout.ms 30000
	NumRecoveryThreadsPerDataDir int    // num.recovery.threads.per.data.dir 1
	DeleteTopicEnable            bool   // delete.topic.enable true
	AutoCreateTopicsEnable       bool   // auto.create.topics.enable true
	CompressionType              string // compression.type producer
	CompressionGzipLevel         int    // compression.gzip.level -1 (codec default)
	CompressionLz4Level          int    // compression.lz4.level 9
	CompressionZstdLevel         int    // compression.zstd.level 3
	MetricsListen                string // metrics.listen: our own key, Prometheus HTTP address, "" = off

	// ZooKeeper.
	ZookeeperConnect             string // zookeeper.connect ("" = embedded single-node metadata)
	ZookeeperSessionTimeoutMs    int    // zookeeper.session.timeout.ms 18000
	ZookeeperConnectionTimeoutMs int    // zookeeper.connection.timeout.ms, defaults to the session timeout
	ZookeeperMaxInFlightRequests int    // zookeeper.max.in.flight.requests 10
	ZookeeperSetACL              bool   // zookeeper.set.acl false

	// Network.
	Listeners                    []Listener        // listeners, default PLAINTEXT://127.0.0.1:9092
	AdvertisedListeners          []Listener        // advertised.listeners, defaults to Listeners; empty host -> machine's hostname
	ListenerSecurityProtocolMap  map[string]string // listener.security.protocol.map, listener name -> protocol
	InterBrokerListenerName      string            // inter.broker.listener.name, else the listener of security.inter.broker.protocol
	SocketSendBufferBytes        int               // socket.send.buffer.bytes 102400, -1 = OS default
	SocketReceiveBufferBytes     int               // socket.receive.buffer.bytes 102400, -1 = OS default
	SocketRequestMaxBytes        int32             // socket.request.max.bytes 104857600
	SocketListenBacklogSize      int               // socket.listen.backlog.size 50
	MaxConnections               int               // max.connections (Kafka default Int.MaxValue)
	MaxConnectionsPerIP          int               // max.connections.per.ip (Int.MaxValue)
	MaxConnectionsPerIPOverrides string            // max.connections.per.ip.overrides "host:n,..."
	MaxConnectionCreationRate    int               // max.connection.creation.rate (Int.MaxValue)
	ConnectionsMaxIdleMs         int64             // connections.max.idle.ms 600000

	// TLS, SASL and the authorizer (keys_security.go).
	Security Security

	// Log.
	NumPartitions                           int32    // num.partitions 1
	LogDirs                                 []string // log.dirs (comma list), else log.dir; default "data"
	LogSegmentBytes                         int64    // log.segment.bytes 1073741824, at least 14
	LogRollMs                               int64    // log.roll.ms, else log.roll.hours (168) * 3600000
	LogRollJitterMs                         int64    // log.roll.jitter.ms, else log.roll.jitter.hours (0) * 3600000
	LogRetentionMs                          int64    // log.retention.ms > log.retention.minutes > log.retention.hours (168); -1 = unlimited
	LogRetentionBytes                       int64    // log.retention.bytes -1
	LogRetentionCheckIntervalMs             int64    // log.retention.check.interval.ms 300000
	LogCleanupPolicy                        string   // log.cleanup.policy delete (comma list of delete, compact)
	LogCleanerEnable                        bool     // log.cleaner.enable true
	LogCleanerThreads                       int      // log.cleaner.threads 1
	LogCleanerBackoffMs                     int64    // log.cleaner.backoff.ms 15000
	LogCleanerDedupeBufferSize              int64    // log.cleaner.dedupe.buffer.size 134217728
	LogCleanerIOMaxBytesPerSecond           float64  // log.cleaner.io.max.bytes.per.second, Double.MAX (no limit)
	LogCleanerMinCleanableRatio             float64  // log.cleaner.min.cleanable.ratio 0.5
	LogCleanerDeleteRetentionMs             int64    // log.cleaner.delete.retention.ms 86400000
	LogCleanerMinCompactionLagMs            int64    // log.cleaner.min.compaction.lag.ms 0
	LogCleanerMaxCompactionLagMs            int64    // log.cleaner.max.compaction.lag.ms Long.MAX
	LogIndexIntervalBytes                   int32    // log.index.interval.bytes 4096
	LogIndexSizeMaxBytes                    int32    // log.index.size.max.bytes 10485760
	LogFlushIntervalMessages                int64    // log.flush.interval.messages Long.MAX
	LogFlushIntervalMs                      int64    // log.flush.interval.ms, else log.flush.scheduler.interval.ms (Long.MAX)
	LogFlushSchedulerIntervalMs             int64    // log.flush.scheduler.interval.ms Long.MAX
	LogFlushOffsetCheckpointIntervalMs      int64    // log.flush.offset.checkpoint.interval.ms 60000
	LogFlushStartOffsetCheckpointIntervalMs int64    // log.flush.start.offset.checkpoint.interval.ms 60000
	LogSegmentDeleteDelayMs                 int64    // log.segment.delete.delay.ms 60000
	LogPreallocate                          bool     // log.preallocate false
	MinInsyncReplicas                       int      // min.insync.replicas 1
	LogMessageFormatVersion                 string   // log.message.format.version 3.0-IV1 (deprecated, accepted)
	LogMessageTimestampType                 string   // log.message.timestamp.type CreateTime
	LogMessageTimestampDifferenceMaxMs      int64    // log.message.timestamp.difference.max.ms Long.MAX (deprecated)
	LogMessageTimestampBeforeMaxMs          int64    // log.message.timestamp.before.max.ms Long.MAX
	LogMessageTimestampAfterMaxMs           int64    // log.message.timestamp.after.max.ms Long.MAX
	LogMessageDownconversionEnable          bool     // log.message.downconversion.enable true
	LogLocalRetentionMs                     int64    // log.local.retention.ms -2 (tiered storage, not supported)
	LogLocalRetentionBytes                  int64    // log.local.retention.bytes -2 (tiered storage, not supported)

	// Replication.
	DefaultReplicationFactor                 int16  // default.replication.factor 1
	ReplicaLagTimeMaxMs                      int64  // replica.lag.time.max.ms 30000
	ReplicaSocketTimeoutMs                   int    // replica.socket.timeout.ms 30000
	ReplicaSocketReceiveBufferBytes          int    // replica.socket.receive.buffer.bytes 65536
	ReplicaFetchMaxBytes                     int32  // replica.fetch.max.bytes 1048576
	ReplicaFetchWaitMaxMs                    int    // replica.fetch.wait.max.ms 500
	ReplicaFetchMinBytes                     int32  // replica.fetch.min.bytes 1
	ReplicaFetchBackoffMs                    int    // replica.fetch.backoff.ms 1000
	LeaderReplicationThrottledRate           int64  // leader.replication.throttled.rate Long.MAX (dynamic)
	FollowerReplicationThrottledRate         int64  // follower.replication.throttled.rate Long.MAX (dynamic)
	ReplicationQuotaWindowNum                int    // replication.quota.window.num 11
	ReplicationQuotaWindowSizeSeconds        int    // replication.quota.window.size.seconds 1
	QuotaWindowNum                           int    // quota.window.num 11
	QuotaWindowSizeSeconds                   int    // quota.window.size.seconds 1
	ControllerQuotaWindowNum                 int    // controller.quota.window.num 11
	ControllerQuotaWindowSizeSeconds         int    // controller.quota.window.size.seconds 1
	ReplicaFetchResponseMaxBytes             int32  // replica.fetch.response.max.bytes 10485760
	NumReplicaFetchers                       int    // num.replica.fetchers 1
	ReplicaHighWatermarkCheckpointIntervalMs int64  // replica.high.watermark.checkpoint.interval.ms 5000
	ControllerSocketTimeoutMs                int    // controller.socket.timeout.ms 30000
	AutoLeaderRebalanceEnable                bool   // auto.leader.rebalance.enable true
	LeaderImbalancePerBrokerPercentage       int    // leader.imbalance.per.broker.percentage 10
	LeaderImbalanceCheckIntervalSeconds      int64  // leader.imbalance.check.interval.seconds 300
	UncleanLeaderElectionEnable              bool   // unclean.leader.election.enable false
	InterBrokerProtocolVersion               string // inter.broker.protocol.version 3.9-IV0
	ControlledShutdownEnable                 bool   // controlled.shutdown.enable true
	ControlledShutdownMaxRetries             int    // controlled.shutdown.max.retries 3
	ControlledShutdownRetryBackoffMs         int64  // controlled.shutdown.retry.backoff.ms 5000

	// Group coordinator and committed offsets.
	GroupInitialRebalanceDelayMs    int   // group.initial.rebalance.delay.ms 3000
	GroupMinSessionTimeoutMs        int   // group.min.session.timeout.ms 6000
	GroupMaxSessionTimeoutMs        int   // group.max.session.timeout.ms 1800000
	GroupMaxSize                    int   // group.max.size Int.MaxValue
	OffsetMetadataMaxBytes          int   // offset.metadata.max.bytes 4096
	OffsetsLoadBufferSize           int   // offsets.load.buffer.size 5242880
	OffsetsTopicNumPartitions       int32 // offsets.topic.num.partitions 50
	OffsetsTopicReplicationFactor   int16 // offsets.topic.replication.factor 3 (Kafka), clamp to live brokers later
	OffsetsTopicSegmentBytes        int32 // offsets.topic.segment.bytes 104857600
	OffsetsTopicCompressionCodec    int   // offsets.topic.compression.codec 0 (none)
	OffsetsRetentionMinutes         int   // offsets.retention.minutes 10080
	OffsetsRetentionCheckIntervalMs int64 // offsets.retention.check.interval.ms 600000
	OffsetsCommitTimeoutMs          int   // offsets.commit.timeout.ms 5000

	// Transactions and idempotent producers.
	TransactionalIDExpirationMs                          int   // transactional.id.expiration.ms 604800000
	TransactionMaxTimeoutMs                              int   // transaction.max.timeout.ms 900000
	TransactionStateLogNumPartitions                     int32 // transaction.state.log.num.partitions 50
	TransactionStateLogReplicationFactor                 int16 // transaction.state.log.replication.factor 3
	TransactionStateLogMinISR                            int   // transaction.state.log.min.isr 2
	TransactionStateLogSegmentBytes                      int32 // transaction.state.log.segment.bytes 104857600
	TransactionStateLogLoadBufferSize                    int   // transaction.state.log.load.buffer.size 5242880
	TransactionAbortTimedOutTransactionCleanupIntervalMs int   // transaction.abort.timed.out.transaction.cleanup.interval.ms 10000
	TransactionRemoveExpiredTransactionCleanupIntervalMs int   // transaction.remove.expired.transaction.cleanup.interval.ms 3600000
	TransactionPartitionVerificationEnable               bool  // transaction.partition.verification.enable true
	ProducerIDExpirationMs                               int   // producer.id.expiration.ms 86400000
	ProducerIDExpirationCheckIntervalMs                  int   // producer.id.expiration.check.interval.ms 600000

	// Fetch.
	FetchMaxBytes                        int32 // fetch.max.bytes 57671680
	MaxIncrementalFetchSessionCacheSlots int   // max.incremental.fetch.session.cache.slots 1000
	MaxRequestPartitionSizeLimit         int   // max.request.partition.size.limit 2000

	// Raw holds every key as given (the file, then the overrides in order; later
	// wins), values trimmed, unknown keys included. DescribeConfigs reports the
	// known ones as STATIC_BROKER_CONFIG.
	Raw map[string]string

	// values holds the canonical rendering of every known broker key with a
	// value (set, or with a non-null default), for DescribeBroker.
	values map[string]string

	// props are the properties this Config was built from, in order.
	props []property
	// With dynamic overrides applied (Dynamic.Apply): the static Raw, and the cluster-wide
	// and per-broker dynamic overrides in force.
	static                map[string]string
	dynDefault, dynBroker map[string]string
}

// Listener is one entry of listeners or advertised.listeners.
type Listener struct {
	Name             string // listener name, upper-cased (e.g. PLAINTEXT)
	SecurityProtocol string // from listener.security.protocol.map: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	Host             string // "" = all interfaces (listeners); machine's hostname (advertised)
	Port             int
}

// Address returns host:port, with brackets around an IPv6 host.
func (l Listener) Address() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String renders the listener as Kafka writes it: NAME://host:port.
func (l Listener) String() string { return l.Name + "://" + l.Address() }
