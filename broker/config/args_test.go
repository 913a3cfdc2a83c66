package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args      []string
		path      string
		overrides []string
		wantErr   bool
		help      bool
	}{
		{args: nil},
		{args: []string{"config/server.properties"}, path: "config/server.properties"},
		{args: []string{"s.properties", "--override", "broker.id=1", "--override=log.dirs=/a,/b"},
			path: "s.properties", overrides: []string{"broker.id=1", "log.dirs=/a,/b"}},
		{args: []string{"--override", "a=", "s.properties", "-override", "b=c=d"},
			path: "s.properties", overrides: []string{"a=", "b=c=d"}},
		{args: []string{"--override", "x=1", "--", "-odd-name.properties"}, path: "-odd-name.properties", overrides: []string{"x=1"}},
		{args: []string{"--override"}, wantErr: true},
		{args: []string{"--override", "novalue"}, wantErr: true},
		{args: []string{"--override==v"}, wantErr: true},
		{args: []string{"a.properties", "b.properties"}, wantErr: true},
		{args: []string{"--verbose"}, wantErr: true},
		{args: []string{"--help"}, wantErr: true, help: true},
		{args: []string{"s.properties", "-h"}, wantErr: true, help: true},
	}
	for _, tt := range tests {
		path, overrides, err := ParseArgs(tt.args)
		if (err != nil) != tt.wantErr || (tt.help != errors.Is(err, ErrHelp)) {
			t.Errorf("ParseArgs(%q) error = %v, wantErr %v help %v", tt.args, err, tt.wantErr, tt.help)
			continue
		}
		if tt.wantErr {
			continue
		}
		if path != tt.path || !reflect.DeepEqual(overrides, tt.overrides) {
			t.Errorf("ParseArgs(%q) = %q, %q; want %q, %q", tt.args, path, overrides, tt.path, tt.overrides)
		}
	}
}
