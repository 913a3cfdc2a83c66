package config

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Type is a configuration value type, numbered as Kafka's DescribeConfigs
// response numbers them (DescribeConfigsResponse ConfigType).
type Type int8

// Kafka's configuration types.
const (
	TypeUnknown  Type = 0
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3 // 32-bit
	TypeShort    Type = 4 // 16-bit
	TypeLong     Type = 5 // 64-bit
	TypeDouble   Type = 6
	TypeList     Type = 7 // comma-separated
	TypeClass    Type = 8
	TypePassword Type = 9
)

// String returns Kafka's name for the type, as in its documentation.
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "boolean"
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeShort:
		return "short"
	case TypeLong:
		return "long"
	case TypeDouble:
		return "double"
	case TypeList:
		return "list"
	case TypeClass:
		return "class"
	case TypePassword:
		return "password"
	}
	return "unknown"
}

// Scope tells whether a key belongs to the broker (server.properties) or to a
// topic (topic-level override, Kafka's TopicConfig).
type Scope uint8

// Scopes.
const (
	ScopeBroker Scope = iota
	ScopeTopic
)

// String returns "broker" or "topic".
func (s Scope) String() string {
	if s == ScopeTopic {
		return "topic"
	}
	return "broker"
}

// Config sources, numbered as Kafka's DescribeConfigs response numbers them
// (ConfigSource ids).
const (
	SourceUnknown              int8 = 0
	SourceTopic                int8 = 1 // DYNAMIC_TOPIC_CONFIG
	SourceDynamicBroker        int8 = 2 // DYNAMIC_BROKER_CONFIG
	SourceDynamicDefaultBroker int8 = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG
	SourceStaticBroker         int8 = 4 // STATIC_BROKER_CONFIG
	SourceDefault              int8 = 5 // DEFAULT_CONFIG
	SourceDynamicBrokerLogger  int8 = 6 // DYNAMIC_BROKER_LOGGER_CONFIG
)

// Warning is a problem in the configuration that does not stop the broker,
// such as an unknown key.
type Warning string

// KeyInfo describes one known key, for documentation.
type KeyInfo struct {
	Name       string
	Scope      Scope
	Type       Type
	Default    string // rendered as Kafka renders it; meaningful when HasDefault
	HasDefault bool   // false for Kafka's null defaults (derived from another key, or unset)
	Valid      string // valid values, e.g. "[1,...]"; "" when any value of the type goes
	Doc        string
	Dynamic    bool     // Kafka can change it at run time (DescribeConfigs read_only=false)
	Synonyms   []string // topic keys: broker keys giving the default, highest precedence first
	Kafka      bool     // false for this broker's own keys (metrics.listen)
}

// Entry is one configuration in a DescribeConfigs answer, in the shape of
// kmsg.DescribeConfigsResponseResourceConfig.
type Entry struct {
	Name      string
	Value     *string // nil when the key has no value (null default) or is sensitive
	ReadOnly  bool
	Source    int8 // Source* constants
	Sensitive bool
	Type      int8 // Type* constants
	Doc       string
	Synonyms  []Synonym
}

// Synonym is one source a configuration's value may come from, in precedence
// order (kmsg.DescribeConfigsResponseResourceConfigConfigSynonym).
type Synonym struct {
	Name   string
	Value  *string
	Source int8
}

// Error is a configuration problem about one key: a value that does not parse
// or fails its validator, or (for topics) an unknown key. It matches
// kerr.InvalidConfig with errors.Is, so a request handler can turn it into
// Kafka's INVALID_CONFIG error code and use Error() as the message.
type Error struct {
	Key     string
	Value   string
	Unknown bool   // the key is not known
	Reason  string // what is expected
}

func (e *Error) Error() string {
	if e.Unknown {
		if e.Reason != "" {
			return fmt.Sprintf("unknown configuration %q: %s", e.Key, e.Reason)
		}
		return fmt.Sprintf("unknown configuration %q", e.Key)
	}
	return fmt.Sprintf("invalid value %q for configuration %q: %s", e.Value, e.Key, e.Reason)
}

// Is reports whether target is kerr.InvalidConfig.
func (e *Error) Is(target error) bool { return target == kerr.InvalidConfig }
