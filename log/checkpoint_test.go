package log

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RecoveryPointCheckpointFile)
	got, err := ReadCheckpoint(nil, path)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v %v", got, err)
	}
	in := map[TopicPartition]int64{
		{"orders", 0}: 42, {"orders", 1}: 7, {"__consumer_offsets", 12}: 0, {"a-b.c_d", 3}: 1 << 40,
	}
	must(t, WriteCheckpoint(nil, path, in))
	raw, err := os.ReadFile(path)
	must(t, err)
	want := "0\n4\n__consumer_offsets 12 0\na-b.c_d 3 1099511627776\norders 0 42\norders 1 7\n"
	if string(raw) != want {
		t.Fatalf("file = %q, want %q", raw, want)
	}
	got, err = ReadCheckpoint(nil, path)
	must(t, err)
	if len(got) != len(in) {
		t.Fatalf("got %v", got)
	}
	for k, v := range in {
		if got[k] != v {
			t.Fatalf("%v = %d, want %d", k, got[k], v)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temp file left behind")
	}
	must(t, WriteCheckpoint(nil, path, nil))
	got, err = ReadCheckpoint(nil, path)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty checkpoint: %v %v", got, err)
	}
}

func TestCheckpointMalformed(t *testing.T) {
	for name, text := range map[string]string{
		"version":     "1\n0\n",
		"count":       "0\nx\n",
		"short":       "0\n2\nt 0 1\n",
		"fields":      "0\n1\nt 0\n",
		"offset":      "0\n1\nt 0 x\n",
		"partition":   "0\n1\nt x 1\n",
		"empty file":  "",
		"extra field": "0\n1\nt 0 1 2\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp")
			must(t, os.WriteFile(path, []byte(text), 0o644))
			if _, err := ReadCheckpoint(nil, path); err == nil {
				t.Fatal("malformed checkpoint accepted")
			}
		})
	}
	if err := WriteCheckpoint(nil, filepath.Join(t.TempDir(), "cp"), map[TopicPartition]int64{{"bad topic", 0}: 1}); err == nil {
		t.Fatal("topic with a space accepted")
	}
}

func TestMetaProperties(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadMeta(nil, dir); ok || err != nil {
		t.Fatalf("missing: ok=%v err=%v", ok, err)
	}
	m := Meta{ClusterID: "Xe2EgVo1Rz2zQ1QXmtWMHQ", BrokerID: 3}
	must(t, WriteMeta(nil, dir, m))
	raw, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	must(t, err)
	for _, line := range []string{"cluster.id=Xe2EgVo1Rz2zQ1QXmtWMHQ\n", "version=0\n", "broker.id=3\n"} {
		if !strings.Contains(string(raw), line) {
			t.Fatalf("meta.properties lacks %q:\n%s", line, raw)
		}
	}
	if !strings.HasPrefix(string(raw), "#") {
		t.Fatal("no leading comment line")
	}
	got, ok, err := ReadMeta(nil, dir)
	if err != nil || !ok || got != m {
		t.Fatalf("read back %+v %v %v", got, ok, err)
	}
	// a file as Kafka writes it (comment, date, any key order)
	kafka := "#\n#Sat Nov 22 00:00:00 UTC 2025\nbroker.id=1\nversion=0\ncluster.id=abc\n"
	must(t, os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(kafka), 0o644))
	got, ok, err = ReadMeta(nil, dir)
	if err != nil || !ok || got != (Meta{ClusterID: "abc", BrokerID: 1}) {
		t.Fatalf("kafka file: %+v %v %v", got, ok, err)
	}
	for name, text := range map[string]string{
		"version 1": "version=1\nbroker.id=1\ncluster.id=x\n",
		"no broker": "version=0\ncluster.id=x\n",
		"bad id":    "version=0\nbroker.id=x\n",
	} {
		must(t, os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(text), 0o644))
		if _, _, err := ReadMeta(nil, dir); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseDirName(t *testing.T) {
	cases := []struct {
		name string
		want TopicPartition
		ok   bool
	}{
		{"orders-0", TopicPartition{"orders", 0}, true},
		{"my-topic-12", TopicPartition{"my-topic", 12}, true},
		{"__consumer_offsets-49", TopicPartition{"__consumer_offsets", 49}, true},
		{"a.b_c-2147483647", TopicPartition{"a.b_c", 2147483647}, true},
		{"t--1", TopicPartition{"t-", 1}, true},
		{"orders-0.5f3c9a2be1d04a47a3c1f1d2c3b4a5e6-delete", TopicPartition{}, false},
		{"orders-0-delete", TopicPartition{}, false},
		{"orders-0.abc-future", TopicPartition{}, false},
		{"orders-0.abc-stray", TopicPartition{}, false},
		{"orders", TopicPartition{}, false},
		{"orders-", TopicPartition{}, false},
		{"-0", TopicPartition{}, false},
		{"orders-x", TopicPartition{}, false},
		{"orders-01", TopicPartition{}, false},
		{"orders-+1", TopicPartition{}, false},
		{"orders-2147483648", TopicPartition{}, false},
		{"bad topic-0", TopicPartition{}, false},
		{"..-0", TopicPartition{}, false},
	}
	for _, tc := range cases {
		got, ok := ParseDirName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDirName(%q) = %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
		if ok && DirName(got) != tc.name {
			t.Errorf("DirName(%+v) = %q", got, DirName(got))
		}
	}
}
