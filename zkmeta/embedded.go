package zkmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// EmbeddedOptions tunes the embedded store. The zero value is the default.
type EmbeddedOptions struct {
	// CompactBytes: once the journal is larger than this and than the last
	// snapshot, the tree is written to a new snapshot and the journal
	// emptied. Default 8 MiB.
	CompactBytes int64
	// MaxDataSize bounds a znode's data like ZooKeeper's jute.maxbuffer.
	// Default 1 MiB - 1.
	MaxDataSize int
	// Now is the clock for Ctime/Mtime. Default time.Now.
	Now func() time.Time
}

const (
	defaultCompactBytes = 8 << 20
	defaultMaxDataSize  = 1<<20 - 1
)

// Embedded is the single-node store persisted under a directory. It is a
// Store for its own session; NewSession opens more sessions on the same
// tree (one per in-process broker, or a second client in tests).
type Embedded struct {
	db  *db
	def *Session
}

var _ Store = (*Embedded)(nil)
var _ Store = (*Session)(nil)

// db is the state shared by the sessions of an Embedded store.
type db struct {
	log  zerolog.Logger
	dir  string
	opts EmbeddedOptions
	lock *os.File

	mu       sync.Mutex // guards everything below, and journal appends
	tree     *tree
	watches  watches
	sessions map[int64]*Session
	zxid     int64
	nextSess int64
	jr       *journal
	snapSize int64
	closed   bool
	failed   error // sticky: a failed fsync leaves the journal in doubt
}

// OpenEmbedded opens the single-node store persisted under dir (created if
// missing) with default options.
func OpenEmbedded(dir string, logger zerolog.Logger) (*Embedded, error) {
	return OpenEmbeddedWithOptions(dir, logger, EmbeddedOptions{})
}

// OpenEmbeddedWithOptions opens the store under dir: it loads the snapshot,
// replays the journal (cutting a torn tail), deletes the ephemeral znodes
// of the sessions of the previous run and opens the store's own session.
func OpenEmbeddedWithOptions(dir string, logger zerolog.Logger, opts EmbeddedOptions) (*Embedded, error) {
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = defaultCompactBytes
	}
	if opts.MaxDataSize <= 0 {
		opts.MaxDataSize = defaultMaxDataSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("zkmeta: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	d := &db{
		log:      logger.With().Str("component", "zkmeta").Logger(),
		dir:      dir,
		opts:     opts,
		lock:     lock,
		watches:  newWatches(),
		sessions: map[int64]*Session{},
	}
	if err := d.load(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	d.nextSess = opts.Now().UnixMilli() << 16
	e := &Embedded{db: d}
	e.def, _ = d.newSession() // cannot fail: d is not closed
	if err := d.dropStaleEphemerals(); err != nil {
		_ = e.Close()
		return nil, err
	}
	d.log.Info().Int64("zxid", d.zxid).Int("znodes", len(d.tree.nodes)).Str("dir", dir).Msg("metadata store opened")
	return e, nil
}

// load reads the snapshot and replays the journal.
func (d *db) load() error {
	t, snapZxid, snapSize, err := readSnapshot(d.dir)
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(d.dir, snapshotFile+".tmp"))
	d.tree, d.zxid, d.snapSize = t, snapZxid, snapSize
	f, err := os.OpenFile(filepath.Join(d.dir, journalFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("zkmeta: journal: %w", err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("zkmeta: journal: %w", err)
	}
	recs, valid, err := scanJournal(b)
	if err != nil {
		_ = f.Close()
		return err
	}
	if valid < int64(len(b)) {
		d.log.Warn().Int64("offset", valid).Int("cut_bytes", len(b)-int(valid)).Msg("torn journal tail cut")
		if err := f.Truncate(valid); err == nil {
			err = f.Sync()
		}
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("zkmeta: journal: cutting torn tail: %w", err)
		}
	}
	for _, r := range recs {
		if r.zxid <= d.zxid {
			continue // already in the snapshot
		}
		if err := d.replay(r); err != nil {
			_ = f.Close()
			return fmt.Errorf("zkmeta: journal replay of zxid %d: %w", r.zxid, err)
		}
		d.zxid = r.zxid
	}
	d.jr = newJournal(f, valid)
	return nil
}

func (d *db) replay(r record) error {
	for _, m := range r.muts {
		var err error
		switch m.kind {
		case mutCreate:
			if verr := validatePath(m.path); verr != nil || m.path == "/" {
				return fmt.Errorf("%w: %s", ErrBadArguments, m.path)
			}
			_, err = d.tree.create(m.path, m.data, m.owner, r.zxid, r.time)
		case mutSet:
			_, err = d.tree.set(m.path, m.data, -1, r.zxid, r.time)
		case mutDelete:
			_, err = d.tree.delete(m.path, -1, r.zxid)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dropStaleEphemerals deletes the ephemeral znodes left by the sessions of
// a previous run: those sessions ended with the process.
func (d *db) dropStaleEphemerals() error {
	d.mu.Lock()
	x := d.begin()
	for owner := range d.tree.ephemerals {
		for _, p := range d.tree.ownedBy(owner) {
			if err := x.del(p, -1); err != nil {
				x.rollback()
				d.mu.Unlock()
				return err
			}
		}
	}
	end, ds, err := d.commitLocked(x)
	d.mu.Unlock()
	return d.finish(end, ds, err)
}

func (d *db) newSession() (*Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.nextSess++
	s := &Session{db: d, watches: map[*watch]struct{}{}, events: newSessionEvents()}
	s.id.Store(d.nextSess)
	d.sessions[d.nextSess] = s
	s.events.push(SessionEvent{State: SessionConnected, SessionID: d.nextSess})
	return s, nil
}

// txn is a transaction being applied under the store mutex.
type txn struct {
	d       *db
	rec     record
	changes []change
	undo    []func()
}

func (d *db) begin() *txn {
	return &txn{d: d, rec: record{zxid: d.zxid + 1, time: d.opts.Now().UnixMilli()}}
}

func (x *txn) rollback() {
	for i := len(x.undo) - 1; i >= 0; i-- {
		x.undo[i]()
	}
	x.undo = nil
}

func (x *txn) checkData(data []byte) error {
	if len(data) > x.d.opts.MaxDataSize {
		return fmt.Errorf("%w: %d bytes of data exceed the limit of %d", ErrBadArguments, len(data), x.d.opts.MaxDataSize)
	}
	return nil
}

func (x *txn) create(path string, data []byte, mode CreateMode, owner int64) (string, error) {
	if !mode.valid() {
		return "", fmt.Errorf("%w: create mode %d", ErrBadArguments, mode)
	}
	check := path
	if mode.Sequential() {
		check = path + "0000000000"
	}
	if err := validatePath(check); err != nil {
		return "", err
	}
	if path == "/" {
		return "", fmt.Errorf("%w: /", ErrNodeExists)
	}
	if err := x.checkData(data); err != nil {
		return "", err
	}
	if mode.Sequential() {
		var err error
		if path, err = x.d.tree.sequentialPath(path); err != nil {
			return "", err
		}
	}
	if !mode.Ephemeral() {
		owner = 0
	}
	data = cloneBytes(data)
	undo, err := x.d.tree.create(path, data, owner, x.rec.zxid, x.rec.time)
	if err != nil {
		return "", err
	}
	x.undo = append(x.undo, undo)
	x.rec.muts = append(x.rec.muts, mutation{kind: mutCreate, path: path, data: data, owner: owner})
	x.changes = append(x.changes, change{typ: EventNodeCreated, path: path})
	return path, nil
}

func (x *txn) set(path string, data []byte, version int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	if err := x.checkData(data); err != nil {
		return err
	}
	data = cloneBytes(data)
	undo, err := x.d.tree.set(path, data, version, x.rec.zxid, x.rec.time)
	if err != nil {
		return err
	}
	x.undo = append(x.undo, undo)
	x.rec.muts = append(x.rec.muts, mutation{kind: mutSet, path: path, data: data})
	x.changes = append(x.changes, change{typ: EventNodeDataChanged, path: path})
	return nil
}

func (x *txn) del(path string, version int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	undo, err := x.d.tree.delete(path, version, x.rec.zxid)
	if err != nil {
		return err
	}
	x.undo = append(x.undo, undo)
	x.rec.muts = append(x.rec.muts, mutation{kind: mutDelete, path: path})
	x.changes = append(x.changes, change{typ: EventNodeDeleted, path: path})
	return nil
}

func (x *txn) check(path string, version int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	return x.d.tree.check(path, version)
}

// commitLocked journals a successful transaction, advances the zxid and
// collects the watches it fires; on a journal error it rolls back. It
// returns the journal offset to wait for. The caller holds d.mu.
func (d *db) commitLocked(x *txn) (int64, []delivery, error) {
	if len(x.rec.muts) == 0 {
		return 0, nil, nil
	}
	if d.failed != nil {
		x.rollback()
		return 0, nil, d.failed
	}
	end, err := d.jr.append(encodeRecord(x.rec))
	if err != nil {
		x.rollback()
		d.log.Error().Err(err).Msg("metadata journal append failed")
		return 0, nil, err
	}
	d.zxid = x.rec.zxid
	ds := d.watches.trigger(x.changes)
	if d.jr.size > d.opts.CompactBytes && d.jr.size > d.snapSize {
		if err := d.compactLocked(); err != nil {
			// The journal still holds everything; compaction is retried on the next write.
			d.log.Error().Err(err).Msg("metadata snapshot failed")
		}
	}
	return end, ds, nil
}

// finish waits for durability, then delivers the watch events.
func (d *db) finish(end int64, ds []delivery, err error) error {
	if err != nil {
		return err
	}
	if end > 0 {
		if err := d.jr.waitDurable(end); err != nil {
			d.mu.Lock()
			if d.failed == nil {
				d.failed = err
			}
			d.mu.Unlock()
			d.log.Error().Err(err).Msg("metadata journal fsync failed; store is read-only from now on")
			return err
		}
	}
	deliver(ds)
	return nil
}

// compactLocked writes a snapshot and empties the journal. The caller holds d.mu.
func (d *db) compactLocked() error {
	start := time.Now()
	size, err := writeSnapshot(d.dir, d.tree, d.zxid)
	if err != nil {
		return err
	}
	journalBytes := d.jr.size
	if err := d.jr.reset(); err != nil {
		// The snapshot is durable and replay skips what it holds; keep appending.
		return err
	}
	d.snapSize = size
	d.log.Info().Int64("zxid", d.zxid).Int64("snapshot_bytes", size).Int64("journal_bytes", journalBytes).
		Dur("took", time.Since(start)).Msg("metadata journal compacted into snapshot")
	return nil
}

// Compact writes a snapshot now and empties the journal.
func (e *Embedded) Compact() error {
	d := e.db
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.failed != nil {
		return d.failed
	}
	return d.compactLocked()
}

// NewSession opens another session on the same tree. It ends with its own
// Close or with the Embedded store's Close.
func (e *Embedded) NewSession() (*Session, error) {
	return e.db.newSession()
}

// Close ends every session (deleting their ephemeral znodes and firing
// watches), syncs and closes the journal. Later calls return nil.
func (e *Embedded) Close() error {
	d := e.db
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true // new calls fail from here on; sessions still end below
	sessions := make([]*Session, 0, len(d.sessions))
	for _, s := range d.sessions {
		sessions = append(sessions, s)
	}
	d.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.jr.waitDurable(d.jr.written.Load()); err != nil {
		errs = append(errs, err)
	}
	if err := d.jr.f.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := d.lock.Close(); err != nil {
		errs = append(errs, err)
	}
	d.log.Info().Int64("zxid", d.zxid).Msg("metadata store closed")
	return errors.Join(errs...)
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
