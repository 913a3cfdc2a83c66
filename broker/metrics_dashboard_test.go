package broker

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"kbroker/broker/metrics"
)

// TestDashboardMetricsExist checks that every metric the Grafana dashboard in docs/ queries is
// one the broker exports.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	// Everything the broker can export: the registry's families once each has a sample, the
	// state collector's descriptions and the per-partition families.
	m := metrics.New()
	m.ProducePartition("t", 1, 1, false)
	m.ProducePartition("t", 0, 1, true)
	m.FetchPartition("t", 1, false)
	m.FetchPartition("t", 0, true)
	m.Request(0, 9, 0.1, 0.1, 0, nil)
	m.ResponseSent(0, 0.1)
	m.Throttled(0, 1)
	m.ReplicationBytesIn(1)
	m.ReplicationBytesOut(1)
	names := map[string]bool{}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	descs := make(chan *prometheus.Desc, 64)
	(&stateCollector{}).Describe(descs)
	close(descs)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		if mm := fq.FindStringSubmatch(d.String()); mm != nil {
			names[mm[1]] = true
		}
	}
	for _, f := range partitionFamilies {
		names[f.name] = true
	}
	ref := regexp.MustCompile(`\bkafka_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range ref.FindAllString(tg.Expr, -1) {
				used++
				hist := strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count")
				if !names[name] && !names[hist] {
					t.Errorf("panel %q queries %s, which the broker does not export", p.Title, name)
				}
			}
		}
	}
	if used < 10 {
		t.Fatalf("only %d metric references found in the dashboard", used)
	}
}
