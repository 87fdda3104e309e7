package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/value"
)

// The benchmarks compare the SQLite store, durable (SyncFull) and not
// (SyncNormal), with the in-memory store on the same work. The entity is the
// album of the Postgres benchmarks: a text, a bigint and a double. Files go
// in b.TempDir(), on whatever disk holds it (see docs/embedded-store.md).

type kind struct {
	name string
	open func(b *testing.B) storage.Store
}

func sqliteKind(name string, opts sqlite.Options) kind {
	return kind{name, func(b *testing.B) storage.Store {
		return open(b, filepath.Join(b.TempDir(), "bench.db"), opts)
	}}
}

var (
	full   = sqliteKind("sqlite-full", sqlite.Options{})
	normal = sqliteKind("sqlite-normal", sqlite.Options{Sync: sqlite.SyncNormal})
	mem    = kind{"memory", func(*testing.B) storage.Store { return memory.New() }}
)

func album(i int) map[string]value.Value {
	return map[string]value.Value{
		"name":   value.TextOf(fmt.Sprintf("album %d", i)),
		"year":   value.IntOf(int64(1990 + i%30)),
		"rating": value.FloatOf(float64(i%50) / 10),
	}
}

func ensureAlbums(b *testing.B, s storage.Store) {
	b.Helper()
	if _, err := s.EnsureCollection(context.Background(), albums); err != nil {
		b.Fatal(err)
	}
}

// populate creates n albums, 500 per commit, and returns their ids.
func populate(b *testing.B, s storage.Store, n int) []event.ID {
	b.Helper()
	ensureAlbums(b, s)
	ids := make([]event.ID, 0, n)
	for i := 0; i < n; {
		var batch []event.Event
		for ; i < n && len(batch) < 500; i++ {
			e := create("album", album(i))
			batch = append(batch, e)
			ids = append(ids, e.ID)
		}
		mustCommit(b, s, batch...)
	}
	return ids
}

// BenchmarkCreate commits one new entity per transaction, from 1 and from 8
// goroutines (commits are serialised either way; the second shows the cost
// of waiting for the writer).
func BenchmarkCreate(b *testing.B) {
	for _, k := range []kind{full, normal, mem} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", k.name, writers), func(b *testing.B) {
				s := k.open(b)
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
							if _, err := s.Commit(context.Background(), []event.Event{create("album", album(int(i)))}); err != nil {
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

// BenchmarkEdit commits one edit of an existing entity per transaction (the
// row is read, merged and rewritten), durable and not.
func BenchmarkEdit(b *testing.B) {
	for _, k := range []kind{full, normal, mem} {
		b.Run(k.name, func(b *testing.B) {
			s := k.open(b)
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

// BenchmarkGet reads one entity by id out of 10k, from one goroutine and
// from GOMAXPROCS goroutines.
func BenchmarkGet(b *testing.B) {
	for _, k := range []kind{normal, mem} { // reads do not depend on Sync
		b.Run(k.name, func(b *testing.B) {
			s := k.open(b)
			ids := populate(b, s, 10_000)
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got, err := s.Get(context.Background(), "album", []event.ID{ids[r.IntN(len(ids))]}); err != nil || len(got) != 1 {
					b.Fatal(got, err)
				}
			}
		})
		b.Run(k.name+"/parallel", func(b *testing.B) {
			s := k.open(b)
			ids := populate(b, s, 10_000)
			var seed atomic.Uint64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seed.Add(1), 2))
				for pb.Next() {
					if got, err := s.Get(context.Background(), "album", []event.ID{ids[r.IntN(len(ids))]}); err != nil || len(got) != 1 {
						b.Error(got, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkScan reads all of a 10k-entity collection in id order.
func BenchmarkScan(b *testing.B) {
	for _, k := range []kind{normal, mem} {
		b.Run(k.name, func(b *testing.B) {
			s := k.open(b)
			populate(b, s, 10_000)
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

// BenchmarkFileSize reports the size of a file holding 10k albums (each
// with its creation event and one edit), checkpointed and closed. The time
// per op is loading them, 500 per commit.
func BenchmarkFileSize(b *testing.B) {
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "size.db")
		s, err := sqlite.Open(path, sqlite.Options{Sync: sqlite.SyncNormal})
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
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size()), "bytes")
		b.ReportMetric(float64(fi.Size())/10_000, "bytes/entity")
	}
}
