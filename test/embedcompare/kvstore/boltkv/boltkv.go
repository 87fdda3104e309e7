// Package boltkv runs kvstore over bbolt (go.etcd.io/bbolt): one B+tree
// file, copy-on-write pages, one writer, MVCC readers over an mmap.
package boltkv

import (
	"bytes"

	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore"
	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("ankurah")

// Open opens (or creates) the file at path. With noSync, commits are not
// fsynced (bbolt's DB.NoSync): unlike SQLite's synchronous=NORMAL, a power
// failure can then corrupt the file, not only lose the last commits.
func Open(path string, noSync bool) (*kvstore.Store, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	db.NoSync = noSync
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	s, err := kvstore.New(engine{db})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// DB returns the bbolt database under a store opened by Open.
func DB(s *kvstore.Store) *bolt.DB { return kvstore.EngineOf(s).(engine).db }

type engine struct{ db *bolt.DB }

type txn struct{ b *bolt.Bucket }

func (t txn) Get(key []byte, fn func(v []byte) error) (bool, error) {
	v := t.b.Get(key)
	if v == nil {
		return false, nil
	}
	return true, fn(v)
}

func (t txn) Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	c := t.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if more, err := fn(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}

func (t txn) Set(key, value []byte) error {
	if value == nil {
		value = []byte{} // bbolt stores an empty value; nil is refused
	}
	return t.b.Put(key, value)
}

func (e engine) Get(key []byte, fn func(v []byte) error) (found bool, err error) {
	err = e.db.View(func(tx *bolt.Tx) error {
		found, err = txn{tx.Bucket(bucket)}.Get(key, fn)
		return err
	})
	return found, err
}

func (e engine) Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return e.db.View(func(tx *bolt.Tx) error { return txn{tx.Bucket(bucket)}.Scan(prefix, fn) })
}

func (e engine) Update(fn func(r kvstore.Reader, w kvstore.Writer) error) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		t := txn{tx.Bucket(bucket)}
		return fn(t, t)
	})
}

func (e engine) Close() error { return e.db.Close() }
