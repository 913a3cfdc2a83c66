package config

import (
	"errors"
	"fmt"
	"slices"
)

// TopicConfig is a topic's effective configuration: its overrides (Kafka's
// TopicConfig names) over the broker's defaults.
type TopicConfig struct {
	CleanupPolicy               string  // cleanup.policy: "delete", "compact", "compact,delete" (as given, comma-joined)
	Compact                     bool    // derived: cleanup.policy contains compact
	Delete                      bool    // derived: cleanup.policy contains delete
	CompressionType             string  // compression.type: producer, uncompressed, gzip, snappy, lz4, zstd
	CompressionGzipLevel        int     // compression.gzip.level
	CompressionLz4Level         int     // compression.lz4.level
	CompressionZstdLevel        int     // compression.zstd.level
	MaxMessageBytes             int32   // max.message.bytes
	MessageTimestampType        string  // message.timestamp.type: CreateTime or LogAppendTime
	MessageTimestampBeforeMaxMs int64   // message.timestamp.before.max.ms, else message.timestamp.difference.max.ms
	MessageTimestampAfterMaxMs  int64   // message.timestamp.after.max.ms, else message.timestamp.difference.max.ms
	MessageDownconversionEnable bool    // message.downconversion.enable
	RetentionMs                 int64   // retention.ms, -1 = unlimited
	RetentionBytes              int64   // retention.bytes, -1 = unlimited
	LocalRetentionMs            int64   // local.retention.ms (-2 = retention.ms)
	LocalRetentionBytes         int64   // local.retention.bytes (-2 = retention.bytes)
	SegmentBytes                int64   // segment.bytes
	SegmentMs                   int64   // segment.ms
	SegmentJitterMs             int64   // segment.jitter.ms
	SegmentIndexBytes           int32   // segment.index.bytes
	IndexIntervalBytes          int32   // index.interval.bytes
	FlushMessages               int64   // flush.messages
	FlushMs                     int64   // flush.ms
	FileDeleteDelayMs           int64   // file.delete.delay.ms
	DeleteRetentionMs           int64   // delete.retention.ms
	MinCompactionLagMs          int64   // min.compaction.lag.ms
	MaxCompactionLagMs          int64   // max.compaction.lag.ms
	MinCleanableDirtyRatio      float64 // min.cleanable.dirty.ratio
	MinInsyncReplicas           int     // min.insync.replicas
	UncleanLeaderElectionEnable bool    // unclean.leader.election.enable
	Preallocate                 bool    // preallocate
	RemoteStorageEnable         bool    // remote.storage.enable (always false: refused)
	LeaderThrottledReplicas     string  // leader.replication.throttled.replicas: "*" or "partition:broker,..."
	FollowerThrottledReplicas   string  // follower.replication.throttled.replicas
}

// ValidateTopicConfig checks topic overrides: every key must be a topic key,
// every value must parse and pass its validator, and the cross-key rules must
// hold. Errors match kerr.InvalidConfig (errors.Is) and name the key.
func (c *Config) ValidateTopicConfig(overrides map[string]string) error {
	_, err := c.topicValues(overrides)
	return err
}

// ResolveTopic validates the overrides (as ValidateTopicConfig) and returns the
// effective topic configuration: override > broker default.
func (c *Config) ResolveTopic(overrides map[string]string) (TopicConfig, error) {
	vals, err := c.topicValues(overrides)
	if err != nil {
		return TopicConfig{}, err
	}
	var t TopicConfig
	for name, v := range vals {
		switch name {
		case "cleanup.policy":
			t.CleanupPolicy = v.s
			t.Compact = slices.Contains(v.list, "compact")
			t.Delete = slices.Contains(v.list, "delete")
		case "compression.type":
			t.CompressionType = v.s
		case "compression.gzip.level":
			t.CompressionGzipLevel = int(v.i)
		case "compression.lz4.level":
			t.CompressionLz4Level = int(v.i)
		case "compression.zstd.level":
			t.CompressionZstdLevel = int(v.i)
		case "max.message.bytes":
			t.MaxMessageBytes = int32(v.i)
		case "message.timestamp.type":
			t.MessageTimestampType = v.s
		case "message.timestamp.before.max.ms":
			t.MessageTimestampBeforeMaxMs = v.i
		case "message.timestamp.after.max.ms":
			t.MessageTimestampAfterMaxMs = v.i
		case "message.downconversion.enable":
			t.MessageDownconversionEnable = v.b
		case "retention.ms":
			t.RetentionMs = v.i
		case "retention.bytes":
			t.RetentionBytes = v.i
		case "local.retention.ms":
			t.LocalRetentionMs = v.i
		case "local.retention.bytes":
			t.LocalRetentionBytes = v.i
		case "segment.bytes":
			t.SegmentBytes = v.i
		case "segment.ms":
			t.SegmentMs = v.i
		case "segment.jitter.ms":
			t.SegmentJitterMs = v.i
		case "segment.index.bytes":
			t.SegmentIndexBytes = int32(v.i)
		case "index.interval.bytes":
			t.IndexIntervalBytes = int32(v.i)
		case "flush.messages":
			t.FlushMessages = v.i
		case "flush.ms":
			t.FlushMs = v.i
		case "file.delete.delay.ms":
			t.FileDeleteDelayMs = v.i
		case "delete.retention.ms":
			t.DeleteRetentionMs = v.i
		case "min.compaction.lag.ms":
			t.MinCompactionLagMs = v.i
		case "max.compaction.lag.ms":
			t.MaxCompactionLagMs = v.i
		case "min.cleanable.dirty.ratio":
			t.MinCleanableDirtyRatio = v.f
		case "min.insync.replicas":
			t.MinInsyncReplicas = int(v.i)
		case "unclean.leader.election.enable":
			t.UncleanLeaderElectionEnable = v.b
		case "preallocate":
			t.Preallocate = v.b
		case "remote.storage.enable":
			t.RemoteStorageEnable = v.b
		case "leader.replication.throttled.replicas":
			t.LeaderThrottledReplicas = v.s
		case "follower.replication.throttled.replicas":
			t.FollowerThrottledReplicas = v.s
		}
	}
	// Kafka: the deprecated difference bound applies on a side left at its default.
	if diff := vals["message.timestamp.difference.max.ms"].i; diff != 1<<63-1 {
		if t.MessageTimestampBeforeMaxMs == 1<<63-1 {
			t.MessageTimestampBeforeMaxMs = diff
		}
		if t.MessageTimestampAfterMaxMs == 1<<63-1 {
			t.MessageTimestampAfterMaxMs = diff
		}
	}
	return t, nil
}

// topicValues validates the overrides and returns the effective value of every
// topic key.
func (c *Config) topicValues(overrides map[string]string) (map[string]value, error) {
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic error order
	var errs []error
	for _, name := range names {
		k := topicKey(name)
		if k == nil {
			reason := ""
			if brokerKey(name) != nil {
				reason = "it is a broker configuration, not a topic configuration"
			}
			errs = append(errs, &Error{Key: name, Value: overrides[name], Unknown: true, Reason: reason})
			continue
		}
		if _, bad := k.check(overrides[name]); bad != nil {
			errs = append(errs, bad)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	vals := make(map[string]value, len(tables().topic))
	for i := range tables().topic {
		k := &tables().topic[i]
		raw, ok := overrides[k.name]
		if !ok {
			raw = c.topicDefault(k)
		}
		v, _ := parseValue(k.typ, raw) // overrides were checked; broker defaults come typed
		vals[k.name] = v
	}

	// Cross-key rules (Kafka's LogConfig.validateValues and broker checks).
	if lo, hi := vals["min.compaction.lag.ms"].i, vals["max.compaction.lag.ms"].i; lo > hi {
		key := "min.compaction.lag.ms"
		if _, ok := overrides[key]; !ok {
			key = "max.compaction.lag.ms"
		}
		return nil, &Error{Key: key, Value: overrides[key],
			Reason: fmt.Sprintf("min.compaction.lag.ms (%d) must not exceed max.compaction.lag.ms (%d)", lo, hi)}
	}
	if vals["remote.storage.enable"].b {
		return nil, &Error{Key: "remote.storage.enable", Value: overrides["remote.storage.enable"],
			Reason: "tiered storage is not supported"}
	}
	return vals, nil
}

// topicDefault is the broker's effective default for a topic key.
func (c *Config) topicDefault(k *keyDef) string {
	if k.brokerDefault != nil && c != nil && c.values != nil {
		return k.brokerDefault(c)
	}
	return k.def
}
