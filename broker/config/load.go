package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Load reads an optional server.properties file (path "" = none; Java
// properties syntax) then applies overrides "key=value" in order, later wins.
// Unknown keys give a Warning each. Bad values give an error naming the key,
// the value and what is expected (every bad key is reported, joined); the
// returned *Error values match kerr.InvalidConfig with errors.Is.
func Load(path string, overrides []string) (*Config, []Warning, error) {
	return load(path, overrides, os.Hostname)
}

// Default returns the configuration with every key at its default.
func Default() *Config {
	c, _, err := load("", nil, os.Hostname)
	if err != nil { // the defaults are tested to be valid; only a broken table gets here
		return &Config{Raw: map[string]string{}}
	}
	return c
}

func load(path string, overrides []string, hostname func() (string, error)) (*Config, []Warning, error) {
	var props []property
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("reading configuration: %w", err)
		}
		props, err = parseProperties(string(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, kv := range overrides {
		k, v, err := splitOverride(kv)
		if err != nil {
			return nil, nil, err
		}
		props = append(props, property{key: k, value: v})
	}
	return build(props, hostname)
}

// build turns the key/value pairs, in order, into a Config.
func build(props []property, hostname func() (string, error)) (*Config, []Warning, error) {
	c := &Config{Raw: make(map[string]string, len(props)), values: map[string]string{}, props: props}
	var order []string // first appearance of each key, for stable messages
	for _, p := range props {
		if _, seen := c.Raw[p.key]; !seen {
			order = append(order, p.key)
		}
		c.Raw[p.key] = strings.TrimSpace(p.value)
	}

	// Defaults first, then the given values over them.
	parsed := map[string]value{}
	for i := range tables().broker {
		k := &tables().broker[i]
		if k.null {
			continue
		}
		v, bad := k.check(k.def)
		if bad != nil {
			return nil, nil, fmt.Errorf("default of %s: %w", k.name, bad)
		}
		parsed[k.name] = v
	}
	var warnings []Warning
	var errs []error
	for _, name := range order {
		k := brokerKey(name)
		if k == nil {
			if prefixed, known, bad := checkListenerKey(name, c.Raw[name]); prefixed && known {
				if bad != nil {
					errs = append(errs, bad)
				}
				continue
			}
			warnings = append(warnings, unknownKeyWarning(name))
			continue
		}
		v, bad := k.check(c.Raw[name])
		if bad != nil {
			errs = append(errs, bad)
			continue
		}
		parsed[name] = v
	}
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	for name, v := range parsed {
		c.values[name] = v.s
		if k := brokerKey(name); k.set != nil {
			k.set(c, v)
		}
	}
	if err := c.derive(parsed, hostname); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

func unknownKeyWarning(name string) Warning {
	if k := topicKey(name); k != nil && len(k.synonyms) > 0 {
		return Warning(fmt.Sprintf("unknown configuration %q ignored: it is a topic configuration; the broker-wide default is %q", name, k.synonyms[0]))
	}
	return Warning(fmt.Sprintf("unknown configuration %q ignored", name))
}

// derive fills the fields that depend on several keys, and checks the rules
// that span keys.
func (c *Config) derive(p map[string]value, hostname func() (string, error)) error {
	get := func(name string) (value, bool) { v, ok := p[name]; return v, ok }
	var errs []error
	fail := func(key, reason string) {
		errs = append(errs, &Error{Key: key, Value: c.Raw[key], Reason: reason})
	}

	// log.dirs, else log.dir.
	dirsKey := "log.dir"
	if _, ok := get("log.dirs"); ok {
		dirsKey = "log.dirs"
	}
	dirs, _ := get(dirsKey)
	for _, d := range strings.Split(dirs.s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.LogDirs = append(c.LogDirs, d)
		}
	}
	if len(c.LogDirs) == 0 {
		fail(dirsKey, "at least one log directory is needed")
	}

	// Retention: ms > minutes > hours; any negative result means unlimited.
	switch v, ok := get("log.retention.ms"); {
	case ok:
		c.LogRetentionMs = v.i
	default:
		if m, ok := get("log.retention.minutes"); ok {
			c.LogRetentionMs = m.i * 60_000
		} else {
			h, _ := get("log.retention.hours")
			c.LogRetentionMs = h.i * 3_600_000
		}
	}
	if c.LogRetentionMs < 0 {
		c.LogRetentionMs = -1
	}
	if c.LogRetentionMs == 0 {
		fail(c.firstSet("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
			"retention must be -1 (unlimited) or at least 1 ms")
	}

	// Roll and jitter: ms, else hours.
	if v, ok := get("log.roll.ms"); ok {
		c.LogRollMs = v.i
	} else {
		h, _ := get("log.roll.hours")
		c.LogRollMs = h.i * 3_600_000
	}
	if c.LogRollMs < 1 {
		fail("log.roll.ms", "must be at least 1")
	}
	if v, ok := get("log.roll.jitter.ms"); ok {
		c.LogRollJitterMs = v.i
	} else {
		h, _ := get("log.roll.jitter.hours")
		c.LogRollJitterMs = h.i * 3_600_000
	}
	if c.LogRollJitterMs < 0 {
		fail("log.roll.jitter.ms", "must be at least 0")
	}

	// Flush interval: ms, else the scheduler interval.
	if v, ok := get("log.flush.interval.ms"); ok {
		c.LogFlushIntervalMs = v.i
	} else {
		c.LogFlushIntervalMs = c.LogFlushSchedulerIntervalMs
	}

	if v, ok := get("zookeeper.connection.timeout.ms"); ok {
		c.ZookeeperConnectionTimeoutMs = int(v.i)
	} else {
		c.ZookeeperConnectionTimeoutMs = c.ZookeeperSessionTimeoutMs
	}

	if c.ReplicaFetchWaitMaxMs > c.ReplicaSocketTimeoutMs {
		fail("replica.fetch.wait.max.ms", "must be at most replica.socket.timeout.ms ("+strconv.Itoa(c.ReplicaSocketTimeoutMs)+")")
	}
	if int64(c.ReplicaFetchWaitMaxMs) > c.ReplicaLagTimeMaxMs {
		fail("replica.fetch.wait.max.ms", "must be at most replica.lag.time.max.ms ("+itoa(c.ReplicaLagTimeMaxMs)+")")
	}
	if c.QueuedMaxRequestBytes > 0 && c.QueuedMaxRequestBytes < int64(c.SocketRequestMaxBytes) {
		fail("queued.max.request.bytes", "must be -1 or at least socket.request.max.bytes ("+itoa(int64(c.SocketRequestMaxBytes))+")")
	}
	if v, _ := get("remote.log.storage.system.enable"); v.b {
		fail("remote.log.storage.system.enable", "tiered storage is not supported")
	}
	errs = append(errs, c.deriveListeners(p, hostname)...)
	return errors.Join(errs...)
}

// firstSet returns the first of names present in Raw, else the last name.
func (c *Config) firstSet(names ...string) string {
	for _, n := range names {
		if _, ok := c.Raw[n]; ok {
			return n
		}
	}
	return names[len(names)-1]
}
