package zkmeta

import (
	"fmt"
	"strings"
)

// validatePath checks path with ZooKeeper's rules: absolute, no empty
// component, no "." or "..", no trailing slash (except the root), no
// control characters.
func validatePath(path string) error {
	if path == "" || path[0] != '/' {
		return fmt.Errorf("%w: path %q must start with /", ErrBadArguments, path)
	}
	if path == "/" {
		return nil
	}
	if path[len(path)-1] == '/' {
		return fmt.Errorf("%w: path %q must not end with /", ErrBadArguments, path)
	}
	for _, part := range strings.Split(path[1:], "/") {
		switch part {
		case "":
			return fmt.Errorf("%w: path %q has an empty component", ErrBadArguments, path)
		case ".", "..":
			return fmt.Errorf("%w: path %q has a relative component", ErrBadArguments, path)
		}
	}
	for _, r := range path {
		if r == 0 || (r > 0 && r < 0x20) || (r >= 0x7f && r <= 0x9f) || r == 0xfffe || r == 0xffff {
			return fmt.Errorf("%w: path %q has an invalid character", ErrBadArguments, path)
		}
	}
	return nil
}

// splitPath returns the parent path and the last component of a valid,
// non-root path.
func splitPath(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '/')
	if i == 0 {
		return "/", path[1:]
	}
	return path[:i], path[i+1:]
}

// joinPath joins a parent path and a child name.
func joinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// sequentialName appends ZooKeeper's sequence suffix.
func sequentialName(path string, seq int32) string {
	return fmt.Sprintf("%s%010d", path, seq)
}
