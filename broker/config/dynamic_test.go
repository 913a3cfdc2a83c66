package config

import (
	"strings"
	"testing"
)

func TestDynamicApplyAndDescribe(t *testing.T) {
	static, _, err := load("", []string{"log.retention.hours=100", "num.io.threads=4", "broker.id=1"}, testHostname)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDynamic(static)
	if d.Current() != static {
		t.Fatal("Current before Apply is not the static configuration")
	}
	c, warns, err := d.Apply(
		map[string]string{"num.io.threads": "6", "leader.replication.throttled.rate": "1000", "log.retention.ms": "5000"},
		map[string]string{"num.io.threads": "7", "broker.id": "9", "log.retention.ms": "notanumber", "my.plugin.key": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 2 {
		t.Fatalf("warnings %v, want two (broker.id is static, the bad retention value)", warns)
	}
	if d.Current() != c || c.NumIOThreads != 7 || c.LeaderReplicationThrottledRate != 1000 || c.LogRetentionMs != 5000 || c.BrokerID != 1 {
		t.Fatalf("effective: io threads %d, throttle %d, retention %d, id %d", c.NumIOThreads, c.LeaderReplicationThrottledRate, c.LogRetentionMs, c.BrokerID)
	}
	if static.NumIOThreads != 4 {
		t.Fatal("Apply changed the static configuration")
	}
	entries := map[string]Entry{}
	for _, e := range c.DescribeBroker() {
		entries[e.Name] = e
	}
	io := entries["num.io.threads"]
	if *io.Value != "7" || io.Source != SourceDynamicBroker || len(io.Synonyms) != 4 ||
		io.Synonyms[1].Source != SourceDynamicDefaultBroker || *io.Synonyms[1].Value != "6" ||
		io.Synonyms[2].Source != SourceStaticBroker || *io.Synonyms[2].Value != "4" || io.Synonyms[3].Source != SourceDefault {
		t.Fatalf("num.io.threads: %+v", io)
	}
	ret := entries["log.retention.ms"]
	if ret.Source != SourceDynamicDefaultBroker || *ret.Value != "5000" {
		t.Fatalf("log.retention.ms: source %d value %v", ret.Source, *ret.Value)
	}
	// A topic's retention default follows the dynamic broker value.
	tc, err := c.ResolveTopic(nil)
	if err != nil || tc.RetentionMs != 5000 {
		t.Fatalf("topic retention default %d (%v), want 5000", tc.RetentionMs, err)
	}
	// Removing the overrides goes back to the static values.
	if c, _, err = d.Apply(nil, nil); err != nil || c.NumIOThreads != 4 || c.LogRetentionMs != 100*3600_000 {
		t.Fatalf("after removing: %d %d %v", c.NumIOThreads, c.LogRetentionMs, err)
	}
}

func TestValidateDynamic(t *testing.T) {
	cases := []struct {
		updates   map[string]string
		perBroker bool
		want      string // substring of the error; "" = valid
	}{
		{map[string]string{"num.io.threads": "3", "leader.replication.throttled.rate": "10"}, false, ""},
		{map[string]string{"broker.id": "3", "zookeeper.connect": "x"}, true, "Cannot update these configs dynamically: Set(broker.id, zookeeper.connect)"},
		{map[string]string{"ssl.keystore.location": "/k"}, true, "only per-listener using the listener prefix: Set(ssl.keystore.location)"},
		{map[string]string{"listener.name.internal.ssl.keystore.location": "/k"}, false, "broker id must be specified: Set(listener.name.internal.ssl.keystore.location)"},
		{map[string]string{"listener.name.internal.ssl.keystore.location": "/k"}, true, ""},
		{map[string]string{"advertised.listeners": "PLAINTEXT://h:1"}, false, "broker id must be specified"},
		{map[string]string{"num.io.threads": "zero"}, true, "num.io.threads"},
		{map[string]string{"some.plugin.config": "1"}, false, ""},
	}
	for _, tc := range cases {
		err := ValidateDynamic(tc.updates, tc.perBroker)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.updates, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.updates, err, tc.want)
		}
	}
}

func TestIsPassword(t *testing.T) {
	for name, want := range map[string]bool{
		"ssl.keystore.password":                         true,
		"listener.name.ssl.ssl.keystore.password":       true,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": true,
		"listener.name.ssl.ssl.keystore.location":       false,
		"ssl.keystore.location":                         false,
		"message.max.bytes":                             false,
		"password.encoder.secret":                       true,
		"custom.plugin.password":                        false,
	} {
		if got := IsPassword(name); got != want {
			t.Errorf("IsPassword(%s) = %v", name, got)
		}
	}
}

func TestValidateDynamicListenerValues(t *testing.T) {
	if err := ValidateDynamic(map[string]string{"listener.name.ssl.ssl.keystore.type": "ZIP"}, true); err == nil {
		t.Error("a listener key store type ZIP accepted")
	}
	if err := ValidateDynamic(map[string]string{"listener.name.ssl.ssl.keystore.type": "PKCS12"}, true); err != nil {
		t.Errorf("PKCS12: %v", err)
	}
	if err := ValidateDynamic(map[string]string{"listener.name.ssl.ssl.client.auth": "required"}, true); err == nil ||
		!strings.Contains(err.Error(), "Cannot update these configs dynamically") {
		t.Errorf("ssl.client.auth per listener: %v", err)
	}
}
