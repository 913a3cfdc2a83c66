package log

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
)

// Names of the per-log-directory checkpoint files.
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	ReplicationCheckpointFile    = "replication-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ReadCheckpoint reads one of Kafka's per-log-dir offset checkpoint files
// ("0", count, then "topic partition offset" lines). A missing file is an
// empty map.
func ReadCheckpoint(fsys FS, path string) (map[TopicPartition]int64, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	data, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	lines, err := parseCheckpointText(data, 3)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[TopicPartition]int64, len(lines))
	for _, f := range lines {
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || f[0] == "" {
			return nil, fmt.Errorf("%s: malformed line %q", path, f)
		}
		out[TopicPartition{Topic: f[0], Partition: int32(p)}] = off
	}
	return out, nil
}

// WriteCheckpoint writes an offset checkpoint file crash-safely (temp file,
// fsync, rename, fsync of the directory). Lines are sorted for stable output.
func WriteCheckpoint(fsys FS, path string, offsets map[TopicPartition]int64) error {
	if fsys == nil {
		fsys = OSFS{}
	}
	tps := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		if !validTopic(tp.Topic) {
			return fmt.Errorf("log: invalid topic name %q in checkpoint", tp.Topic)
		}
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, offsets[tp])
	}
	return writeFileAtomic(fsys, path, b.Bytes())
}
