package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// txnPerTransaction is the size of the transactions of the transactional workload.
const txnPerTransaction = 1000

// txnRound is one round of the transactional workload on a fresh broker: cfg.TxnRecords
// 1 KiB records produced by one transactional franz-go producer in transactions of 1,000
// records (kload -txn), each committed before the next begins, then read back by a
// read_committed consumer. It records the time to the producer id (the first
// InitProducerId, which creates __transaction_state, off the throughput's clock), the
// produce throughput, the commit latency (flush and EndTxn, what a producer's commit call
// takes) and the read_committed throughput.
func (s *system) txnRound(ctx context.Context, rec *recorder, round int) error {
	cfg := s.cfg
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("%s-txn%d", s.name, round))
	defer os.RemoveAll(dir)
	if s.name == Kafka {
		s.chroot = fmt.Sprintf("/kbench-txn%d", round)
	}
	srv, err := s.boot(ctx, newRecorder(), dir, "l", "p", "kbench-startup", 1)
	if err != nil {
		return err
	}
	defer srv.stop(time.Minute)
	r, err := runKload(ctx, cfg.KloadBin, "-brokers", srv.addr, "-topic", "txn_1k", "-partitions", strconv.Itoa(int(cfg.Partitions)),
		"-records", strconv.Itoa(cfg.TxnRecords), "-size", "1024", "-acks", "all", "-mode", "both",
		"-txn", strconv.Itoa(txnPerTransaction), "-isolation", "read_committed")
	if err != nil {
		return err
	}
	if r.Produce == nil || r.Produce.Errors > 0 || r.Produce.Records != int64(cfg.TxnRecords) {
		return fmt.Errorf("kload txn_1k: produce %+v, want %d records", r.Produce, cfg.TxnRecords)
	}
	if want := int64((cfg.TxnRecords + txnPerTransaction - 1) / txnPerTransaction); r.Produce.Transactions != want {
		return fmt.Errorf("kload txn_1k: %d transactions committed, want %d", r.Produce.Transactions, want)
	}
	if r.Consume == nil || r.Consume.Records != int64(cfg.TxnRecords) {
		return fmt.Errorf("kload txn_1k: read_committed consume %+v, want %d records", r.Consume, cfg.TxnRecords)
	}
	rec.add(s.name, "txn_init", r.Produce.InitMs)
	rec.add(s.name, "txn_produce_1k", r.Produce.MBPerSec)
	rec.add(s.name, "txn_commit_p50", r.Produce.CommitP50Ms)
	rec.add(s.name, "txn_commit_p99", r.Produce.CommitP99Ms)
	rec.add(s.name, "txn_consume_1k", r.Consume.MBPerSec)
	return nil
}
