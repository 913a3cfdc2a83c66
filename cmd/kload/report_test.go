package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := []struct {
		name string
		lat  []time.Duration
		q    float64
		want float64
	}{
		{"empty", nil, 0.5, 0},
		{"single", ms(7), 0.99, 7},
		{"p50 of 1..100", ms(hundred...), 0.5, 50},
		{"p99 of 1..100", ms(hundred...), 0.99, 99},
		{"p100 of 1..100", ms(hundred...), 1, 100},
		{"p50 of four", ms(1, 2, 3, 4), 0.5, 2},
	}
	for _, tc := range cases {
		if got := percentile(tc.lat, tc.q); got != tc.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tc.name, tc.q, got, tc.want)
		}
	}
}

func TestPhaseFigures(t *testing.T) {
	p := &Phase{Records: 1000, Bytes: 2_000_000}
	p.rates(2 * time.Second)
	if p.MBPerSec != 1 || p.RecordsPerSec != 500 || p.Seconds != 2 {
		t.Errorf("rates: %+v", p)
	}
	p.latencies([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	if p.P50Ms != 2 || p.P99Ms != 3 {
		t.Errorf("latencies: p50 %v p99 %v", p.P50Ms, p.P99Ms)
	}
	zero := &Phase{}
	zero.rates(0)
	if zero.MBPerSec != 0 || zero.RecordsPerSec != 0 {
		t.Errorf("zero elapsed: %+v", zero)
	}
}

func TestReportWrite(t *testing.T) {
	rep := Report{Topic: "t", Partitions: 6, Size: 1024, Acks: "all", Compression: "none",
		Produce: &Phase{Records: 10, MBPerSec: 1.5, P50Ms: 2, P99Ms: 9},
		Consume: &Phase{Records: 10, MBPerSec: 3}}
	cases := []struct {
		name   string
		json   bool
		checks []string
	}{
		{"text", false, []string{"topic t: 6 partitions", "produce: 10 records", "1.50 MB/s", "p99 9.00 ms", "consume: 10 records", "3.00 MB/s"}},
		{"json", true, []string{`"mb_per_s":1.5`, `"p50_ms":2`, `"consume":{"records":10`}},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := rep.Write(&buf, tc.json); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, c := range tc.checks {
			if !strings.Contains(buf.String(), c) {
				t.Errorf("%s output lacks %q:\n%s", tc.name, c, buf.String())
			}
		}
		if tc.json {
			var back Report
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Produce == nil || back.Produce.Records != 10 {
				t.Errorf("json round trip: %v %+v", err, back)
			}
		}
	}
}
