// Package sqlite is the embedded storage adapter: a whole node in one SQLite
// file, through modernc.org/sqlite (SQLite translated to Go, no cgo), so that
// `go build` still makes one static binary.
//
// The file is laid out like the Postgres database, so that it can be read
// with plain SQL too (the sqlite3 shell, DB Browser, DB() here):
//
//	_ankurah_collections  name, table_name     one row per collection
//	_ankurah_fields       collection, name, type ("text", "bigint", …)
//	_ankurah_events       id, collection, entity_id, parents, operations, author,
//	                      tombstone; append-only, indexed by (entity_id, id)
//	<collection>          id, _head, _versions, then one typed column per
//	                      field; one row per existing (not deleted) entity
//
// Ids are their 26-character text; parents, _head and _versions are JSON
// (arrays of ids, field → id), operations the natural JSON of the values, as
// in Postgres. See codec.go for how each value type is stored in a column.
//
// Concurrency. SQLite has one writer at a time. Commits and schema changes
// take a Go mutex and run on a single writer connection, one BEGIN IMMEDIATE
// transaction each, so they never contend inside SQLite (no SQLITE_BUSY, no
// busy-wait polling). Reads use a pool of query_only connections; in WAL mode
// they see the last committed state and never wait for the writer.
//
// A file may be opened by one Store per process (a second Open fails with
// ErrAlreadyOpen). Other processes may open it at the same time: SQLite's file
// locks serialise their writes, and each commit notices another process's
// schema changes (PRAGMA data_version) before it uses its cached catalog.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/ankurah/ankurah-go/storage"
)

// Sync is how hard a commit pushes its data to the disk (PRAGMA synchronous).
type Sync int

const (
	// SyncFull (the default) fsyncs the write-ahead log at every commit: a
	// commit that returned survives a crash of the process or the machine.
	SyncFull Sync = iota
	// SyncNormal fsyncs only at checkpoints. The file is never corrupted and
	// a crash of the process loses nothing, but a power failure may undo the
	// last commits. Several times faster for small commits.
	SyncNormal
)

func (s Sync) pragma() (string, error) {
	switch s {
	case SyncFull:
		return "FULL", nil
	case SyncNormal:
		return "NORMAL", nil
	}
	return "", fmt.Errorf("sqlite: unknown Sync %d", int(s))
}

// DefaultBusyTimeout is Options.BusyTimeout's default.
const DefaultBusyTimeout = 5 * time.Second

// Options configure a Store. The zero value of every field means its
// default (durable and sensible): WithDefaults fills them in (on a copy),
// and Validate reports every problem at once. Open does both.
type Options struct {
	// Sync is the durability of a commit. Default SyncFull.
	Sync Sync
	// BusyTimeout is how long a commit waits while another process holds
	// the file's write lock. Default DefaultBusyTimeout (5 s).
	BusyTimeout time.Duration
	// MaxReaders caps the read connections. Default 0: no cap. Scan holds
	// a connection while it calls its callback, so with a cap, nested reads
	// from inside many concurrent Scans can wait for each other.
	MaxReaders int
}

// WithDefaults returns o with every unset field set to its default.
func (o Options) WithDefaults() Options {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	return o
}

// Validate reports every problem with the options (defaults applied) at
// once.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	if _, err := o.Sync.pragma(); err != nil {
		errs = append(errs, err)
	}
	if o.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("sqlite: BusyTimeout %v: must be positive", o.BusyTimeout))
	}
	if o.MaxReaders < 0 {
		errs = append(errs, fmt.Errorf("sqlite: MaxReaders %d: must be 0 (no cap) or more", o.MaxReaders))
	}
	return errors.Join(errs...)
}

// ErrAlreadyOpen is returned by Open for a file this process has open already.
// Share the *Store instead: it is safe for concurrent use.
var ErrAlreadyOpen = errors.New("sqlite: database file is already open in this process")

// errClosed is returned by every method after Close.
var errClosed = storage.Errorf(storage.CodeInternal, "sqlite: store is closed")

// Store is the SQLite adapter. It is safe for concurrent use.
type Store struct {
	path string
	reg  *registration

	readers *sql.DB
	rstmts  sync.Map // SQL text → *sql.Stmt prepared on readers

	// The writer: one connection, used only with wmu held.
	wmu         sync.Mutex
	writer      *sql.DB
	conn        *sql.Conn
	wstmts      map[string]*sql.Stmt // prepared on conn
	wcat        map[string]*table    // the catalog as of the last write transaction
	dataVersion int64                // PRAGMA data_version when wcat was last checked

	// catalog is what readers use: filled at Open, updated after each write
	// transaction and reloaded when a reader meets a column it lacks.
	mu      sync.RWMutex
	catalog map[string]*table

	closed atomic.Bool
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating if needed) the store in the SQLite file at path.
func Open(path string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	mode, _ := opts.Sync.pragma()
	var s *Store
	reg, err := register(abs, func() error {
		s, err = open(abs, mode, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.reg = reg
	return s, nil
}

func open(path, syncMode string, opts Options) (*Store, error) {
	busy := fmt.Sprint(opts.BusyTimeout.Milliseconds())
	writer, err := openDB(path, url.Values{
		"_busy_timeout": {busy}, "_journal_mode": {"WAL"}, "_synchronous": {syncMode},
	})
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	s := &Store{path: path, writer: writer, wstmts: map[string]*sql.Stmt{}}
	ctx := context.Background()
	if s.conn, err = writer.Conn(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	fail := func(err error) (*Store, error) {
		s.conn.Close()
		writer.Close()
		if s.readers != nil {
			s.readers.Close()
		}
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if err := bootstrap(ctx, s.conn); err != nil {
		return fail(err)
	}
	if err := s.conn.QueryRowContext(ctx, "pragma data_version").Scan(&s.dataVersion); err != nil {
		return fail(err)
	}
	if s.wcat, err = loadCatalog(ctx, s.conn, ""); err != nil {
		return fail(err)
	}
	s.catalog = s.wcat
	if s.readers, err = openDB(path, url.Values{"_busy_timeout": {busy}, "_query_only": {"1"}}); err != nil {
		return fail(err)
	}
	s.readers.SetMaxOpenConns(opts.MaxReaders)
	s.readers.SetMaxIdleConns(max(2, runtime.GOMAXPROCS(0)))
	return s, nil
}

// openDB opens a pool on the file with the given driver parameters. The path
// goes in a file: URI so that any character in it is safe.
func openDB(path string, params url.Values) (*sql.DB, error) {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	if u.Path[0] != '/' { // a Windows path: file:/C:/…
		u.Path = "/" + u.Path
	}
	c, err := sqlite.NewConnector(u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return sql.OpenDB(c), nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// DB returns the pool of read-only connections, for ad-hoc SQL over the
// file. It belongs to the Store: do not close it.
func (s *Store) DB() *sql.DB { return s.readers }

// Close implements storage.Store. It waits for the commit and the reads in
// progress (a Scan callback may still read, but no longer write), closes
// every connection — the writer last, so that it checkpoints the write-ahead
// log into the file and removes it — and lets the file be opened again.
// Closing twice is a no-op.
func (s *Store) Close() error {
	s.wmu.Lock()
	already := s.closed.Swap(true)
	s.wmu.Unlock()
	if already {
		return nil
	}
	// From here no write can start (write checks closed under wmu), so the
	// writer's fields are ours.
	var errs []error
	s.rstmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	errs = append(errs, s.readers.Close())
	for _, st := range s.wstmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, s.conn.Close(), s.writer.Close())
	s.reg.release()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: closing %s: %w", s.path, err)
	}
	return nil
}
