package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replicated workload: three brokers of one system on this machine, sharing the run's
// ZooKeeper (each round in a chroot of its own), a topic with replication factor 3 and
// min.insync.replicas=2, and kload producing 1 KiB records with acks=all to all three.
const replicas = 3

// clusterProperties are the settings of broker id in the three-broker cluster; both systems
// get the same ones.
func (s *system) clusterProperties(dir string, id, port int, chroot string) string {
	lines := []string{
		fmt.Sprintf("broker.id=%d", id),
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d", port),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d", port),
		"log.dirs=" + filepath.Join(dir, "logs"),
		fmt.Sprintf("num.partitions=%d", s.cfg.Partitions),
		fmt.Sprintf("default.replication.factor=%d", replicas),
		"min.insync.replicas=2",
		fmt.Sprintf("offsets.topic.replication.factor=%d", replicas),
		"transaction.state.log.replication.factor=3",
		"transaction.state.log.min.isr=2",
		"group.initial.rebalance.delay.ms=0",
		"zookeeper.connect=" + s.zkAddr + chroot,
		"zookeeper.session.timeout.ms=18000",
	}
	return strings.Join(lines, "\n") + "\n"
}

// replicatedStep runs one round of the replicated workload and records its throughput and
// produce latency p99.
func (s *system) replicatedStep(ctx context.Context, rec *recorder, round int) error {
	cfg := s.cfg
	root := filepath.Join(cfg.WorkDir, fmt.Sprintf("%s-rf3-round%d", s.name, round))
	defer os.RemoveAll(root)
	chroot := fmt.Sprintf("/kbench-rf3-%s-%d", s.name, round)
	srvs := make([]*server, replicas)
	defer func() {
		var wg sync.WaitGroup
		for _, srv := range srvs {
			wg.Add(1)
			go func() { defer wg.Done(); srv.kill9() }() // teardown is not measured
		}
		wg.Wait()
	}()
	addrs := make([]string, replicas)
	for id := range srvs {
		port, err := freePort()
		if err != nil {
			return err
		}
		dir := filepath.Join(root, strconv.Itoa(id))
		if srvs[id], err = s.start(ctx, dir, port, s.clusterProperties(dir, id, port, chroot)); err != nil {
			return err
		}
		addrs[id] = srvs[id].addr
	}
	for _, srv := range srvs {
		if err := srv.waitAccept(ctx, 3*time.Minute); err != nil {
			return err
		}
	}
	seeds := strings.Join(addrs, ",")
	const topic = "rf3_produce_1k_acksall"
	if err := createTopicRF(ctx, seeds, topic, cfg.Partitions, replicas); err != nil {
		return fmt.Errorf("%w\n%s", err, srvs[0].logTail())
	}
	r, err := runKload(ctx, cfg.KloadBin, "-brokers", seeds, "-topic", topic,
		"-partitions", strconv.Itoa(int(cfg.Partitions)), "-records", strconv.Itoa(cfg.ReplicatedRecords),
		"-size", "1024", "-acks", "all", "-mode", "produce")
	if err != nil {
		return err
	}
	if r.Produce == nil || r.Produce.Errors > 0 {
		return fmt.Errorf("kload %s: produce errors: %+v", topic, r.Produce)
	}
	rec.add(s.name, "rf3_produce_1k_acksall", r.Produce.MBPerSec)
	rec.add(s.name, "rf3_produce_1k_acksall_p99", r.Produce.P99Ms)
	return nil
}
