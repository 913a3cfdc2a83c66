package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name    string
		in      string
		want    []kv
		wantErr string
	}{
		{name: "equals", in: "a=b", want: []kv{{"a", "b"}}},
		{name: "colon", in: "a:b", want: []kv{{"a", "b"}}},
		{name: "space", in: "a b", want: []kv{{"a", "b"}}},
		{name: "spaces around separator", in: "  a \t=  b", want: []kv{{"a", "b"}}},
		{name: "space then colon", in: "a   :   b", want: []kv{{"a", "b"}}},
		{name: "only first separator splits", in: "a=b=c:d", want: []kv{{"a", "b=c:d"}}},
		{name: "trailing whitespace kept in value", in: "a=b  ", want: []kv{{"a", "b  "}}},
		{name: "key without value", in: "a", want: []kv{{"a", ""}}},
		{name: "key with empty value", in: "a=", want: []kv{{"a", ""}}},
		{name: "hash comment", in: "# c=d\na=b", want: []kv{{"a", "b"}}},
		{name: "bang comment", in: "  ! c=d\na=b", want: []kv{{"a", "b"}}},
		{name: "hash inside value is literal", in: "a=b#c", want: []kv{{"a", "b#c"}}},
		{name: "blank lines", in: "\n\n  \na=b\n\n", want: []kv{{"a", "b"}}},
		{name: "CRLF and CR line ends", in: "a=1\r\nb=2\rc=3", want: []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{name: "continuation", in: "a=one,\\\n    two", want: []kv{{"a", "one,two"}}},
		{name: "continuation over CRLF", in: "a=x\\\r\n  y\r\nb=z", want: []kv{{"a", "xy"}, {"b", "z"}}},
		{name: "continued line starting with hash is not a comment", in: "a=x\\\n#y", want: []kv{{"a", "x#y"}}},
		{name: "comment line is not continued", in: "# c \\\na=b", want: []kv{{"a", "b"}}},
		{name: "even backslashes do not continue", in: "a=x\\\\\nb=y", want: []kv{{"a", `x\`}, {"b", "y"}}},
		{name: "empty continuation line ends", in: "a=x\\\n\nb=y", want: []kv{{"a", "x"}, {"b", "y"}}},
		{name: "backslash at end of file dropped", in: "a=x\\", want: []kv{{"a", "x"}}},
		{name: "escaped separator in key", in: `a\=b\:c\ d=e`, want: []kv{{"a=b:c d", "e"}}},
		{name: "escapes in value", in: `a=t\tn\nr\rf\f\\q\q`, want: []kv{{"a", "t\tn\nr\rf\f\\qq"}}},
		{name: "unicode escape", in: `a=caf\u00e9 \u0041`, want: []kv{{"a", "café A"}}},
		{name: "surrogate pair escape", in: `a=\ud83d\ude00`, want: []kv{{"a", "😀"}}},
		{name: "later key wins is left to the caller", in: "a=1\na=2", want: []kv{{"a", "1"}, {"a", "2"}}},
		{name: "utf-8 text", in: "clé=värde", want: []kv{{"clé", "värde"}}},
		{name: "malformed unicode escape", in: "x=1\na=\\u12g4", wantErr: "line 2"},
		{name: "short unicode escape", in: `a=\u12`, wantErr: `malformed \uxxxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props, err := parseProperties(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, p := range props {
				got = append(got, kv{p.key, p.value})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{"a=b", "a\\\n b", `k\u00e9=\ud83d\ude00`, "# c\n! d\n a : b \\", "\\u", "a=\\u12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		props, err := parseProperties(s)
		if err != nil {
			return
		}
		// Every key/value goes through Load's path without panicking.
		var kv []property
		for _, p := range props {
			if p.key != "" {
				kv = append(kv, p)
			}
		}
		_, _, _ = build(kv, testHostname)
	})
}
