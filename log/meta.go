package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// MetaPropertiesFile is the name of the per-log-dir identity file.
const MetaPropertiesFile = "meta.properties"

// Meta is the content of meta.properties (version 0, ZooKeeper mode).
type Meta struct {
	ClusterID string
	BrokerID  int32
}

// ReadMeta reads dir/meta.properties. ok is false when the file is missing.
func ReadMeta(fsys FS, dir string) (Meta, bool, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	path := filepath.Join(dir, MetaPropertiesFile)
	data, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, err
	}
	props := parseProperties(data)
	if v, ok := props["version"]; ok && v != "0" {
		return Meta{}, false, fmt.Errorf("%s: unsupported version %q (only 0, ZooKeeper mode)", path, v)
	}
	var m Meta
	m.ClusterID = props["cluster.id"]
	id, ok := props["broker.id"]
	if !ok {
		return Meta{}, false, fmt.Errorf("%s: broker.id missing", path)
	}
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil {
		return Meta{}, false, fmt.Errorf("%s: bad broker.id %q", path, id)
	}
	m.BrokerID = int32(n)
	return m, true, nil
}

// WriteMeta writes dir/meta.properties crash-safely, in the layout Kafka's
// Java properties writer produces.
func WriteMeta(fsys FS, dir string, m Meta) error {
	if fsys == nil {
		fsys = OSFS{}
	}
	if strings.ContainsAny(m.ClusterID, "\r\n") {
		return fmt.Errorf("log: cluster id %q contains a line break", m.ClusterID)
	}
	var b bytes.Buffer
	b.WriteString("#\n")
	fmt.Fprintf(&b, "cluster.id=%s\n", m.ClusterID)
	b.WriteString("version=0\n")
	fmt.Fprintf(&b, "broker.id=%d\n", m.BrokerID)
	return writeFileAtomic(fsys, filepath.Join(dir, MetaPropertiesFile), b.Bytes())
}

// parseProperties reads the simple subset of Java properties Kafka writes:
// '#'/'!' comments, key=value or key:value lines.
func parseProperties(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			out[line] = ""
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
