package bench

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range cases {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRecorderRows(t *testing.T) {
	rec := newRecorder()
	for _, v := range []float64{100, 300, 200} {
		rec.add(Ours, "produce_1k_acks1", v)
	}
	for _, v := range []float64{100, 100, 150} {
		rec.add(Kafka, "produce_1k_acks1", v)
	}
	rec.add(Ours, "e2e_p99", 3)
	rec.add(Kafka, "e2e_p99", 4)
	rec.add(Ours, "rss_idle", 10)
	rows := rec.rows()
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rows), rows)
	}
	cases := []struct {
		key   string
		ratio float64
		met   string // "yes", "no" or "" (no target or no Kafka)
	}{
		{"produce_1k_acks1", 2, "yes"},
		{"e2e_p99", 0.75, "no"},
		{"rss_idle", 0, ""},
	}
	for i, tc := range cases {
		r := rows[i]
		if r.Key != tc.key || r.Ratio != tc.ratio {
			t.Errorf("row %d: %s ratio %v, want %s ratio %v", i, r.Key, r.Ratio, tc.key, tc.ratio)
		}
		met := ""
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "no"}[*r.Met]
		}
		if met != tc.met {
			t.Errorf("%s: met %q, want %q", r.Key, met, tc.met)
		}
	}
	var b bytes.Buffer
	rep := &Report{Rows: rows, Limits: []Limit{{Name: "Loopback", Value: 1235.5, Unit: "MB/s"}}}
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| Loopback | 1236 MB/s |", "| 200 | 100 | 2.00x | >= 1.5x met |", "**missed**", "100 / 300 / 200; 100 / 100 / 150"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestParsePerfTools(t *testing.T) {
	cases := []struct {
		name    string
		parse   func(string) (float64, error)
		out     string
		want    float64
		wantErr bool
	}{
		{"producer", func(s string) (float64, error) { return parseProducerPerf(s, 1000) },
			"1000 records sent, 500.0 records/sec (0.48 MB/sec), 3.0 ms avg latency\n" +
				"2000 records sent, 1000.5 records/sec (0.95 MB/sec), 2.0 ms avg latency, 9.0 ms max latency, 2 ms 50th\n", 1.0005, false},
		{"producer without summary", func(s string) (float64, error) { return parseProducerPerf(s, 1000) }, "nothing\n", 0, true},
		{"consumer", parseConsumerPerf,
			"start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
				"2024-01-01 00:00:00:000, 2024-01-01 00:00:01:000, 1.0, 1.0, 1000, 1000.0, 10, 990, 2.0000, 1010.1\n", 2 * 1.048576, false},
		{"consumer without summary", parseConsumerPerf, "WARN something\n", 0, true},
	}
	for _, tc := range cases {
		got, err := tc.parse(tc.out)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if d := got - tc.want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQuantileMs(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		q    float64
		want float64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}}
	for _, tc := range cases {
		if got := quantileMs(lat, tc.q); got != tc.want {
			t.Errorf("quantile %v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantileMs(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

func TestAPIVersionsFrame(t *testing.T) {
	f := apiVersionsFrame()
	if n := binary.BigEndian.Uint32(f); int(n) != len(f)-4 {
		t.Fatalf("frame size %d, body %d", n, len(f)-4)
	}
	if key, ver := binary.BigEndian.Uint16(f[4:]), binary.BigEndian.Uint16(f[6:]); key != 18 || ver != 0 {
		t.Errorf("api key %d v%d, want ApiVersions v0", key, ver)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Smoke()
	ok.BrokerBin, ok.KloadBin, ok.WorkDir, ok.ZKServer = "b", "k", "w", "zk"
	cases := []struct {
		name string
		mod  func(*Config)
		err  bool
	}{
		{"smoke", func(*Config) {}, false},
		{"no broker", func(c *Config) { c.BrokerBin = "" }, true},
		{"kafka without zookeeper", func(c *Config) { c.KafkaLib, c.ZKServer, c.ReplicatedRecords = "lib", "", 0 }, true},
		{"replicated without zookeeper", func(c *Config) { c.ZKServer = "" }, true},
		{"ours alone without zookeeper", func(c *Config) { c.ZKServer, c.ReplicatedRecords = "", 0 }, false},
		{"no load rounds", func(c *Config) { c.Rounds = 0 }, false},
		{"negative rounds", func(c *Config) { c.Rounds = -1 }, true},
		{"warm-up too long", func(c *Config) { c.E2EWarmup = c.E2EDuration }, true},
	}
	for _, tc := range cases {
		c := ok
		tc.mod(&c)
		if err := c.validate(); (err != nil) != tc.err {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
