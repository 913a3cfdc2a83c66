package config

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
)

// keyDef is one row of the key table.
type keyDef struct {
	name      string
	scope     Scope
	typ       Type
	def       string // rendered default, canonical form
	null      bool   // Kafka's null default: no value unless set
	doc       string
	valid     *validator
	dynamic   bool // Kafka can change it at run time
	sensitive bool
	ours      bool // not a Kafka key

	// broker keys: stores the parsed value in its typed field (nil for keys
	// whose field is derived from several keys after parsing).
	set func(c *Config, v value)

	// topic keys: broker keys giving the default, highest precedence first, and
	// the broker's effective default taken from the typed fields.
	synonyms      []string
	brokerDefault func(c *Config) string
}

// keyTables holds the table, built once and never modified.
type keyTables struct {
	broker      []keyDef
	topic       []keyDef
	brokerIndex map[string]*keyDef
	topicIndex  map[string]*keyDef
}

var tables = sync.OnceValue(func() *keyTables {
	t := &keyTables{broker: append(brokerKeys(), securityKeys()...), topic: topicKeys()}
	byName := func(a, b keyDef) int { return cmp.Compare(a.name, b.name) }
	slices.SortFunc(t.broker, byName)
	slices.SortFunc(t.topic, byName)
	t.brokerIndex = make(map[string]*keyDef, len(t.broker))
	for i := range t.broker {
		t.broker[i].scope = ScopeBroker
		t.brokerIndex[t.broker[i].name] = &t.broker[i]
	}
	t.topicIndex = make(map[string]*keyDef, len(t.topic))
	for i := range t.topic {
		t.topic[i].scope = ScopeTopic
		t.topicIndex[t.topic[i].name] = &t.topic[i]
	}
	return t
})

func brokerKey(name string) *keyDef { return tables().brokerIndex[name] }
func topicKey(name string) *keyDef  { return tables().topicIndex[name] }

// Keys returns every known key, broker keys then topic keys, each sorted by
// name. The README's configuration table is generated from it.
func Keys() []KeyInfo {
	t := tables()
	out := make([]KeyInfo, 0, len(t.broker)+len(t.topic))
	for _, group := range [][]keyDef{t.broker, t.topic} {
		for i := range group {
			out = append(out, group[i].info())
		}
	}
	return out
}

func (k *keyDef) info() KeyInfo {
	ki := KeyInfo{
		Name:       k.name,
		Scope:      k.scope,
		Type:       k.typ,
		Default:    k.def,
		HasDefault: !k.null,
		Doc:        k.doc,
		Dynamic:    k.dynamic,
		Synonyms:   slices.Clone(k.synonyms),
		Kafka:      !k.ours,
	}
	if k.valid != nil {
		ki.Valid = k.valid.desc
	}
	return ki
}

// check parses raw as the key's type and runs its validator.
func (k *keyDef) check(raw string) (value, *Error) {
	v, reason := parseValue(k.typ, raw)
	if reason == "" && k.valid != nil {
		reason = k.valid.check(v)
	}
	if reason != "" {
		return v, &Error{Key: k.name, Value: raw, Reason: reason}
	}
	return v, nil
}

// Helpers for the typed fields.
func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
func btoa(b bool) string   { return strconv.FormatBool(b) }
func ptr(s string) *string { return &s }

const maxInt32 = "2147483647"
const maxInt64 = "9223372036854775807"
