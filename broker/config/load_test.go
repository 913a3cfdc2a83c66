package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func testHostname() (string, error) { return "broker-host", nil }

// mustLoad loads overrides only, with a fixed hostname.
func mustLoad(t *testing.T, overrides ...string) *Config {
	t.Helper()
	c, _, err := load("", overrides, testHostname)
	if err != nil {
		t.Fatalf("load(%q): %v", overrides, err)
	}
	return c
}

func TestDefaultsEqualKafka(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"broker.id (ours)", c.BrokerID, int32(0)},
		{"listeners (ours)", c.Listeners, []Listener{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
		{"advertised.listeners", c.AdvertisedListeners, []Listener{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
		{"log.dirs (ours)", c.LogDirs, []string{"data"}},
		{"zookeeper.connect", c.ZookeeperConnect, ""},
		{"zookeeper.session.timeout.ms", c.ZookeeperSessionTimeoutMs, 18000},
		{"zookeeper.connection.timeout.ms", c.ZookeeperConnectionTimeoutMs, 18000},
		{"num.partitions", c.NumPartitions, int32(1)},
		{"default.replication.factor", c.DefaultReplicationFactor, int16(1)},
		{"min.insync.replicas", c.MinInsyncReplicas, 1},
		{"auto.create.topics.enable", c.AutoCreateTopicsEnable, true},
		{"delete.topic.enable", c.DeleteTopicEnable, true},
		{"message.max.bytes", c.MessageMaxBytes, int32(1048588)},
		{"socket.request.max.bytes", c.SocketRequestMaxBytes, int32(104857600)},
		{"socket.send.buffer.bytes", c.SocketSendBufferBytes, 102400},
		{"socket.receive.buffer.bytes", c.SocketReceiveBufferBytes, 102400},
		{"max.connections", c.MaxConnections, 2147483647},
		{"max.connections.per.ip", c.MaxConnectionsPerIP, 2147483647},
		{"connections.max.idle.ms", c.ConnectionsMaxIdleMs, int64(600000)},
		{"log.segment.bytes", c.LogSegmentBytes, int64(1073741824)},
		{"log.roll.hours", c.LogRollMs, int64(168 * 3600000)},
		{"log.roll.jitter.hours", c.LogRollJitterMs, int64(0)},
		{"log.index.interval.bytes", c.LogIndexIntervalBytes, int32(4096)},
		{"log.index.size.max.bytes", c.LogIndexSizeMaxBytes, int32(10485760)},
		{"log.flush.interval.messages", c.LogFlushIntervalMessages, int64(9223372036854775807)},
		{"log.flush.interval.ms", c.LogFlushIntervalMs, int64(9223372036854775807)},
		{"log.flush.offset.checkpoint.interval.ms", c.LogFlushOffsetCheckpointIntervalMs, int64(60000)},
		{"log.retention.hours", c.LogRetentionMs, int64(604800000)},
		{"log.retention.bytes", c.LogRetentionBytes, int64(-1)},
		{"log.retention.check.interval.ms", c.LogRetentionCheckIntervalMs, int64(300000)},
		{"log.cleanup.policy", c.LogCleanupPolicy, "delete"},
		{"log.cleaner.min.cleanable.ratio", c.LogCleanerMinCleanableRatio, 0.5},
		{"log.cleaner.delete.retention.ms", c.LogCleanerDeleteRetentionMs, int64(86400000)},
		{"log.message.timestamp.type", c.LogMessageTimestampType, "CreateTime"},
		{"compression.type", c.CompressionType, "producer"},
		{"offsets.topic.num.partitions", c.OffsetsTopicNumPartitions, int32(50)},
		{"offsets.topic.replication.factor", c.OffsetsTopicReplicationFactor, int16(3)},
		{"offsets.retention.minutes", c.OffsetsRetentionMinutes, 10080},
		{"group.initial.rebalance.delay.ms", c.GroupInitialRebalanceDelayMs, 3000},
		{"group.min.session.timeout.ms", c.GroupMinSessionTimeoutMs, 6000},
		{"group.max.session.timeout.ms", c.GroupMaxSessionTimeoutMs, 1800000},
		{"group.max.size", c.GroupMaxSize, 2147483647},
		{"transactional.id.expiration.ms", c.TransactionalIDExpirationMs, 604800000},
		{"transaction.state.log.min.isr", c.TransactionStateLogMinISR, 2},
		{"producer.id.expiration.ms", c.ProducerIDExpirationMs, 86400000},
		{"replica.lag.time.max.ms", c.ReplicaLagTimeMaxMs, int64(30000)},
		{"unclean.leader.election.enable", c.UncleanLeaderElectionEnable, false},
		{"num.network.threads", c.NumNetworkThreads, 3},
		{"num.io.threads", c.NumIOThreads, 8},
		{"fetch.max.bytes", c.FetchMaxBytes, int32(57671680)},
		{"inter.broker.listener.name", c.InterBrokerListenerName, "PLAINTEXT"},
		{"metrics.listen (ours)", c.MetricsListen, ""},
		{"Raw empty", len(c.Raw), 0},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestEveryDefaultIsValid(t *testing.T) {
	for _, k := range Keys() {
		if !k.HasDefault {
			continue
		}
		var def *keyDef
		if k.Scope == ScopeBroker {
			def = brokerKey(k.Name)
		} else {
			def = topicKey(k.Name)
		}
		v, err := def.check(k.Default)
		if err != nil {
			t.Errorf("%s %s: default %q invalid: %v", k.Scope, k.Name, k.Default, err)
			continue
		}
		if v.s != k.Default {
			t.Errorf("%s %s: default %q is not in canonical form %q", k.Scope, k.Name, k.Default, v.s)
		}
	}
}

func TestLoadFileThenOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	file := "# a broker\nbroker.id=3\nnum.partitions : 4\nlog.dirs /a, /b ,\\\n  /c\nmy.custom.key=1\nretention.ms=5\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c, warnings, err := load(path, []string{"num.partitions=6", "num.partitions=7", "broker.id= 5 "}, testHostname)
	if err != nil {
		t.Fatal(err)
	}
	if c.BrokerID != 5 || c.NumPartitions != 7 {
		t.Errorf("broker.id=%d num.partitions=%d, want 5 and 7 (later override wins)", c.BrokerID, c.NumPartitions)
	}
	if want := []string{"/a", "/b", "/c"}; !reflect.DeepEqual(c.LogDirs, want) {
		t.Errorf("LogDirs = %q, want %q", c.LogDirs, want)
	}
	wantRaw := map[string]string{"broker.id": "5", "num.partitions": "7", "log.dirs": "/a, /b ,/c", "my.custom.key": "1", "retention.ms": "5"}
	if !reflect.DeepEqual(c.Raw, wantRaw) {
		t.Errorf("Raw = %q, want %q", c.Raw, wantRaw)
	}
	if len(warnings) != 2 ||
		!strings.Contains(string(warnings[0]), `"my.custom.key"`) ||
		!strings.Contains(string(warnings[1]), `"retention.ms"`) || !strings.Contains(string(warnings[1]), "log.retention.ms") {
		t.Errorf("warnings = %q, want one for my.custom.key and one for retention.ms pointing at log.retention.ms", warnings)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, _, err := load(filepath.Join(t.TempDir(), "missing.properties"), nil, testHostname); err == nil {
		t.Error("missing file: no error")
	}
	if _, _, err := load("", []string{"novalue"}, testHostname); err == nil || !strings.Contains(err.Error(), "novalue") {
		t.Errorf("override without '=': error %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.properties")
	if err := os.WriteFile(bad, []byte("a=\\uZZZZ"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(bad, nil, testHostname); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed escape: error %v, want one naming line 1", err)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		override string
		key      string // key the message must name
		reason   string
	}{
		{"num.partitions=abc", "num.partitions", "not an integer"},
		{"num.partitions=0", "num.partitions", "must be at least 1"},
		{"num.partitions=2147483648", "num.partitions", "out of range"},
		{"broker.id=-1", "broker.id", "must be at least 0"},
		{"message.max.bytes=-1", "message.max.bytes", "at least 0"},
		{"log.segment.bytes=13", "log.segment.bytes", "at least 14"},
		{"socket.request.max.bytes=0", "socket.request.max.bytes", "at least 1"},
		{"auto.create.topics.enable=yes", "auto.create.topics.enable", "true or false"},
		{"log.retention.bytes=1.5", "log.retention.bytes", "not an integer"},
		{"offsets.topic.replication.factor=40000", "offsets.topic.replication.factor", "16-bit"},
		{"log.cleaner.min.cleanable.ratio=x", "log.cleaner.min.cleanable.ratio", "not a number"},
		{"log.cleaner.min.cleanable.ratio=1.5", "log.cleaner.min.cleanable.ratio", "between 0.0 and 1.0"},
		{"log.cleanup.policy=delete,archive", "log.cleanup.policy", "compact, delete"},
		{"log.message.timestamp.type=createtime", "log.message.timestamp.type", "CreateTime, LogAppendTime"},
		{"compression.type=brotli", "compression.type", "one of"},
		{"compression.gzip.level=0", "compression.gzip.level", "-1 or between 1 and 9"},
		{"default.replication.factor=0", "default.replication.factor", "between 1 and 32767"},
		{"log.retention.ms=0", "log.retention.ms", "-1 (unlimited) or at least 1"},
		{"log.retention.hours=0", "log.retention.hours", "-1 (unlimited) or at least 1"},
		{"log.roll.ms=0", "log.roll.ms", "at least 1"},
		{"log.dirs= , ", "log.dirs", "at least one log directory"},
		{"listeners=localhost:9092", "listeners", "NAME://host:port"},
		{"listeners=PLAINTEXT://:70000", "listeners", "between 0 and 65535"},
		{"listeners=CLIENT://:9093", "listeners", "no security protocol"},
		{"listeners=PLAINTEXT://:9092,plaintext://:9093", "listeners", "appears twice"},
		{"listener.security.protocol.map=A:B", "listener.security.protocol.map", "unknown security protocol"},
		{"advertised.listeners=PLAINTEXT://0.0.0.0:9092", "advertised.listeners", "non-routable"},
		{"advertised.listeners=OTHER://h:1", "advertised.listeners", "no security protocol"},
		{"security.inter.broker.protocol=SSL", "security.inter.broker.protocol", "no listener named SSL"},
		{"listener.name.sasl_ssl.ssl.client.auth=sometimes", "listener.name.sasl_ssl.ssl.client.auth", "must be one of"},
		{"ssl.keystore.type=P12", "ssl.keystore.type", "must be one of"},
		{"security.inter.broker.protocol=TLS", "security.inter.broker.protocol", "one of"},
		{"inter.broker.listener.name=NOPE", "inter.broker.listener.name", "not in"},
		{"replica.fetch.wait.max.ms=40000", "replica.fetch.wait.max.ms", "replica.socket.timeout.ms"},
		{"remote.log.storage.system.enable=true", "remote.log.storage.system.enable", "not supported"},
		{"metrics.listen=nope", "metrics.listen", "host:port"},
		{"inter.broker.protocol.version=latest", "inter.broker.protocol.version", "not a Kafka version"},
	}
	for _, tt := range tests {
		t.Run(tt.override, func(t *testing.T) {
			_, _, err := load("", []string{tt.override}, testHostname)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, `configuration "`+tt.key+`"`) || !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not name %q with %q", msg, tt.key, tt.reason)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tt.key {
				t.Errorf("error %v is not an *Error for %s", err, tt.key)
			}
			if !errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("error %v does not match kerr.InvalidConfig", err)
			}
		})
	}
}

func TestBadValueMessage(t *testing.T) {
	_, _, err := load("", []string{"num.partitions=abc"}, testHostname)
	want := `invalid value "abc" for configuration "num.partitions": not an integer`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	// Every bad key is reported, not only the first.
	_, _, err = load("", []string{"num.partitions=abc", "broker.id=x"}, testHostname)
	if err == nil || !strings.Contains(err.Error(), "num.partitions") || !strings.Contains(err.Error(), "broker.id") {
		t.Fatalf("error = %v, want both keys named", err)
	}
}

func TestParsingForms(t *testing.T) {
	c := mustLoad(t, "auto.create.topics.enable=FALSE", "delete.topic.enable= True ", "num.partitions=+3",
		"log.cleanup.policy= compact , delete ", "log.cleaner.min.cleanable.ratio=0.25")
	if c.AutoCreateTopicsEnable || !c.DeleteTopicEnable || c.NumPartitions != 3 ||
		c.LogCleanupPolicy != "compact,delete" || c.LogCleanerMinCleanableRatio != 0.25 {
		t.Errorf("got auto=%v delete=%v partitions=%d policy=%q ratio=%v", c.AutoCreateTopicsEnable,
			c.DeleteTopicEnable, c.NumPartitions, c.LogCleanupPolicy, c.LogCleanerMinCleanableRatio)
	}
}

func TestRetentionPrecedence(t *testing.T) {
	tests := []struct {
		overrides []string
		want      int64
	}{
		{nil, 168 * 3600000},
		{[]string{"log.retention.hours=1"}, 3600000},
		{[]string{"log.retention.hours=1", "log.retention.minutes=2"}, 120000},
		{[]string{"log.retention.hours=1", "log.retention.minutes=2", "log.retention.ms=3"}, 3},
		{[]string{"log.retention.ms=3", "log.retention.hours=1"}, 3},
		{[]string{"log.retention.ms=-1"}, -1},
		{[]string{"log.retention.ms=-5"}, -1},
		{[]string{"log.retention.minutes=-1"}, -1},
		{[]string{"log.retention.hours=-1"}, -1},
	}
	for _, tt := range tests {
		if got := mustLoad(t, tt.overrides...).LogRetentionMs; got != tt.want {
			t.Errorf("%q: LogRetentionMs = %d, want %d", tt.overrides, got, tt.want)
		}
	}
}

func TestRollAndFlushPrecedence(t *testing.T) {
	tests := []struct {
		overrides             []string
		roll, jitter, flushMs int64
	}{
		{nil, 168 * 3600000, 0, 1<<63 - 1},
		{[]string{"log.roll.hours=2", "log.roll.jitter.hours=1"}, 7200000, 3600000, 1<<63 - 1},
		{[]string{"log.roll.hours=2", "log.roll.ms=5", "log.roll.jitter.hours=1", "log.roll.jitter.ms=7"}, 5, 7, 1<<63 - 1},
		{[]string{"log.flush.scheduler.interval.ms=1000"}, 168 * 3600000, 0, 1000},
		{[]string{"log.flush.scheduler.interval.ms=1000", "log.flush.interval.ms=10"}, 168 * 3600000, 0, 10},
	}
	for _, tt := range tests {
		c := mustLoad(t, tt.overrides...)
		if c.LogRollMs != tt.roll || c.LogRollJitterMs != tt.jitter || c.LogFlushIntervalMs != tt.flushMs {
			t.Errorf("%q: roll=%d jitter=%d flush=%d, want %d %d %d", tt.overrides,
				c.LogRollMs, c.LogRollJitterMs, c.LogFlushIntervalMs, tt.roll, tt.jitter, tt.flushMs)
		}
	}
}

func TestListeners(t *testing.T) {
	l := func(name, host string, port int) Listener {
		return Listener{Name: name, SecurityProtocol: "PLAINTEXT", Host: host, Port: port}
	}
	tests := []struct {
		name        string
		overrides   []string
		listeners   []Listener
		advertised  []Listener
		interBroker string
	}{
		{name: "empty host advertises hostname", overrides: []string{"listeners=PLAINTEXT://:9092"},
			listeners: []Listener{l("PLAINTEXT", "", 9092)}, advertised: []Listener{l("PLAINTEXT", "broker-host", 9092)}, interBroker: "PLAINTEXT"},
		{name: "ipv6", overrides: []string{"listeners=PLAINTEXT://[::1]:9092"},
			listeners: []Listener{l("PLAINTEXT", "::1", 9092)}, advertised: []Listener{l("PLAINTEXT", "::1", 9092)}, interBroker: "PLAINTEXT"},
		{name: "explicit advertised", overrides: []string{"listeners=PLAINTEXT://0.0.0.0:9092", "advertised.listeners=PLAINTEXT://kafka.example:19092"},
			listeners: []Listener{l("PLAINTEXT", "0.0.0.0", 9092)}, advertised: []Listener{l("PLAINTEXT", "kafka.example", 19092)}, interBroker: "PLAINTEXT"},
		{name: "named listeners mapped to PLAINTEXT",
			overrides:  []string{"listener.security.protocol.map=INTERNAL:PLAINTEXT,external:plaintext", "listeners=internal://127.0.0.1:9092,EXTERNAL://127.0.0.1:9093", "inter.broker.listener.name=internal"},
			listeners:  []Listener{l("INTERNAL", "127.0.0.1", 9092), l("EXTERNAL", "127.0.0.1", 9093)},
			advertised: []Listener{l("INTERNAL", "127.0.0.1", 9092), l("EXTERNAL", "127.0.0.1", 9093)}, interBroker: "INTERNAL"},
		{name: "port 0 picks a free port", overrides: []string{"listeners=PLAINTEXT://127.0.0.1:0"},
			listeners: []Listener{l("PLAINTEXT", "127.0.0.1", 0)}, advertised: []Listener{l("PLAINTEXT", "127.0.0.1", 0)}, interBroker: "PLAINTEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.overrides...)
			if !reflect.DeepEqual(c.Listeners, tt.listeners) {
				t.Errorf("Listeners = %+v, want %+v", c.Listeners, tt.listeners)
			}
			if !reflect.DeepEqual(c.AdvertisedListeners, tt.advertised) {
				t.Errorf("AdvertisedListeners = %+v, want %+v", c.AdvertisedListeners, tt.advertised)
			}
			if c.InterBrokerListenerName != tt.interBroker {
				t.Errorf("InterBrokerListenerName = %q, want %q", c.InterBrokerListenerName, tt.interBroker)
			}
		})
	}
	if got := (Listener{Name: "PLAINTEXT", Host: "::1", Port: 9092}).String(); got != "PLAINTEXT://[::1]:9092" {
		t.Errorf("String() = %q", got)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.NumPartitions != 1 || len(c.Listeners) != 1 || c.LogRetentionMs != 604800000 {
		t.Fatalf("Default() = %+v", c)
	}
}

func TestSecurityListeners(t *testing.T) {
	c, warns, err := load("", []string{
		"listeners=SASL_SSL://127.0.0.1:9093,CLIENT://127.0.0.1:9094",
		"listener.security.protocol.map=SASL_SSL:SASL_SSL,CLIENT:SSL",
		"inter.broker.listener.name=SASL_SSL",
		"sasl.enabled.mechanisms=PLAIN",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=x required;",
		"listener.name.client.ssl.client.auth=required",
		"listener.name.client.no.such.key=1",
		"ssl.keystore.type=PEM",
	}, func() (string, error) { return "h", nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(string(warns[0]), "no.such.key") {
		t.Errorf("warnings %v, want one about listener.name.client.no.such.key", warns)
	}
	if c.Listeners[1].SecurityProtocol != "SSL" || c.InterBrokerListener().Name != "SASL_SSL" {
		t.Errorf("listeners %+v, inter-broker %s", c.Listeners, c.InterBrokerListenerName)
	}
	for _, tc := range []struct{ listener, key, want string }{
		{"CLIENT", "ssl.client.auth", "required"},
		{"SASL_SSL", "ssl.client.auth", "none"},
		{"SASL_SSL", "ssl.keystore.type", "PEM"},
		{"CLIENT", "sasl.enabled.mechanisms", "PLAIN"},
		{"SASL_SSL", "sasl.enabled.mechanisms", "SCRAM-SHA-512"},
		{"SASL_SSL", "scram-sha-512.sasl.jaas.config", "x required;"},
	} {
		if got, _ := c.ListenerValue(tc.listener, tc.key); got != tc.want {
			t.Errorf("ListenerValue(%s, %s) = %q, want %q", tc.listener, tc.key, got, tc.want)
		}
	}
	if _, ok := c.ListenerValue("CLIENT", "ssl.keystore.location"); ok {
		t.Error("ssl.keystore.location has a value though it was never set")
	}

	_, _, err = load("", []string{
		"listeners=SASL_PLAINTEXT://127.0.0.1:9093",
		"security.inter.broker.protocol=SASL_PLAINTEXT",
		"sasl.enabled.mechanisms=PLAIN",
	}, func() (string, error) { return "h", nil })
	if err == nil || !strings.Contains(err.Error(), "sasl.mechanism.inter.broker.protocol") {
		t.Errorf("GSSAPI between brokers without it enabled: err %v", err)
	}
}
