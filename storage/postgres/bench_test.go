package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// BenchmarkCommitVsInsert compares, in the same run and on the same server,
// API commits (one entity created per transaction: its event and its row,
// checked by the trigger) with raw single-row INSERTs of the same data
// through pgx into a plain table. docs/benchmarks.md reports the ratio.
func BenchmarkCommitVsInsert(b *testing.B) {
	url := pgtest.NewDatabase(b) + "&pool_max_conns=40"
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('album', '{"name":"text","year":"bigint","rating":"double precision"}')`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `create table raw_album (id text collate "C" primary key, name text collate "C", year bigint, rating double precision)`); err != nil {
		b.Fatal(err)
	}
	n := node.New(postgres.New(pool, postgres.Options{}))
	var seq atomic.Int64

	api := func() error {
		i := seq.Add(1)
		tx := n.Begin()
		if _, err := tx.Create("album", map[string]value.Value{
			"name": value.TextOf(fmt.Sprintf("album %d", i)), "year": value.IntOf(1990 + i%30), "rating": value.FloatOf(float64(i%50) / 10),
		}); err != nil {
			return err
		}
		_, err := tx.Commit(ctx)
		return err
	}
	raw := func() error {
		i := seq.Add(1)
		_, err := pool.Exec(ctx, `insert into raw_album (id, name, year, rating) values ($1, $2, $3, $4)`,
			event.NewID().String(), fmt.Sprintf("album %d", i), 1990+i%30, float64(i%50)/10)
		return err
	}
	for _, writers := range []int{1, 16} {
		for _, kind := range []struct {
			name string
			fn   func() error
		}{{"api", api}, {"raw", raw}} {
			b.Run(fmt.Sprintf("%s/writers=%d", kind.name, writers), func(b *testing.B) {
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				start := time.Now()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if err := kind.fn(); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			})
		}
	}
}
