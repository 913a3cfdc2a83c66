package config

import "slices"

// DescribeTopic answers DescribeConfigs for a topic with the given overrides:
// one Entry per topic key, sorted by name, with Kafka's source and synonyms.
//
// The synonyms follow Kafka 3.9 (ZooKeeper mode) exactly: the topic override
// (source 1) if any, then the broker synonyms set in the properties (4), then
// those with a non-null default (5), keeping only the part of the broker list
// that starts at the first synonym (e.g. log.retention.ms for retention.ms).
// So with retention.ms overridden and log.retention.ms set, the synonyms are
// retention.ms(1), log.retention.ms(4), log.retention.hours(5); with only
// log.retention.hours set they are just retention.ms(1), as in Kafka. The
// entry's source is its first synonym's, DEFAULT_CONFIG (5) when none.
// Invalid overrides are reported as given.
func (c *Config) DescribeTopic(overrides map[string]string) []Entry {
	t := tables()
	out := make([]Entry, 0, len(t.topic))
	for i := range t.topic {
		k := &t.topic[i]
		var val string
		var syns []Synonym
		if raw, ok := overrides[k.name]; ok {
			val = raw
			if v, bad := k.check(raw); bad == nil {
				val = v.s
			}
			syns = append(syns, Synonym{Name: k.name, Value: ptr(val), Source: SourceTopic})
		} else {
			val = c.topicDefault(k)
		}
		if len(k.synonyms) > 0 {
			syns = append(syns, c.brokerSynonyms(k.synonyms[0], k.synonyms)...)
		}
		e := Entry{
			Name:      k.name,
			Value:     ptr(val),
			ReadOnly:  false,
			Source:    SourceDefault,
			Sensitive: k.sensitive,
			Type:      int8(k.typ),
			Doc:       k.doc,
			Synonyms:  syns,
		}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		if k.sensitive {
			e.Value = nil
		}
		out = append(out, e)
	}
	return out
}

// DescribeBroker answers DescribeConfigs for this broker: one Entry per known
// broker key, sorted by name. A key set dynamically for this broker is
// DYNAMIC_BROKER_CONFIG (2), for the cluster DYNAMIC_DEFAULT_BROKER_CONFIG (3),
// in the properties or overrides STATIC_BROKER_CONFIG (4), else DEFAULT_CONFIG
// (5); keys with a null default that are unset have no value. ReadOnly is true
// for keys Kafka cannot change at run time. Sensitive values are never given.
func (c *Config) DescribeBroker() []Entry {
	t := tables()
	out := make([]Entry, 0, len(t.broker))
	for i := range t.broker {
		k := &t.broker[i]
		e := Entry{
			Name:      k.name,
			ReadOnly:  !k.dynamic,
			Source:    SourceDefault,
			Sensitive: k.sensitive,
			Type:      int8(k.typ),
			Doc:       k.doc,
			Synonyms:  c.brokerSynonyms(k.name, brokerSynonymGroup(k.name)),
		}
		if v, ok := c.brokerValue(k); ok && !k.sensitive {
			e.Value = ptr(v)
		}
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		out = append(out, e)
	}
	return append(out, c.describeListenerKeys()...)
}

// describeListenerKeys describes the listener.name.<l>.<key> settings in force (static or
// dynamic), after the other keys and sorted by name, with the unprefixed key among their
// synonyms as Kafka lists them.
func (c *Config) describeListenerKeys() []Entry {
	if c == nil {
		return nil
	}
	names := map[string]bool{}
	for _, m := range []map[string]string{c.dynBroker, c.dynDefault, c.static, c.Raw} {
		for n := range m {
			if _, rest, ok := listenerKey(n); ok && brokerKey(rest) != nil {
				names[n] = true
			}
		}
	}
	var out []Entry
	for _, n := range sortedKeys(boolKeys(names)) {
		_, rest, _ := listenerKey(n)
		k := brokerKey(rest)
		e := Entry{Name: n, ReadOnly: !k.dynamic, Sensitive: k.sensitive, Type: int8(k.typ), Doc: k.doc,
			Synonyms: c.brokerSynonyms(n, []string{n, rest})}
		if len(e.Synonyms) == 0 {
			continue
		}
		e.Source = e.Synonyms[0].Source
		if !k.sensitive {
			e.Value = e.Synonyms[0].Value
		}
		out = append(out, e)
	}
	return out
}

func boolKeys(m map[string]bool) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

// brokerValue is the canonical value of a broker key, if it has one.
func (c *Config) brokerValue(k *keyDef) (string, bool) {
	if c != nil && c.values != nil {
		v, ok := c.values[k.name]
		return v, ok
	}
	return k.def, !k.null
}

// brokerSynonymGroup lists the broker keys that feed the same setting, highest
// precedence first (Kafka's DynamicBrokerConfig.brokerConfigSynonyms).
func brokerSynonymGroup(name string) []string {
	groups := [][]string{
		{"log.roll.ms", "log.roll.hours"},
		{"log.roll.jitter.ms", "log.roll.jitter.hours"},
		{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	}
	for _, g := range groups {
		if slices.Contains(g, name) {
			return g
		}
	}
	if name == "log.flush.interval.ms" { // the scheduler interval is its default
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	}
	return []string{name}
}

// brokerSynonyms lists where the broker keys in names get a value: first the
// ones set dynamically for this broker, then for the cluster, then statically
// (properties file and overrides), then the ones with a non-null default, each
// group in names order; entries before the first one called own are dropped
// (Kafka's DynamicBrokerConfig / ConfigHelper.configSynonyms).
func (c *Config) brokerSynonyms(own string, names []string) []Synonym {
	var out []Synonym
	layers := []struct {
		get    func(string) (string, bool)
		source int8
	}{
		{func(n string) (string, bool) { v, ok := c.dynBroker[n]; return v, ok }, SourceDynamicBroker},
		{func(n string) (string, bool) { v, ok := c.dynDefault[n]; return v, ok }, SourceDynamicDefaultBroker},
		{c.rawValue, SourceStaticBroker},
	}
	for _, layer := range layers {
		for _, n := range names {
			k := synonymKey(n)
			if k == nil {
				continue
			}
			if v, ok := layer.get(n); ok {
				s := Synonym{Name: n, Value: ptr(v), Source: layer.source}
				if k.sensitive {
					s.Value = nil
				}
				out = append(out, s)
			}
		}
	}
	for _, n := range names {
		if k := brokerKey(n); k != nil && !k.null {
			s := Synonym{Name: n, Value: ptr(k.def), Source: SourceDefault}
			if k.sensitive {
				s.Value = nil
			}
			out = append(out, s)
		}
	}
	for len(out) > 0 && out[0].Name != own {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// rawValue is a key's static value (properties file and overrides).
func (c *Config) rawValue(name string) (string, bool) {
	if c == nil {
		return "", false
	}
	raw := c.Raw
	if c.static != nil {
		raw = c.static
	}
	v, ok := raw[name]
	return v, ok
}

// synonymKey is the definition of a broker key, also given with a listener prefix.
func synonymKey(name string) *keyDef {
	if _, rest, ok := listenerKey(name); ok {
		return brokerKey(rest)
	}
	return brokerKey(name)
}
