package log

import (
	"os"
	"sync"
)

// indexWriteBatch is how many pending entries an index collects before it appends them to
// its file.
const indexWriteBatch = 64

// indexFile is the file behind an offset or time index. It is open only while it is written:
// entries live in memory (offsetIndex.entries, timeIndex.entries) and reach the file in
// batches — every indexWriteBatch entries, and at every flush, roll and close — so a segment
// holds one descriptor (its .log) rather than three, and 10,000 partitions need 10,000
// descriptors, as in Kafka, not 30,000.
//
// Entries not yet written are lost in a crash, which is safe: they lie beyond the recovery
// point (that point moves only at a flush, and a flush writes them first), and recovery
// rebuilds the index of every segment it scans from the .log.
type indexFile struct {
	fsys FS
	path string

	// mu guards written and pending: appends run under the log's lock, but Flush syncs
	// segments without it.
	mu      sync.Mutex
	written int64  // bytes in the file
	pending []byte // whole entries not yet in the file
}

// add queues one encoded entry and writes the batch out when it is full.
func (f *indexFile) add(entry []byte, size int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, entry...)
	if len(f.pending) >= indexWriteBatch*size {
		return f.writeOutLocked(false)
	}
	return nil
}

// writeOut appends the pending entries to the file; with sync it also fsyncs the file.
func (f *indexFile) writeOut(sync bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeOutLocked(sync)
}

func (f *indexFile) writeOutLocked(sync bool) error {
	if len(f.pending) == 0 && !sync {
		return nil
	}
	h, err := f.fsys.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, defaultFilePerm)
	if err != nil {
		return err
	}
	if len(f.pending) > 0 {
		n, err := h.Write(f.pending)
		f.written += int64(n)
		f.pending = f.pending[n:]
		if err != nil {
			_ = h.Close()
			return err
		}
		f.pending = f.pending[:0]
	}
	if sync {
		if err := h.Sync(); err != nil {
			_ = h.Close()
			return err
		}
	}
	return h.Close()
}

// truncate keeps the first size bytes of the index (file and pending entries together).
func (f *indexFile) truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size >= f.written {
		if keep := size - f.written; keep < int64(len(f.pending)) {
			f.pending = f.pending[:keep]
		}
		return nil
	}
	f.pending = f.pending[:0]
	h, err := f.fsys.OpenFile(f.path, os.O_WRONLY|os.O_CREATE, defaultFilePerm)
	if err != nil {
		return err
	}
	if err := h.Truncate(size); err != nil {
		_ = h.Close()
		return err
	}
	f.written = size
	return h.Close()
}

// setPath follows a rename of the file.
func (f *indexFile) setPath(path string) {
	f.mu.Lock()
	f.path = path
	f.mu.Unlock()
}
