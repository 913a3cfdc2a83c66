package config

import (
	"reflect"
	"testing"
)

func entryByName(t *testing.T, entries []Entry, name string) Entry {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %q", name)
	return Entry{}
}

type syn struct {
	Name   string
	Value  string
	Source int8
}

func flat(ss []Synonym) []syn {
	var out []syn
	for _, s := range ss {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		out = append(out, syn{s.Name, v, s.Source})
	}
	return out
}

func TestDescribeTopic(t *testing.T) {
	tests := []struct {
		name      string
		broker    []string
		overrides map[string]string
		key       string
		value     string
		source    int8
		synonyms  []syn
	}{
		{name: "retention default: log.retention.ms is null, so Kafka drops the hours default",
			key: "retention.ms", value: "604800000", source: SourceDefault},
		{name: "retention overridden", overrides: map[string]string{"retention.ms": "1000"},
			key: "retention.ms", value: "1000", source: SourceTopic,
			synonyms: []syn{{"retention.ms", "1000", SourceTopic}}},
		{name: "retention overridden with broker log.retention.ms set",
			broker: []string{"log.retention.ms=5000"}, overrides: map[string]string{"retention.ms": "1000"},
			key: "retention.ms", value: "1000", source: SourceTopic,
			synonyms: []syn{{"retention.ms", "1000", SourceTopic}, {"log.retention.ms", "5000", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}},
		{name: "retention from broker log.retention.ms",
			broker: []string{"log.retention.ms=5000", "log.retention.minutes=3"},
			key:    "retention.ms", value: "5000", source: SourceStaticBroker,
			synonyms: []syn{{"log.retention.ms", "5000", SourceStaticBroker}, {"log.retention.minutes", "3", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}},
		{name: "segment.bytes default", key: "segment.bytes", value: "1073741824", source: SourceDefault,
			synonyms: []syn{{"log.segment.bytes", "1073741824", SourceDefault}}},
		{name: "segment.bytes static", broker: []string{"log.segment.bytes=2048"}, key: "segment.bytes", value: "2048", source: SourceStaticBroker,
			synonyms: []syn{{"log.segment.bytes", "2048", SourceStaticBroker}, {"log.segment.bytes", "1073741824", SourceDefault}}},
		{name: "max.message.bytes from message.max.bytes", broker: []string{"message.max.bytes=+10"}, key: "max.message.bytes", value: "10", source: SourceStaticBroker,
			synonyms: []syn{{"message.max.bytes", "+10", SourceStaticBroker}, {"message.max.bytes", "1048588", SourceDefault}}},
		{name: "override rendered canonically", overrides: map[string]string{"cleanup.policy": "compact , delete"},
			key: "cleanup.policy", value: "compact,delete", source: SourceTopic,
			synonyms: []syn{{"cleanup.policy", "compact,delete", SourceTopic}, {"log.cleanup.policy", "delete", SourceDefault}}},
		{name: "flush.ms from scheduler interval", broker: []string{"log.flush.scheduler.interval.ms=700"}, key: "flush.ms", value: "700", source: SourceDefault},
		{name: "key without broker synonym", key: "remote.storage.enable", value: "false", source: SourceDefault},
		{name: "double rendered as Java", broker: []string{"log.cleaner.min.cleanable.ratio=0.250"}, key: "min.cleanable.dirty.ratio", value: "0.25", source: SourceStaticBroker,
			synonyms: []syn{{"log.cleaner.min.cleanable.ratio", "0.250", SourceStaticBroker}, {"log.cleaner.min.cleanable.ratio", "0.5", SourceDefault}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.broker...)
			entries := c.DescribeTopic(tt.overrides)
			if len(entries) != len(tables().topic) {
				t.Fatalf("%d entries, want one per topic key (%d)", len(entries), len(tables().topic))
			}
			e := entryByName(t, entries, tt.key)
			if e.Value == nil || *e.Value != tt.value || e.Source != tt.source || e.ReadOnly {
				t.Errorf("entry %s: value %v source %d readOnly %v, want %q %d false", tt.key, deref(e.Value), e.Source, e.ReadOnly, tt.value, tt.source)
			}
			if got := flat(e.Synonyms); !reflect.DeepEqual(got, tt.synonyms) {
				t.Errorf("synonyms = %v, want %v", got, tt.synonyms)
			}
			if e.Type != int8(topicKey(tt.key).typ) || e.Doc == "" {
				t.Errorf("type %d doc %q", e.Type, e.Doc)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestDescribeBroker(t *testing.T) {
	c := mustLoad(t, "num.partitions=3", "log.retention.ms=100", "bogus=1")
	entries := c.DescribeBroker()
	if len(entries) != len(tables().broker) {
		t.Fatalf("%d entries, want %d", len(entries), len(tables().broker))
	}
	tests := []struct {
		key      string
		value    string
		source   int8
		readOnly bool
		typ      Type
		synonyms []syn
	}{
		{"num.partitions", "3", SourceStaticBroker, true, TypeInt, []syn{{"num.partitions", "3", SourceStaticBroker}, {"num.partitions", "1", SourceDefault}}},
		{"log.retention.ms", "100", SourceStaticBroker, false, TypeLong, []syn{{"log.retention.ms", "100", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}},
		{"log.retention.hours", "168", SourceDefault, false, TypeInt, []syn{{"log.retention.hours", "168", SourceDefault}}},
		{"log.retention.minutes", "<nil>", SourceDefault, false, TypeInt, nil},
		{"log.dirs", "<nil>", SourceDefault, true, TypeString, nil},
		{"log.dir", "data", SourceDefault, true, TypeString, []syn{{"log.dir", "data", SourceDefault}}},
		{"broker.id", "0", SourceDefault, true, TypeInt, []syn{{"broker.id", "0", SourceDefault}}},
		{"message.max.bytes", "1048588", SourceDefault, false, TypeInt, []syn{{"message.max.bytes", "1048588", SourceDefault}}},
		{"offsets.topic.replication.factor", "3", SourceDefault, true, TypeShort, []syn{{"offsets.topic.replication.factor", "3", SourceDefault}}},
	}
	for _, tt := range tests {
		e := entryByName(t, entries, tt.key)
		if deref(e.Value) != tt.value || e.Source != tt.source || e.ReadOnly != tt.readOnly || e.Type != int8(tt.typ) {
			t.Errorf("%s: value %s source %d readOnly %v type %d, want %s %d %v %d", tt.key,
				deref(e.Value), e.Source, e.ReadOnly, e.Type, tt.value, tt.source, tt.readOnly, tt.typ)
		}
		if got := flat(e.Synonyms); !reflect.DeepEqual(got, tt.synonyms) {
			t.Errorf("%s synonyms = %v, want %v", tt.key, got, tt.synonyms)
		}
	}
	for _, e := range entries {
		if e.Name == "bogus" {
			t.Error("unknown key described")
		}
	}
}
