package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrHelp is returned by ParseArgs when the command line asks for help
// (-h, -help, --help).
var ErrHelp = errors.New("help requested")

// Usage is the command line syntax ParseArgs accepts.
const Usage = "usage: broker [server.properties] [--override key=value]..."

// ParseArgs parses the command line (without the program name) in Kafka's
// kafka-server-start form: an optional properties file followed or preceded by
// any number of "--override key=value" (also "--override=key=value"). It
// returns the path ("" when absent) and the overrides in order. Bad usage (an
// unknown flag, a second path, an override that is not key=value) is an error.
func ParseArgs(args []string) (path string, overrides []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			return "", nil, ErrHelp
		case a == "--override" || a == "-override":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%s needs a key=value argument; %s", a, Usage)
			}
			i++
			if err := checkOverride(args[i]); err != nil {
				return "", nil, err
			}
			overrides = append(overrides, args[i])
		case strings.HasPrefix(a, "--override=") || strings.HasPrefix(a, "-override="):
			_, kv, _ := strings.Cut(a, "=")
			if err := checkOverride(kv); err != nil {
				return "", nil, err
			}
			overrides = append(overrides, kv)
		case a == "--":
			// Everything after -- is positional.
			for _, rest := range args[i+1:] {
				if path != "" {
					return "", nil, fmt.Errorf("more than one properties file (%q and %q); %s", path, rest, Usage)
				}
				path = rest
			}
			return path, overrides, nil
		case strings.HasPrefix(a, "-"):
			return "", nil, fmt.Errorf("unknown flag %q; %s", a, Usage)
		default:
			if path != "" {
				return "", nil, fmt.Errorf("more than one properties file (%q and %q); %s", path, a, Usage)
			}
			path = a
		}
	}
	return path, overrides, nil
}

// splitOverride splits "key=value" at the first '='; the key is trimmed and
// must not be empty.
func splitOverride(kv string) (key, value string, err error) {
	k, v, ok := strings.Cut(kv, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return "", "", fmt.Errorf("override %q is not key=value", kv)
	}
	return k, v, nil
}

func checkOverride(kv string) error {
	_, _, err := splitOverride(kv)
	return err
}
