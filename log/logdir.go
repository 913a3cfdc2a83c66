package log

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/rs/zerolog"
)

// ScanLogDir lists the partition directories of a log directory (log.dirs
// entry), sorted, and removes directories left by an interrupted Delete
// ("<topic>-<partition>.<random>-delete"). Other entries (checkpoint files,
// meta.properties, unknown names) are left alone.
func ScanLogDir(fsys FS, logDir string, logger zerolog.Logger) ([]TopicPartition, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	entries, err := fsys.ReadDir(logDir)
	if err != nil {
		return nil, err
	}
	var out []TopicPartition
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, deleteDirSuffix) {
			if err := fsys.RemoveAll(filepath.Join(logDir, name)); err != nil {
				return nil, err
			}
			logger.Info().Str("dir", name).Msg("removed a partition directory left mid-deletion")
			continue
		}
		if tp, ok := ParseDirName(name); ok {
			out = append(out, tp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
