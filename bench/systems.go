package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// Names of the two systems in reports.
const (
	Ours  = "ours"
	Kafka = "kafka"
)

// kafkaJVM are the JVM options of kafka-server-start.sh and kafka-run-class.sh (Kafka 3.9).
var kafkaJVM = []string{
	"-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
	"-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
}

// system starts one of the two brokers on a data directory.
type system struct {
	name   string
	cfg    *Config
	zkAddr string   // the run's ZooKeeper: Kafka's always, ours for the replicated workload
	chroot string   // Kafka only: one per data directory, so every round starts clean
	jvm    []string // Kafka only: a step's extra JVM options
}

// properties are the broker settings both systems get (Kafka's names); Kafka adds its
// ZooKeeper connection, ours runs single-node with its embedded store.
func (s *system) properties(dir string, port int) string {
	lines := []string{
		"broker.id=0",
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d", port),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d", port),
		"log.dirs=" + filepath.Join(dir, "logs"),
		fmt.Sprintf("num.partitions=%d", s.cfg.Partitions),
		"default.replication.factor=1",
		"offsets.topic.replication.factor=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=true",
	}
	if s.name == Kafka {
		lines = append(lines,
			"zookeeper.connect="+s.zkAddr+s.chroot,
			"zookeeper.session.timeout.ms=18000",
		)
	}
	return strings.Join(lines, "\n") + "\n"
}

// start launches the broker on dir (kept across restarts: recovery uses that) with the
// given server.properties text.
func (s *system) start(ctx context.Context, dir string, port int, properties string) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	props := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(props, []byte(properties), 0o644); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, fmt.Sprintf("%s-%d.out", s.name, time.Now().UnixNano()))
	if s.name == Ours {
		return startProcess(s.name, addr, logPath, nil, s.cfg.BrokerBin, props)
	}
	argv := append([]string{s.cfg.Java}, kafkaJVM...)
	argv = append(argv, s.jvm...)
	if s.cfg.KafkaLog4j != "" {
		argv = append(argv, "-Dlog4j.configuration=file:"+s.cfg.KafkaLog4j)
	}
	argv = append(argv, "-cp", filepath.Join(s.cfg.KafkaLib, "*"), "kafka.Kafka", props)
	return startProcess(s.name, addr, logPath, nil, argv...)
}

// afterKill waits until a killed Kafka broker's ZooKeeper registration has expired, so that
// the restart can register again (Kafka refuses to start while /brokers/ids/0 still belongs
// to the dead session). Ours has nothing to wait for.
func (s *system) afterKill(ctx context.Context) error {
	if s.name != Kafka {
		return nil
	}
	conn, _, err := zk.Connect([]string{s.zkAddr}, 10*time.Second, zk.WithLogger(zkLogger{s.cfg.Logger}))
	if err != nil {
		return err
	}
	defer conn.Close()
	path := s.chroot + "/brokers/ids/0"
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ok, _, err := conn.Exists(path)
		if err == nil && !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s still registered after a minute", path)
}

// startZooKeeper runs the ZooKeeper that Kafka uses for the whole benchmark.
func startZooKeeper(ctx context.Context, cfg *Config, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	zs, err := startProcess("zookeeper", addr, filepath.Join(dir, "zookeeper.out"), nil,
		cfg.ZKServer, fmt.Sprint(port), filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	if err := zs.waitAccept(ctx, time.Minute); err != nil {
		zs.kill9()
		return nil, err
	}
	return zs, nil
}

// zkLogger sends the ZooKeeper client's messages to the injected logger at debug level.
type zkLogger struct{ l zerolog.Logger }

func (z zkLogger) Printf(format string, args ...any) { z.l.Debug().Msgf(format, args...) }
