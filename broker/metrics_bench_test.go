package broker

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"kbroker/broker/config"
	"kbroker/broker/metrics"
	"kbroker/log"
)

// scrapeBench is a broker state with 10,000 partitions, built once for every run of the
// benchmark (the testing package calls a benchmark several times).
var scrapeBench = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "scrape-bench")
	if err != nil {
		return "", err
	}
	cfg := config.Default()
	cfg.LogDirs = []string{dir}
	cfg.MetricsListen = "127.0.0.1:0"
	s := New(cfg, zerolog.Nop())
	s.rm = newReplicaManager(cfg, zerolog.Nop())
	tc, err := cfg.ResolveTopic(nil)
	if err != nil {
		return "", err
	}
	for i := 0; i < 10000; i++ {
		tp := log.TopicPartition{Topic: fmt.Sprintf("topic-%d", i/10), Partition: int32(i % 10)}
		if _, err := s.rm.makeLeader(tp, [16]byte{byte(i), byte(i >> 8)}, tc, leaderState{leader: 0, replicas: []int32{0}, isr: []int32{0}}); err != nil {
			return "", err
		}
	}
	s.metrics.Registry.MustRegister(&stateCollector{s: s})
	srv, err := metrics.Listen("127.0.0.1:0", s.metrics, func() error { return nil }, s.writePartitionMetrics, zerolog.Nop())
	if err != nil {
		return "", err
	}
	return "http://" + srv.Addr().String() + "/metrics", nil
})

// BenchmarkScrape10000Partitions is one scrape of /metrics over HTTP of a broker hosting
// 10,000 partitions: go test -run '^$' -bench Scrape ./broker
func BenchmarkScrape10000Partitions(b *testing.B) {
	url, err := scrapeBench()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
}
