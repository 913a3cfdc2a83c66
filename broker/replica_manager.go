package broker

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"kbroker/broker/config"
	"kbroker/broker/metrics"
	"kbroker/broker/quota"
	"kbroker/log"
	"kbroker/log/cleaner"
)

// Checkpoint file names in each log dir (Kafka's).
const (
	recoveryPointCheckpoint  = "recovery-point-offset-checkpoint"
	replicationCheckpoint    = "replication-offset-checkpoint"
	logStartOffsetCheckpoint = "log-start-offset-checkpoint"
	partitionMetadataFile    = "partition.metadata"
)

// replicaManager owns the partitions this broker hosts, across all log dirs. Today every
// hosted partition is a leader with a single replica; the follower role comes with cluster mode.
type replicaManager struct {
	cfg    *config.Config
	logger zerolog.Logger

	mu    sync.RWMutex
	parts map[log.TopicPartition]*partition

	// found maps partition directories present on disk at start to their log dir; filled
	// by scanDirs and consumed as topics are loaded.
	found map[log.TopicPartition]string
	// isr sends ISR changes to the controller (cluster mode only; nil on a single node).
	isr *isrChanger
	// fetchers replicate the partitions this broker follows (cluster mode only).
	fetchers *fetcherManager
	// cleaner compacts the hosted logs (nil when log.cleaner.enable is false).
	cleaner *cleaner.Manager

	// recovery, start and high-watermark offsets read from the checkpoints at start.
	recovery, start, hwCheckpoint map[log.TopicPartition]int64

	// Replication throttles (leader/follower.replication.throttled.rate) for the replicas the
	// topics list in leader/follower.replication.throttled.replicas.
	leaderQuota, followerQuota *quota.Replication

	// onFlush observes log flush times (metrics; nil = none).
	onFlush func(time.Duration)
	// metrics counts retention deletions (nil: off).
	metrics *metrics.Metrics

	// ckptMu serialises checkpoint writes: each file is written through one temp file.
	ckptMu sync.Mutex
}

func newReplicaManager(cfg *config.Config, logger zerolog.Logger) *replicaManager {
	return &replicaManager{
		cfg:          cfg,
		logger:       logger,
		parts:        make(map[log.TopicPartition]*partition),
		found:        make(map[log.TopicPartition]string),
		recovery:     make(map[log.TopicPartition]int64),
		start:        make(map[log.TopicPartition]int64),
		hwCheckpoint: make(map[log.TopicPartition]int64),
		leaderQuota:  quota.NewReplication(cfg.ReplicationQuotaWindowNum, time.Duration(cfg.ReplicationQuotaWindowSizeSeconds)*time.Second),
		followerQuota: quota.NewReplication(cfg.ReplicationQuotaWindowNum,
			time.Duration(cfg.ReplicationQuotaWindowSizeSeconds)*time.Second),
	}
}

// setReplicationThrottles takes the throttle rates of the effective configuration.
func (rm *replicaManager) setReplicationThrottles(c *config.Config) {
	rm.leaderQuota.SetLimit(c.LeaderReplicationThrottledRate)
	rm.followerQuota.SetLimit(c.FollowerReplicationThrottledRate)
}

func (rm *replicaManager) get(topic string, p int32) (*partition, bool) {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	part, ok := rm.parts[log.TopicPartition{Topic: topic, Partition: p}]
	return part, ok
}

// scanDirs reads the checkpoints of every log dir and lists the partition directories in them.
func (rm *replicaManager) scanDirs() error {
	for _, dir := range rm.cfg.LogDirs {
		rp, err := log.ReadCheckpoint(nil, filepath.Join(dir, recoveryPointCheckpoint))
		if err != nil {
			return fmt.Errorf("log dir %s: %w", dir, err)
		}
		for k, v := range rp {
			rm.recovery[k] = v
		}
		ls, err := log.ReadCheckpoint(nil, filepath.Join(dir, logStartOffsetCheckpoint))
		if err != nil {
			return fmt.Errorf("log dir %s: %w", dir, err)
		}
		for k, v := range ls {
			rm.start[k] = v
		}
		hw, err := log.ReadCheckpoint(nil, filepath.Join(dir, replicationCheckpoint))
		if err != nil {
			return fmt.Errorf("log dir %s: %w", dir, err)
		}
		for k, v := range hw {
			rm.hwCheckpoint[k] = v
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("log dir %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if strings.HasSuffix(e.Name(), "-delete") {
				// A deletion that a crash interrupted: finish it.
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					rm.logger.Error().Err(err).Str("dir", e.Name()).Msg("removing deleted partition directory")
				}
				continue
			}
			tp, ok := log.ParseDirName(e.Name())
			if !ok {
				continue
			}
			if prev, dup := rm.found[tp]; dup {
				return fmt.Errorf("partition %s-%d is in two log dirs: %s and %s", tp.Topic, tp.Partition, prev, dir)
			}
			rm.found[tp] = dir
		}
	}
	return nil
}

// pickDir chooses the log dir with the fewest partitions for a new partition.
func (rm *replicaManager) pickDir() string {
	counts := make(map[string]int, len(rm.cfg.LogDirs))
	for _, p := range rm.parts {
		counts[p.root]++
	}
	best := rm.cfg.LogDirs[0]
	for _, d := range rm.cfg.LogDirs[1:] {
		if counts[d] < counts[best] {
			best = d
		}
	}
	return best
}

// A partition state whose leader epoch is not newer than the one this broker holds is refused:
// Kafka's ReplicaManager answers it with STALE_CONTROLLER_EPOCH for that partition and changes
// nothing. The same epoch is routine (a controller failover resends every state); an older
// one is a delayed request from a past decision.
var (
	errSameLeaderEpoch  = fmt.Errorf("%w: leader epoch is the current one", kerr.StaleControllerEpoch)
	errStaleLeaderEpoch = fmt.Errorf("%w: leader epoch is older than the current one", kerr.StaleControllerEpoch)
)

// checkNewEpoch refuses a state that does not move p to a newer leader epoch.
func checkNewEpoch(p *partition, st leaderState) error {
	switch cur := p.leaderEpoch.Load(); {
	case st.leaderEpoch == cur:
		return fmt.Errorf("%w (%d)", errSameLeaderEpoch, cur)
	case st.leaderEpoch < cur:
		return fmt.Errorf("%w: %d, current %d", errStaleLeaderEpoch, st.leaderEpoch, cur)
	}
	return nil
}

// makeLeader hosts a partition as leader for st.leaderEpoch, opening or creating its log, and
// records that the epoch starts at the log end (Kafka's Partition.makeLeader), so that
// followers that led or followed an earlier epoch find where it ended here.
func (rm *replicaManager) makeLeader(tp log.TopicPartition, topicID [16]byte, tc config.TopicConfig, st leaderState) (*partition, error) {
	p, err := rm.hosted(tp, topicID, tc)
	if err != nil {
		return nil, err
	}
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if err := checkNewEpoch(p, st); err != nil {
		return p, err
	}
	if err := p.log.AssignEpochStart(st.leaderEpoch); err != nil {
		return p, fmt.Errorf("%w: recording the start of leader epoch %d: %w", kerr.KafkaStorageError, st.leaderEpoch, err)
	}
	rm.mu.Lock()
	hw := rm.hwCheckpoint[tp]
	delete(rm.hwCheckpoint, tp)
	rm.mu.Unlock()
	p.becomeLeader(st, hw, time.Now())
	rm.logger.Info().Str("topic", tp.Topic).Int32("partition", tp.Partition).Int32("epoch", st.leaderEpoch).
		Ints32("isr", st.isr).Int64("offset", p.log.LogEndOffset()).Int64("high_watermark", p.highWatermark()).Msg("became leader")
	return p, nil
}

// makeFollower hosts a partition as a follower of st.leader.
func (rm *replicaManager) makeFollower(tp log.TopicPartition, topicID [16]byte, tc config.TopicConfig, st leaderState) (*partition, error) {
	p, err := rm.hosted(tp, topicID, tc)
	if err != nil {
		return nil, err
	}
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if err := checkNewEpoch(p, st); err != nil {
		return p, err
	}
	rm.mu.Lock()
	if hw, ok := rm.hwCheckpoint[tp]; ok {
		delete(rm.hwCheckpoint, tp)
		p.hw.Store(min(hw, p.log.LogEndOffset()))
	}
	rm.mu.Unlock()
	p.becomeFollower(st)
	rm.logger.Info().Str("topic", tp.Topic).Int32("partition", tp.Partition).Int32("epoch", st.leaderEpoch).
		Int32("leader", st.leader).Int64("offset", p.log.LogEndOffset()).Msg("became follower")
	return p, nil
}

// hosted returns the hosted partition, opening (or creating) its log first when needed. A
// directory left from an older topic of the same name (another topic id) is removed.
func (rm *replicaManager) hosted(tp log.TopicPartition, topicID [16]byte, tc config.TopicConfig) (*partition, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if p, ok := rm.parts[tp]; ok {
		if p.topicID == topicID {
			p.cfg.Store(&tc)
			p.log.Reconfigure(topicLogOptions(tc))
			return p, nil
		}
		// A topic deleted and created again under the same name before this broker processed
		// the deletion: the old partition's data goes first.
		rm.logger.Warn().Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("replacing a partition of an older topic with the same name")
		delete(rm.parts, tp)
		rm.unclean(tp)
		p.isLeader.Store(false)
		p.wake()
		if err := p.log.Delete(); err != nil {
			return nil, fmt.Errorf("deleting the older topic's partition: %w", err)
		}
	}
	root, existed := rm.found[tp]
	delete(rm.found, tp)
	if existed {
		if id, ok := readPartitionMetadata(filepath.Join(root, dirName(tp))); ok && id != topicID {
			rm.logger.Warn().Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("removing partition directory of an older topic with the same name")
			if err := os.RemoveAll(filepath.Join(root, dirName(tp))); err != nil {
				return nil, fmt.Errorf("removing stale partition directory: %w", err)
			}
			existed = false
		}
	} else {
		root = rm.pickDir()
	}
	dir := filepath.Join(root, dirName(tp))
	opts := rm.logOptions(tp, tc)
	if rp, ok := rm.recovery[tp]; ok && existed {
		opts.RecoveryPoint = rp
	}
	if ls, ok := rm.start[tp]; ok && existed {
		opts.LogStartOffset = ls
	}
	if !existed {
		delete(rm.hwCheckpoint, tp)
	}
	l, err := log.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("opening log %s: %w", dir, err)
	}
	if err := writePartitionMetadata(dir, topicID); err != nil {
		l.Close()
		return nil, err
	}
	p := newPartition(tp, topicID, root, l, tc, rm.cfg.BrokerID)
	rm.parts[tp] = p
	rm.registerCleaning(p)
	return p, nil
}

func (rm *replicaManager) logOptions(tp log.TopicPartition, tc config.TopicConfig) log.Options {
	o := topicLogOptions(tc)
	o.Logger = rm.logger.With().Str("component", "log").Str("topic", tp.Topic).Int32("partition", tp.Partition).Logger()
	o.OnFlush = rm.onFlush
	return o
}

// topicLogOptions are the log settings a topic's configuration gives; Log.Reconfigure
// applies them to an open log when the configuration changes.
func topicLogOptions(tc config.TopicConfig) log.Options {
	return log.Options{
		SegmentBytes:          tc.SegmentBytes,
		SegmentMs:             tc.SegmentMs,
		IndexIntervalBytes:    tc.IndexIntervalBytes,
		MaxIndexBytes:         tc.SegmentIndexBytes,
		FlushIntervalMessages: tc.FlushMessages,
		FileDeleteDelayMs:     tc.FileDeleteDelayMs,
	}
}

// removePartition stops hosting a partition and deletes its data.
func (rm *replicaManager) removePartition(tp log.TopicPartition) error {
	rm.mu.Lock()
	p, ok := rm.parts[tp]
	delete(rm.parts, tp)
	rm.mu.Unlock()
	if !ok {
		return nil
	}
	rm.unclean(tp)
	p.wake()
	return p.log.Delete()
}

// removeStrays deletes partition directories that no topic claims (topics deleted while the
// broker was down, or a crash in the middle of a deletion).
func (rm *replicaManager) removeStrays() {
	for tp, root := range rm.found {
		dir := filepath.Join(root, dirName(tp))
		rm.logger.Warn().Str("topic", tp.Topic).Int32("partition", tp.Partition).Str("dir", dir).Msg("removing partition directory of a topic that no longer exists")
		if err := os.RemoveAll(dir); err != nil {
			rm.logger.Error().Err(err).Str("dir", dir).Msg("removing stray partition directory")
		}
	}
	rm.found = make(map[log.TopicPartition]string)
}

func (rm *replicaManager) snapshot() []*partition {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	out := make([]*partition, 0, len(rm.parts))
	for _, p := range rm.parts {
		out = append(out, p)
	}
	return out
}

// writeCheckpoints writes the recovery point, high watermark and log start offset files of every log dir.
func (rm *replicaManager) writeCheckpoints() error {
	type dirOffsets struct{ recovery, hw, start map[log.TopicPartition]int64 }
	byDir := make(map[string]*dirOffsets, len(rm.cfg.LogDirs))
	for _, d := range rm.cfg.LogDirs {
		byDir[d] = &dirOffsets{map[log.TopicPartition]int64{}, map[log.TopicPartition]int64{}, map[log.TopicPartition]int64{}}
	}
	for _, p := range rm.snapshot() {
		d := byDir[p.root]
		if d == nil {
			continue
		}
		d.recovery[p.tp] = p.log.RecoveryPoint()
		d.hw[p.tp] = p.highWatermark()
		d.start[p.tp] = p.log.LogStartOffset()
	}
	rm.ckptMu.Lock()
	defer rm.ckptMu.Unlock()
	var errs []error
	for dir, d := range byDir {
		errs = append(errs,
			log.WriteCheckpoint(nil, filepath.Join(dir, recoveryPointCheckpoint), d.recovery),
			log.WriteCheckpoint(nil, filepath.Join(dir, replicationCheckpoint), d.hw),
			log.WriteCheckpoint(nil, filepath.Join(dir, logStartOffsetCheckpoint), d.start))
	}
	return errors.Join(errs...)
}

// writeStartCheckpoints writes log-start-offset-checkpoint of the given log dirs (all when
// dirs is nil): after retention or DeleteRecords moved a log start offset, so that it
// survives a kill -9.
func (rm *replicaManager) writeStartCheckpoints(dirs map[string]bool) error {
	byDir := make(map[string]map[log.TopicPartition]int64, len(rm.cfg.LogDirs))
	for _, d := range rm.cfg.LogDirs {
		if dirs == nil || dirs[d] {
			byDir[d] = map[log.TopicPartition]int64{}
		}
	}
	for _, p := range rm.snapshot() {
		if m, ok := byDir[p.root]; ok {
			m[p.tp] = p.log.LogStartOffset()
		}
	}
	rm.ckptMu.Lock()
	defer rm.ckptMu.Unlock()
	var errs []error
	for dir, m := range byDir {
		errs = append(errs, log.WriteCheckpoint(nil, filepath.Join(dir, logStartOffsetCheckpoint), m))
	}
	return errors.Join(errs...)
}

func (rm *replicaManager) flushAll() {
	for _, p := range rm.snapshot() {
		if err := p.log.Flush(); err != nil {
			rm.logger.Error().Err(err).Str("topic", p.tp.Topic).Int32("partition", p.tp.Partition).Msg("flush failed")
		}
	}
}

// close flushes and closes every log, then writes the checkpoints (so the recovery points
// cover everything and the next start scans nothing).
func (rm *replicaManager) close() error {
	var errs []error
	for _, p := range rm.snapshot() {
		p.wake()
		if err := p.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s-%d: %w", p.tp.Topic, p.tp.Partition, err))
		}
	}
	errs = append(errs, rm.writeCheckpoints())
	rm.mu.Lock()
	rm.parts = make(map[log.TopicPartition]*partition)
	rm.mu.Unlock()
	return errors.Join(errs...)
}

func dirName(tp log.TopicPartition) string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// encodeTopicID renders a topic id as Kafka does: URL-safe base64 without padding.
func encodeTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// writePartitionMetadata writes Kafka's partition.metadata file (version and topic id).
func writePartitionMetadata(dir string, id [16]byte) error {
	path := filepath.Join(dir, partitionMetadataFile)
	want := "version: 0\ntopic_id: " + encodeTopicID(id) + "\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == want {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// readPartitionMetadata returns the topic id recorded in a partition directory.
func readPartitionMetadata(dir string) ([16]byte, bool) {
	var id [16]byte
	b, err := os.ReadFile(filepath.Join(dir, partitionMetadataFile))
	if err != nil {
		return id, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil || len(raw) != 16 {
				return id, false
			}
			copy(id[:], raw)
			return id, true
		}
	}
	return id, false
}
