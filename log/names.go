package log

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// File name suffixes inside a partition directory.
const (
	logSuffix        = ".log"
	indexSuffix      = ".index"
	timeIndexSuffix  = ".timeindex"
	snapshotSuffix   = ".snapshot"
	txnIndexSuffix   = ".txnindex"
	deletedSuffix    = ".deleted"
	cleanedSuffix    = ".cleaned"
	swapSuffix       = ".swap"
	tmpSuffix        = ".tmp"
	deleteDirSuffix  = "-delete"
	futureDirSuffix  = "-future"
	strayDirSuffix   = "-stray"
	epochCheckpoint  = "leader-epoch-checkpoint"
	maxTopicNameLen  = 249
	offsetNameDigits = 20
)

// offsetName is an offset as a segment file name stem: 20 digits, zero padded.
func offsetName(offset int64) string { return fmt.Sprintf("%020d", offset) }

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, offsetName(base)+suffix)
}

func parentDir(path string) string { return filepath.Dir(path) }

// parseOffsetName parses "<20 digits><suffix>" and returns the offset.
func parseOffsetName(name, suffix string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, suffix)
	if !ok || len(stem) != offsetNameDigits {
		return 0, false
	}
	for i := 0; i < len(stem); i++ {
		if stem[i] < '0' || stem[i] > '9' {
			return 0, false
		}
	}
	off, err := strconv.ParseInt(stem, 10, 64)
	if err != nil {
		return 0, false
	}
	return off, true
}

// ParseDirName parses a partition directory name "<topic>-<partition>". The
// topic may itself contain '-'. It returns false for anything else, including
// directories being deleted ("...-delete"), future replicas ("...-future")
// and strays ("...-stray").
func ParseDirName(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return TopicPartition{}, false
	}
	topic, part := name[:i], name[i+1:]
	for j := 0; j < len(part); j++ {
		if part[j] < '0' || part[j] > '9' {
			return TopicPartition{}, false
		}
	}
	if len(part) > 1 && part[0] == '0' {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(part, 10, 32)
	if err != nil {
		return TopicPartition{}, false
	}
	if !validTopic(topic) {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: topic, Partition: int32(p)}, true
}

// DirName is the directory name of a partition: "<topic>-<partition>".
func DirName(tp TopicPartition) string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}

// validTopic applies Kafka's topic name rules: 1-249 characters of
// [a-zA-Z0-9._-], not "." or "..".
func validTopic(t string) bool {
	if t == "" || len(t) > maxTopicNameLen || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// stemOffset parses the 20-digit offset a segment-related file name starts with
// ("00000000000000000042.log.swap" -> 42).
func stemOffset(name string) (int64, bool) {
	if len(name) < offsetNameDigits {
		return 0, false
	}
	return parseOffsetName(name[:offsetNameDigits], "")
}

// isSegmentFile reports whether name is a segment's .log, .index, .timeindex or .txnindex.
func isSegmentFile(name string) bool {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}
