package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestResolveTopicDefaultsFromBroker(t *testing.T) {
	c := mustLoad(t, "log.retention.hours=1", "log.segment.bytes=1000", "message.max.bytes=2000",
		"log.roll.hours=2", "log.message.timestamp.type=LogAppendTime", "log.cleanup.policy=compact",
		"min.insync.replicas=2", "unclean.leader.election.enable=true", "log.flush.interval.messages=10",
		"log.flush.scheduler.interval.ms=500", "log.index.interval.bytes=100", "log.index.size.max.bytes=800",
		"compression.type=zstd", "log.retention.bytes=5000", "log.cleaner.min.cleanable.ratio=0.75")
	tc, err := c.ResolveTopic(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TopicConfig{
		CleanupPolicy: "compact", Compact: true, Delete: false, CompressionType: "zstd",
		CompressionGzipLevel: -1, CompressionLz4Level: 9, CompressionZstdLevel: 3,
		MaxMessageBytes: 2000, MessageTimestampType: "LogAppendTime",
		MessageTimestampBeforeMaxMs: 1<<63 - 1, MessageTimestampAfterMaxMs: 1<<63 - 1, MessageDownconversionEnable: true,
		RetentionMs: 3600000, RetentionBytes: 5000, LocalRetentionMs: -2, LocalRetentionBytes: -2,
		SegmentBytes: 1000, SegmentMs: 7200000, SegmentJitterMs: 0, SegmentIndexBytes: 800, IndexIntervalBytes: 100,
		FlushMessages: 10, FlushMs: 500, FileDeleteDelayMs: 60000, DeleteRetentionMs: 86400000,
		MinCompactionLagMs: 0, MaxCompactionLagMs: 1<<63 - 1, MinCleanableDirtyRatio: 0.75,
		MinInsyncReplicas: 2, UncleanLeaderElectionEnable: true,
	}
	if tc != want {
		t.Errorf("ResolveTopic(nil) =\n%+v\nwant\n%+v", tc, want)
	}
}

func TestResolveTopicOverrides(t *testing.T) {
	c := mustLoad(t, "log.retention.ms=1000", "log.segment.bytes=5000")
	tests := []struct {
		name      string
		overrides map[string]string
		check     func(TopicConfig) bool
	}{
		{"no override takes broker value", nil, func(tc TopicConfig) bool { return tc.RetentionMs == 1000 && tc.SegmentBytes == 5000 }},
		{"override wins", map[string]string{"retention.ms": "42", "segment.bytes": " 100 "},
			func(tc TopicConfig) bool { return tc.RetentionMs == 42 && tc.SegmentBytes == 100 }},
		{"unlimited retention", map[string]string{"retention.ms": "-1"}, func(tc TopicConfig) bool { return tc.RetentionMs == -1 }},
		{"compact,delete", map[string]string{"cleanup.policy": "compact, delete"},
			func(tc TopicConfig) bool { return tc.Compact && tc.Delete && tc.CleanupPolicy == "compact,delete" }},
		{"difference bound fills unset sides", map[string]string{"message.timestamp.difference.max.ms": "10", "message.timestamp.after.max.ms": "5"},
			func(tc TopicConfig) bool {
				return tc.MessageTimestampBeforeMaxMs == 10 && tc.MessageTimestampAfterMaxMs == 5
			}},
		{"boolean case-insensitive", map[string]string{"unclean.leader.election.enable": "TRUE", "preallocate": "True"},
			func(tc TopicConfig) bool { return tc.UncleanLeaderElectionEnable && tc.Preallocate }},
		{"max.message.bytes", map[string]string{"max.message.bytes": "10"}, func(tc TopicConfig) bool { return tc.MaxMessageBytes == 10 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := c.ResolveTopic(tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(tc) {
				t.Errorf("unexpected %+v", tc)
			}
		})
	}
}

func TestResolveTopicInvalid(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		overrides map[string]string
		key       string
		reason    string
	}{
		{map[string]string{"retention.mss": "1"}, "retention.mss", "unknown configuration"},
		{map[string]string{"log.retention.ms": "1"}, "log.retention.ms", "broker configuration"},
		{map[string]string{"retention.ms": "abc"}, "retention.ms", "not an integer"},
		{map[string]string{"retention.ms": "-2"}, "retention.ms", "at least -1"},
		{map[string]string{"segment.bytes": "13"}, "segment.bytes", "at least 14"},
		{map[string]string{"segment.bytes": "3000000000"}, "segment.bytes", "32-bit"},
		{map[string]string{"segment.ms": "0"}, "segment.ms", "at least 1"},
		{map[string]string{"cleanup.policy": "remove"}, "cleanup.policy", "compact, delete"},
		{map[string]string{"compression.type": "LZ4"}, "compression.type", "one of"},
		{map[string]string{"message.timestamp.type": "Append"}, "message.timestamp.type", "CreateTime, LogAppendTime"},
		{map[string]string{"min.insync.replicas": "0"}, "min.insync.replicas", "at least 1"},
		{map[string]string{"min.cleanable.dirty.ratio": "2"}, "min.cleanable.dirty.ratio", "between"},
		{map[string]string{"preallocate": "1"}, "preallocate", "true or false"},
		{map[string]string{"leader.replication.throttled.replicas": "0:1,x"}, "leader.replication.throttled.replicas", "partition:broker"},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, "min.compaction.lag.ms", "must not exceed"},
		{map[string]string{"remote.storage.enable": "true"}, "remote.storage.enable", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.reason, func(t *testing.T) {
			_, err := c.ResolveTopic(tt.overrides)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("error %v does not match kerr.InvalidConfig", err)
			}
			if !strings.Contains(err.Error(), `"`+tt.key+`"`) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not name %q with %q", err, tt.key, tt.reason)
			}
			if err2 := c.ValidateTopicConfig(tt.overrides); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ValidateTopicConfig = %v, want %v", err2, err)
			}
		})
	}
	if err := c.ValidateTopicConfig(map[string]string{"retention.ms": "1", "throttled": ""}); err == nil {
		t.Error("unknown key among valid ones accepted")
	}
	if err := c.ValidateTopicConfig(map[string]string{"retention.ms": "1", "leader.replication.throttled.replicas": "*"}); err != nil {
		t.Errorf("valid overrides refused: %v", err)
	}
}
