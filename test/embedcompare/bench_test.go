package embedcompare

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore"
	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore/boltkv"
	"github.com/ankurah/ankurah-go/test/embedcompare/kvstore/pebblekv"
	"github.com/ankurah/ankurah-go/value"
	bolt "go.etcd.io/bbolt"
)

// The same work on every store: the album of storage/sqlite's benchmarks (a
// text, a bigint and a double), files in a fresh temporary directory, warm
// caches. One run of the test binary interleaves the stores within each
// benchmark; run it several times and compare ratios (see
// docs/embedded-store.md).

type kind struct {
	name   string
	openAt func(dir string) (storage.Store, error)
}

func sqliteKind(name string, sync sqlite.Sync) kind {
	return kind{name, func(dir string) (storage.Store, error) {
		return sqlite.Open(filepath.Join(dir, "store.db"), sqlite.Options{Sync: sync})
	}}
}

func boltKind(name string, noSync bool) kind {
	return kind{name, func(dir string) (storage.Store, error) { return boltkv.Open(filepath.Join(dir, "store.bolt"), noSync) }}
}

func pebbleKind(name string, noSync bool) kind {
	return kind{name, func(dir string) (storage.Store, error) { return pebblekv.Open(filepath.Join(dir, "pebble"), noSync) }}
}

var (
	sqliteFull   = sqliteKind("sqlite-full", sqlite.SyncFull)
	sqliteNormal = sqliteKind("sqlite-normal", sqlite.SyncNormal)
	boltSync     = boltKind("bbolt-sync", false)
	boltNoSync   = boltKind("bbolt-nosync", true)
	pebbleSync   = pebbleKind("pebble-sync", false)
	pebbleNoSync = pebbleKind("pebble-nosync", true)

	kvKinds = []kind{boltSync, boltNoSync, pebbleSync, pebbleNoSync}
	// writeKinds: durable (fsync per commit), then not.
	writeKinds = []kind{sqliteFull, boltSync, pebbleSync, sqliteNormal, boltNoSync, pebbleNoSync}
)

func open(tb testing.TB, k kind) storage.Store {
	tb.Helper()
	s, err := k.openAt(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

var albums = schema.Collection{Name: "album", Fields: []schema.Field{
	{Name: "name", Type: value.Text}, {Name: "year", Type: value.Int}, {Name: "rating", Type: value.Float},
}}

func album(i int) map[string]value.Value {
	return map[string]value.Value{
		"name":   value.TextOf(fmt.Sprintf("album %d", i)),
		"year":   value.IntOf(int64(1990 + i%30)),
		"rating": value.FloatOf(float64(i%50) / 10),
	}
}

func create(ops map[string]value.Value) event.Event {
	id := event.NewID()
	return event.Event{ID: id, Collection: "album", Entity: id, Ops: ops}
}

func ensureAlbums(tb testing.TB, s storage.Store) {
	tb.Helper()
	if _, err := s.EnsureCollection(context.Background(), albums); err != nil {
		tb.Fatal(err)
	}
}

func mustCommit(tb testing.TB, s storage.Store, evs ...event.Event) []*entity.State {
	tb.Helper()
	st, err := s.Commit(context.Background(), evs)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// populate creates n albums, 500 per commit, and returns their ids.
func populate(tb testing.TB, s storage.Store, n int) []event.ID {
	tb.Helper()
	ensureAlbums(tb, s)
	ids := make([]event.ID, 0, n)
	for i := 0; i < n; {
		var batch []event.Event
		for ; i < n && len(batch) < 500; i++ {
			e := create(album(i))
			batch = append(batch, e)
			ids = append(ids, e.ID)
		}
		mustCommit(tb, s, batch...)
	}
	return ids
}

// BenchmarkCreate commits one new entity per transaction from 1 and from 8
// goroutines; every store serialises its commits.
func BenchmarkCreate(b *testing.B) {
	for _, writers := range []int{1, 8} {
		for _, k := range writeKinds {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, k.name), func(b *testing.B) {
				s := open(b, k)
				ensureAlbums(b, s)
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				b.ResetTimer()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							if _, err := s.Commit(context.Background(), []event.Event{create(album(int(i)))}); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkEdit commits one edit of an existing entity per transaction:
// the state is read, merged and rewritten, and the event appended.
func BenchmarkEdit(b *testing.B) {
	for _, k := range writeKinds {
		b.Run(k.name, func(b *testing.B) {
			s := open(b, k)
			ids := populate(b, s, 1000)
			heads := map[event.ID]event.Head{}
			for _, id := range ids {
				heads[id] = event.Head{id}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := ids[i%len(ids)]
				e := event.Event{ID: event.NewID(heads[id]...), Collection: "album", Entity: id, Parents: heads[id],
					Ops: map[string]value.Value{"year": value.IntOf(int64(i))}}
				heads[id] = mustCommit(b, s, e)[0].Head
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// readKinds: reads do not depend on sync. For Pebble, "pebble" reads 10k
// entities after a flush to sorted tables (as a store larger than its
// memtable would be) with the default 8 MiB block cache, "pebble-cache64M"
// the same with a 64 MiB cache, and "pebble-memtable" reads them straight
// from the memtable they were written to.
type readKind struct {
	name  string
	k     kind
	flush bool
}

var readKinds = []readKind{{"sqlite", sqliteNormal, false}, {"bbolt", boltNoSync, false},
	{"pebble", pebbleNoSync, true}, {"pebble-cache64M", pebbleCache64M, true}, {"pebble-memtable", pebbleNoSync, false}}

var pebbleCache64M = kind{"pebble-cache64M", func(dir string) (storage.Store, error) {
	return pebblekv.OpenCache(filepath.Join(dir, "pebble"), true, 64<<20)
}}

func openPopulated(b *testing.B, rk readKind) (storage.Store, []event.ID) {
	s := open(b, rk.k)
	ids := populate(b, s, 10_000)
	if rk.flush {
		if err := pebblekv.DB(s.(*kvstore.Store)).Flush(); err != nil {
			b.Fatal(err)
		}
	}
	return s, ids
}

// BenchmarkGet reads one entity by id out of 10k.
func BenchmarkGet(b *testing.B) {
	for _, rk := range readKinds {
		b.Run(rk.name, func(b *testing.B) {
			s, ids := openPopulated(b, rk)
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got, err := s.Get(context.Background(), "album", []event.ID{ids[r.IntN(len(ids))]}); err != nil || len(got) != 1 {
					b.Fatal(got, err)
				}
			}
		})
	}
}

// BenchmarkScan decodes every state of a 10k-entity collection, in id order.
func BenchmarkScan(b *testing.B) {
	for _, rk := range readKinds {
		b.Run(rk.name, func(b *testing.B) {
			s, _ := openPopulated(b, rk)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := 0
				if err := s.Scan(context.Background(), "album", func(*entity.State) bool { n++; return true }); err != nil || n != 10_000 {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.N)*10_000/b.Elapsed().Seconds(), "entities/s")
		})
	}
}

// BenchmarkFileSize reports the bytes on disk for 10k albums, each with its
// creation event and one edit (500 per commit), after Close — the way each
// store is normally left — and, for the KV stores, compacted:
//   - sqlite: Close checkpoints the WAL into the file and removes it.
//   - bbolt: Close leaves the file as grown (free pages stay in it);
//     "compacted" is bbolt.Compact's copy into a new file.
//   - pebble: Close leaves the memtable's data in the write-ahead log;
//     "compacted" reopens, flushes and compacts the whole key range.
func BenchmarkFileSize(b *testing.B) {
	for _, k := range []kind{sqliteNormal, boltNoSync, pebbleNoSync} {
		b.Run(k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				s, err := k.openAt(dir)
				if err != nil {
					b.Fatal(err)
				}
				ids := populate(b, s, 10_000)
				var batch []event.Event
				for j, id := range ids {
					batch = append(batch, event.Event{ID: event.NewID(id), Collection: "album", Entity: id, Parents: event.Head{id},
						Ops: map[string]value.Value{"rating": value.FloatOf(float64(j%7) / 2)}})
					if len(batch) == 500 {
						mustCommit(b, s, batch...)
						batch = batch[:0]
					}
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				size, disk := dirSize(b, dir)
				b.ReportMetric(float64(size), "bytes")
				b.ReportMetric(float64(disk), "disk-bytes")
				b.ReportMetric(float64(size)/10_000, "bytes/entity")
				switch k.name {
				case boltNoSync.name:
					src, err := bolt.Open(filepath.Join(dir, "store.bolt"), 0o600, &bolt.Options{ReadOnly: true})
					if err != nil {
						b.Fatal(err)
					}
					cdir := b.TempDir()
					dst, err := bolt.Open(filepath.Join(cdir, "compact.bolt"), 0o600, nil)
					if err != nil {
						b.Fatal(err)
					}
					if err := bolt.Compact(dst, src, 64<<20); err != nil {
						b.Fatal(err)
					}
					// bbolt grows its file in steps (powers of two up to
					// 1 GiB), so the compacted copy's file is larger than its
					// pages: report the pages in use, and the copy's file.
					if err := dst.View(func(tx *bolt.Tx) error {
						b.ReportMetric(float64(tx.Size()), "bytes-compacted")
						return nil
					}); err != nil {
						b.Fatal(err)
					}
					src.Close()
					dst.Close()
					csize, _ := dirSize(b, cdir)
					b.ReportMetric(float64(csize), "compacted-file-bytes")
				case pebbleNoSync.name:
					s, err := k.openAt(dir)
					if err != nil {
						b.Fatal(err)
					}
					db := pebblekv.DB(s.(*kvstore.Store))
					if err := db.Flush(); err != nil {
						b.Fatal(err)
					}
					if err := db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
						b.Fatal(err)
					}
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					csize, _ := dirSize(b, dir)
					b.ReportMetric(float64(csize), "bytes-compacted")
				}
			}
		})
	}
}

// dirSize adds up the sizes of the regular files under dir, and the disk
// space they take (st_blocks: less than the size for sparse files).
func dirSize(tb testing.TB, dir string) (size, disk int64) {
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			disk += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return size, disk
}
