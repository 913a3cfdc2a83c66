package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    func(*Config)
		wantErr string
	}{
		{name: "defaults", args: nil, want: func(c *Config) {}},
		{
			name: "every flag",
			args: []string{"-brokers", "a:1, b:2", "-topic", "t", "-records", "10", "-size", "5", "-partitions", "3",
				"-replication", "1", "-acks", "0", "-mode", "produce", "-compression", "zstd", "-linger", "1ms",
				"-inflight", "2", "-timeout", "1m", "-json", "-partitioner", "roundrobin"},
			want: func(c *Config) {
				c.Brokers = []string{"a:1", "b:2"}
				c.Topic, c.Records, c.Size, c.Partitions, c.Replication = "t", 10, 5, 3, 1
				c.Acks, c.Mode, c.Compression, c.Linger = "0", "produce", "zstd", time.Millisecond
				c.Inflight, c.Timeout, c.JSON, c.Partitioner = 2, time.Minute, true, "roundrobin"
			},
		},
		{name: "acks -1 means all", args: []string{"-acks", "-1"}, want: func(c *Config) { c.Acks = "-1" }},
		{name: "transactions", args: []string{"-txn", "1000", "-isolation", "read_committed"}, want: func(c *Config) {
			c.Txn, c.Isolation = 1000, "read_committed"
		}},
		{name: "transactions need acks all", args: []string{"-txn", "10", "-acks", "1"}, wantErr: "-txn"},
		{name: "negative txn", args: []string{"-txn", "-1"}, wantErr: "-txn"},
		{name: "bad isolation", args: []string{"-isolation", "serializable"}, wantErr: "-isolation"},
		{name: "bad acks", args: []string{"-acks", "2"}, wantErr: "-acks"},
		{name: "bad mode", args: []string{"-mode", "read"}, wantErr: "-mode"},
		{name: "bad compression", args: []string{"-compression", "brotli"}, wantErr: "-compression"},
		{name: "bad partitioner", args: []string{"-partitioner", "hash"}, wantErr: "-partitioner"},
		{name: "zero partitions", args: []string{"-partitions", "0"}, wantErr: "-partitions"},
		{name: "zero replication", args: []string{"-replication", "0"}, wantErr: "-replication"},
		{name: "negative records", args: []string{"-records", "-1"}, wantErr: "-records"},
		{name: "negative size", args: []string{"-size", "-1"}, wantErr: "-size"},
		{name: "no brokers", args: []string{"-brokers", " , "}, wantErr: "-brokers"},
		{name: "empty topic", args: []string{"-topic", ""}, wantErr: "-topic"},
		{name: "zero inflight", args: []string{"-inflight", "0"}, wantErr: "-inflight"},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantErr: "-timeout"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "extra"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "nope"},
	}
	base := Config{
		Brokers: []string{"127.0.0.1:9092"}, Topic: "kload", Records: 200000, Size: 1024, Partitions: 6,
		Replication: -1, Acks: "all", Mode: "both", Compression: "none", Linger: 5 * time.Millisecond,
		Inflight: 5, Timeout: 10 * time.Minute, Partitioner: "sticky", Isolation: "read_uncommitted",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseConfig(%q): error %v, want one naming %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", tc.args, err)
			}
			want := base
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseConfig(%q):\n got %+v\nwant %+v", tc.args, got, want)
			}
		})
	}
}

func TestPhases(t *testing.T) {
	cases := []struct {
		mode               string
		produces, consumes bool
	}{
		{"produce", true, false},
		{"consume", false, true},
		{"both", true, true},
	}
	for _, tc := range cases {
		c := Config{Mode: tc.mode}
		if c.produces() != tc.produces || c.consumes() != tc.consumes {
			t.Errorf("mode %s: produces %v consumes %v", tc.mode, c.produces(), c.consumes())
		}
	}
}

func TestProducerOptsIdempotence(t *testing.T) {
	cases := []struct {
		acks string
		opts int
	}{
		{"all", 4},
		{"1", 6},
		{"0", 6},
	}
	for _, tc := range cases {
		c := Config{Topic: "t", Acks: tc.acks, Compression: "none", Inflight: 3}
		if n := len(c.producerOpts()); n != tc.opts {
			t.Errorf("acks=%s: %d producer options, want %d (idempotence only with acks=all)", tc.acks, n, tc.opts)
		}
	}
}
