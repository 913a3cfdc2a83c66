package log

import (
	"errors"
	"os"
	"sync"
)

// ErrInjected is the error FaultFS returns for an injected fault.
var ErrInjected = errors.New("log: injected filesystem fault")

// Op names a filesystem operation for FaultFS hooks.
type Op int

// Operations seen by a FaultFS hook.
const (
	OpOpen Op = iota
	OpRemove
	OpRemoveAll
	OpRename
	OpMkdirAll
	OpReadDir
	OpStat
	OpWrite
	OpRead
	OpSync
	OpTruncate
	OpClose
)

// FaultFS wraps an FS and injects faults, so tests can prove recovery without
// killing processes (in the manner of pebble's vfs/errorfs):
//   - a hook sees every operation with its path and may fail it;
//   - a write budget tears writes: the write that crosses the budget writes
//     only the bytes left in it and fails, and every later write fails
//     without writing, as if the machine had stopped mid-write.
//
// It is safe for concurrent use.
type FaultFS struct {
	inner FS

	mu      sync.Mutex
	hook    func(op Op, path string) error
	budget  int64 // bytes still writable; < 0 means unlimited
	written int64
}

var _ FS = (*FaultFS)(nil)

// NewFaultFS wraps inner (nil means OSFS) with no faults armed.
func NewFaultFS(inner FS) *FaultFS {
	if inner == nil {
		inner = OSFS{}
	}
	return &FaultFS{inner: inner, budget: -1}
}

// SetHook installs a function called before every operation; a non-nil
// result fails the operation with that error. nil removes the hook.
func (f *FaultFS) SetHook(hook func(op Op, path string) error) {
	f.mu.Lock()
	f.hook = hook
	f.mu.Unlock()
}

// TearWritesAfter lets n more bytes be written, then tears: see FaultFS.
// A negative n disarms it.
func (f *FaultFS) TearWritesAfter(n int64) {
	f.mu.Lock()
	f.budget = n
	f.mu.Unlock()
}

// Crash makes every later write fail without writing anything.
func (f *FaultFS) Crash() { f.TearWritesAfter(0) }

// Written reports how many bytes were written through f.
func (f *FaultFS) Written() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

func (f *FaultFS) check(op Op, path string) error {
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		return hook(op, path)
	}
	return nil
}

// allow returns how many of n bytes may be written and whether the write is torn.
func (f *FaultFS) allow(n int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.budget < 0 {
		f.written += int64(n)
		return n, false
	}
	if int64(n) <= f.budget {
		f.budget -= int64(n)
		f.written += int64(n)
		return n, false
	}
	k := int(f.budget)
	f.budget = 0
	f.written += int64(k)
	return k, true
}

// OpenFile opens a file whose operations are also subject to faults.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, name: name, f: file}, nil
}

// Remove removes a path.
func (f *FaultFS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// RemoveAll removes a tree.
func (f *FaultFS) RemoveAll(name string) error {
	if err := f.check(OpRemoveAll, name); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

// Rename renames a path.
func (f *FaultFS) Rename(oldpath, newpath string) error {
	if err := f.check(OpRename, oldpath); err != nil {
		return err
	}
	return f.inner.Rename(oldpath, newpath)
}

// MkdirAll creates directories.
func (f *FaultFS) MkdirAll(path string, perm os.FileMode) error {
	if err := f.check(OpMkdirAll, path); err != nil {
		return err
	}
	return f.inner.MkdirAll(path, perm)
}

// ReadDir lists a directory.
func (f *FaultFS) ReadDir(name string) ([]os.DirEntry, error) {
	if err := f.check(OpReadDir, name); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(name)
}

// Stat describes a path.
func (f *FaultFS) Stat(name string) (os.FileInfo, error) {
	if err := f.check(OpStat, name); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

type faultFile struct {
	fs   *FaultFS
	name string
	f    File
}

func (ff *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := ff.fs.check(OpRead, ff.name); err != nil {
		return 0, err
	}
	return ff.f.ReadAt(p, off)
}

func (ff *faultFile) Write(p []byte) (int, error) {
	if err := ff.fs.check(OpWrite, ff.name); err != nil {
		return 0, err
	}
	n, torn := ff.fs.allow(len(p))
	if n > 0 {
		w, err := ff.f.Write(p[:n])
		if err != nil {
			return w, err
		}
	}
	if torn {
		return n, ErrInjected
	}
	return n, nil
}

func (ff *faultFile) Sync() error {
	if err := ff.fs.check(OpSync, ff.name); err != nil {
		return err
	}
	return ff.f.Sync()
}

func (ff *faultFile) Truncate(size int64) error {
	if err := ff.fs.check(OpTruncate, ff.name); err != nil {
		return err
	}
	return ff.f.Truncate(size)
}

func (ff *faultFile) Stat() (os.FileInfo, error) {
	if err := ff.fs.check(OpStat, ff.name); err != nil {
		return nil, err
	}
	return ff.f.Stat()
}

func (ff *faultFile) Close() error {
	if err := ff.fs.check(OpClose, ff.name); err != nil {
		_ = ff.f.Close()
		return err
	}
	return ff.f.Close()
}
