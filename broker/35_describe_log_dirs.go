package broker

// DescribeLogDirs (key 35), versions 0-4 (v2+ flexible, v3 top-level error code, v4 total
// and usable bytes of each directory's volume). Kafka's ReplicaManager.describeLogDirs:
//
//   - one entry per directory of log.dirs, by absolute path, in configuration order;
//   - null topics means every hosted partition; otherwise the partitions named. As in Kafka,
//     every topic with a partition in a directory is listed for it, with only the asked-for
//     partitions (possibly none);
//   - a partition's size is the bytes of its segments; its offset lag is
//     max(high watermark - log end offset, 0), which is 0 for every replica that is not a
//     future one (there are none here: moving replicas between directories is not
//     supported);
//   - total and usable bytes come from statfs of the directory (Long.MAX_VALUE when the
//     volume is larger than that), KAFKA_STORAGE_ERROR for a directory statfs fails on.

import (
	"math"
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kbroker/log"
)

func (s *Server) handleDescribeLogDirs(rc *requestContext, req *kmsg.DescribeLogDirsRequest) (kmsg.Response, error) {
	if !rc.authorizeCluster(opDescribe) {
		return answerWithCode(req, kerr.ClusterAuthorizationFailed.Code), nil
	}
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var wanted map[log.TopicPartition]bool // nil: all
	if req.Topics != nil {
		wanted = map[log.TopicPartition]bool{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				wanted[log.TopicPartition{Topic: rt.Topic, Partition: p}] = true
			}
		}
	}
	byDir := map[string][]*partition{}
	for _, p := range s.rm.snapshot() {
		byDir[p.root] = append(byDir[p.root], p)
	}
	for _, dir := range s.cfg.LogDirs {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir = dir
		if abs, err := filepath.Abs(dir); err == nil {
			rd.Dir = abs
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			rd.ErrorCode = kerr.KafkaStorageError.Code
			rc.conn.logger.Warn().Err(err).Str("dir", dir).Msg("describe log dirs: statfs failed")
			resp.Dirs = append(resp.Dirs, rd)
			continue
		}
		rd.TotalBytes = volumeBytes(st.Blocks, st.Bsize)
		rd.UsableBytes = volumeBytes(st.Bavail, st.Bsize)
		topics := map[string]int{}
		for _, p := range byDir[dir] {
			i, ok := topics[p.tp.Topic]
			if !ok {
				i = len(rd.Topics)
				topics[p.tp.Topic] = i
				rt := kmsg.NewDescribeLogDirsResponseDirTopic()
				rt.Topic = p.tp.Topic
				rt.Partitions = []kmsg.DescribeLogDirsResponseDirTopicPartition{}
				rd.Topics = append(rd.Topics, rt)
			}
			if wanted != nil && !wanted[p.tp] {
				continue
			}
			rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			rp.Partition = p.tp.Partition
			rp.Size = p.log.Size()
			rp.OffsetLag = max(p.highWatermark()-p.log.LogEndOffset(), 0)
			rd.Topics[i].Partitions = append(rd.Topics[i].Partitions, rp)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp, nil
}

// volumeBytes is blocks*size, Long.MAX_VALUE when that overflows (Kafka's
// adjustForLargeFileSystems).
func volumeBytes(blocks uint64, size int64) int64 {
	if size <= 0 || blocks > uint64(math.MaxInt64/size) {
		return math.MaxInt64
	}
	return int64(blocks) * size
}
