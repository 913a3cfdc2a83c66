package config

import (
	"strings"
	"testing"
)

func TestMarkdownTable(t *testing.T) {
	md := MarkdownTable()
	if md == "" {
		t.Fatal("empty table")
	}
	for _, k := range Keys() {
		if !strings.Contains(md, "| `"+k.Name+"`") {
			t.Errorf("key %s (%s) missing from the table", k.Name, k.Scope)
		}
		if k.Doc == "" {
			t.Errorf("key %s (%s) has no doc", k.Name, k.Scope)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, " | ")-strings.Count(line, `\|`) != 5 {
			t.Errorf("row does not have 6 cells: %s", line)
		}
	}
	if !strings.Contains(md, "`metrics.listen` (not Kafka)") {
		t.Error("metrics.listen is not marked as our own key")
	}
}

func TestKeysTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		id := k.Scope.String() + "/" + k.Name
		if seen[id] {
			t.Errorf("duplicate key %s", id)
		}
		seen[id] = true
		if k.Type == TypeUnknown {
			t.Errorf("%s has no type", id)
		}
		for _, s := range k.Synonyms {
			if brokerKey(s) == nil {
				t.Errorf("%s: synonym %s is not a broker key", id, s)
			}
		}
	}
	for _, k := range tables().broker {
		if k.set == nil && !strings.Contains(k.doc, "no effect") && !perListener(k.name) {
			switch k.name { // derived from several keys after parsing
			case "log.dir", "log.dirs", "log.roll.ms", "log.roll.hours", "log.roll.jitter.ms", "log.roll.jitter.hours",
				"log.retention.ms", "log.retention.minutes", "log.retention.hours", "log.flush.interval.ms",
				"zookeeper.connection.timeout.ms", "listeners", "advertised.listeners", "listener.security.protocol.map",
				"security.inter.broker.protocol", "remote.log.storage.system.enable":
			default:
				t.Errorf("broker key %s sets no field and is not derived", k.name)
			}
		}
	}
	for _, k := range tables().topic {
		if k.brokerDefault == nil {
			t.Errorf("topic key %s has no broker default", k.name)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	tests := map[float64]string{
		0: "0.0", 0.5: "0.5", 1: "1.0", 0.9: "0.9", 1e7: "1.0E7", 1.7976931348623157e308: "1.7976931348623157E308",
		0.0001: "1.0E-4", 123.25: "123.25",
	}
	for f, want := range tests {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, want)
		}
	}
}
