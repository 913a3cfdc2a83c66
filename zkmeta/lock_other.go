//go:build !unix

package zkmeta

import "os"

// lockDir opens the lock file; without flock the single-process rule is
// not enforced on this platform.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
