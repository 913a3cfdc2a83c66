package config

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Dynamic broker configuration (Kafka's DynamicBrokerConfig): keys that Kafka can change at
// run time may be set for one broker (/config/brokers/<id>) or for every broker
// (/config/brokers/<default>) with AlterConfigs or IncrementalAlterConfigs; they override the
// static configuration (server.properties and --override), a broker's own over the cluster
// default. Dynamic holds the effective configuration and swaps it atomically when those
// overrides change, so that the features reading a dynamic key through Current see the new
// value without a restart.

// DefaultEntity is the name of the cluster-wide entity under /config/brokers.
const DefaultEntity = "<default>"

// Dynamic is the broker's configuration with the dynamic overrides applied. Current is safe
// for concurrent use; Apply calls are serialised.
type Dynamic struct {
	static *Config
	mu     sync.Mutex
	cur    atomic.Pointer[Config]
}

// NewDynamic starts from the static configuration, with no dynamic override.
func NewDynamic(static *Config) *Dynamic {
	d := &Dynamic{static: static}
	d.cur.Store(static)
	return d
}

// Current is the effective configuration now.
func (d *Dynamic) Current() *Config { return d.cur.Load() }

// Static is the configuration from the properties file and the overrides.
func (d *Dynamic) Static() *Config { return d.static }

// Apply rebuilds the effective configuration from the static one, the cluster-wide dynamic
// defaults and this broker's dynamic overrides, and makes it current. Entries that cannot
// apply (keys Kafka cannot change at run time, values that do not parse) are skipped with a
// warning each, as Kafka skips them when it reads ZooKeeper; unknown keys are kept for
// DescribeConfigs without effect. When the result breaks a rule spanning keys, nothing changes
// and the error says why.
func (d *Dynamic) Apply(clusterDefault, perBroker map[string]string) (*Config, []Warning, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	props := slices.Clone(d.static.props)
	var warnings []Warning
	usable := func(src map[string]string, what string) map[string]string {
		out := map[string]string{}
		for _, name := range sortedKeys(src) {
			v := src[name]
			k := brokerKey(name)
			if _, _, ok := listenerKey(name); ok {
				// A listener's own setting: its value is checked like the key's.
				if _, known, bad := checkListenerKey(name, v); known && bad != nil {
					warnings = append(warnings, Warning(fmt.Sprintf("dynamic %s config ignored: %v", what, bad)))
					continue
				}
				out[name] = v
				props = append(props, property{key: name, value: v})
				continue
			}
			switch {
			case k == nil:
				out[name] = v
				continue
			case !k.dynamic:
				warnings = append(warnings, Warning(fmt.Sprintf("dynamic %s config %s ignored: it cannot be changed at run time", what, name)))
				continue
			}
			if _, bad := k.check(v); bad != nil {
				warnings = append(warnings, Warning(fmt.Sprintf("dynamic %s config ignored: %v", what, bad)))
				continue
			}
			out[name] = v
			props = append(props, property{key: name, value: v})
		}
		return out
	}
	def := usable(clusterDefault, "cluster-default")
	own := usable(perBroker, "broker")
	c, _, err := build(props, os.Hostname)
	if err != nil {
		return d.cur.Load(), warnings, err
	}
	c.static = d.static.Raw
	c.dynDefault, c.dynBroker = def, own
	d.cur.Store(c)
	return c, warnings, nil
}

// DynamicOverrides returns the cluster-wide and per-broker dynamic overrides in force.
func (c *Config) DynamicOverrides() (clusterDefault, perBroker map[string]string) {
	return maps.Clone(c.dynDefault), maps.Clone(c.dynBroker)
}

// ValidateDynamic checks updates to the dynamic configuration of one broker (perBroker) or of
// the cluster default, the way Kafka's DynamicBrokerConfig.validateConfigs does: keys Kafka
// cannot change at run time, security keys without a listener prefix, keys that exist per
// broker only set as the cluster default, and values that do not parse are refused; the
// message lists the keys as Kafka does. Unknown keys are allowed (Kafka accepts them for
// custom plugins).
func ValidateDynamic(updates map[string]string, perBroker bool) error {
	var nonDynamic, needPrefix, brokerOnly []string
	var bad []error
	for _, name := range sortedKeys(updates) {
		if _, rest, ok := listenerKey(name); ok {
			if k := brokerKey(rest); k != nil && !k.dynamic {
				nonDynamic = append(nonDynamic, name)
			}
			if !perBroker {
				brokerOnly = append(brokerOnly, name)
			}
			if _, known, err := checkListenerKey(name, updates[name]); known && err != nil {
				bad = append(bad, err)
			}
			continue
		}
		if isListenerSecurityKey(name) {
			needPrefix = append(needPrefix, name)
			continue
		}
		k := brokerKey(name)
		if k == nil {
			continue
		}
		switch {
		case !k.dynamic:
			nonDynamic = append(nonDynamic, name)
			continue
		case !perBroker && perBrokerOnly(name):
			brokerOnly = append(brokerOnly, name)
			continue
		}
		if _, err := k.check(updates[name]); err != nil {
			bad = append(bad, err)
		}
	}
	set := func(keys []string) string { return "Set(" + strings.Join(keys, ", ") + ")" }
	switch {
	case len(nonDynamic) > 0:
		return fmt.Errorf("Cannot update these configs dynamically: %s", set(nonDynamic))
	case len(needPrefix) > 0:
		return fmt.Errorf("These security configs can be dynamically updated only per-listener using the listener prefix: %s", set(needPrefix))
	case len(brokerOnly) > 0:
		return fmt.Errorf("Cannot update these configs at default cluster level, broker id must be specified: %s", set(brokerOnly))
	case len(bad) > 0:
		return bad[0]
	}
	return nil
}

// listenerKey splits listener.name.<listener>.<key>.
func listenerKey(name string) (listener, rest string, ok bool) {
	s, found := strings.CutPrefix(name, "listener.name.")
	if !found {
		return "", "", false
	}
	listener, rest, ok = strings.Cut(s, ".")
	return listener, rest, ok && listener != "" && rest != ""
}

// isListenerSecurityKey reports whether a key belongs to one listener's security settings,
// which Kafka lets change at run time only with the listener.name.<l>. prefix.
func isListenerSecurityKey(name string) bool {
	return strings.HasPrefix(name, "ssl.") || strings.HasPrefix(name, "sasl.") && name != "sasl.enabled.mechanisms"
}

// perBrokerOnly lists the dynamic keys that make sense for one broker only (Kafka's
// DynamicBrokerConfig.PerBrokerConfigs): the listener configuration.
func perBrokerOnly(name string) bool {
	switch name {
	case "listeners", "advertised.listeners", "listener.security.protocol.map":
		return true
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsPassword reports whether a broker key holds a password (Kafka's PASSWORD type), alone or
// with a listener prefix: its dynamic value is stored encrypted and never described.
func IsPassword(name string) bool {
	if _, rest, ok := listenerKey(name); ok {
		name = rest
		if jaasKeyRE.MatchString(rest) {
			return true
		}
	}
	k := brokerKey(name)
	return k != nil && k.typ == TypePassword
}
