// Package pebblekv runs kvstore over Pebble (github.com/cockroachdb/pebble/v2):
// an LSM tree in a directory (write-ahead log, memtable, sorted tables
// compacted in the background).
package pebblekv

import (
	"io"

	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore"
	"github.com/cockroachdb/pebble/v2"
)

// Open opens (or creates) the store in directory dir with Pebble's default
// options. With noSync, commits are written to the log without an fsync
// (pebble.NoSync): as with SQLite's synchronous=NORMAL, a power failure may
// lose the last commits but does not corrupt the store.
func Open(dir string, noSync bool) (*kvstore.Store, error) { return OpenCache(dir, noSync, 0) }

// OpenCache is Open with a block cache of cacheSize bytes (0: Pebble's
// default, 8 MiB).
func OpenCache(dir string, noSync bool, cacheSize int64) (*kvstore.Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}, CacheSize: cacheSize})
	if err != nil {
		return nil, err
	}
	wo := pebble.Sync
	if noSync {
		wo = pebble.NoSync
	}
	s, err := kvstore.New(engine{db, wo})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// DB returns the Pebble database under a store opened by Open (for
// compaction in the file-size benchmark).
func DB(s *kvstore.Store) *pebble.DB { return kvstore.EngineOf(s).(engine).db }

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

type engine struct {
	db *pebble.DB
	wo *pebble.WriteOptions
}

type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func get(r reader, key []byte, fn func(v []byte) error) (bool, error) {
	v, closer, err := r.Get(key)
	if err == pebble.ErrNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = fn(v)
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	return true, err
}

// upperBound returns the smallest key greater than every key with the prefix.
func upperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func scan(db *pebble.DB, prefix []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if more, err := fn(it.Key(), v); err != nil || !more {
			it.Close()
			return err
		}
	}
	return it.Close()
}

func (e engine) Get(key []byte, fn func(v []byte) error) (bool, error) {
	return get(e.db, key, fn)
}

func (e engine) Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return scan(e.db, prefix, fn)
}

// txn reads the committed state (commits are serialised by the store, so
// nothing else writes meanwhile) and collects the writes in a batch.
type txn struct {
	e     engine
	batch *pebble.Batch
}

func (t txn) Get(key []byte, fn func(v []byte) error) (bool, error) { return t.e.Get(key, fn) }
func (t txn) Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return t.e.Scan(prefix, fn)
}
func (t txn) Set(key, value []byte) error { return t.batch.Set(key, value, nil) }

func (e engine) Update(fn func(r kvstore.Reader, w kvstore.Writer) error) error {
	b := e.db.NewBatch()
	defer b.Close()
	t := txn{e, b}
	if err := fn(t, t); err != nil {
		return err
	}
	return b.Commit(e.wo)
}

func (e engine) Close() error { return e.db.Close() }
