package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/node"
)

// benchKinds are the backends a benchmark runs on: Postgres only with a
// database (make bench / TEST_DATABASE_URL).
func benchKinds() []string { return []string{servertest.Memory, servertest.Postgres} }

// A local commit to the client's own live query: the optimistic path.
//   - local: a client without a server (a purely local node: commits are
//     final at once);
//   - connected: a client connected to a server on the in-memory store over
//     a loopback WebSocket, with nothing queued before each commit (the
//     timer stops while it waits for the server's answer);
//   - burst: the same client committing without waiting: commits queue up
//     faster than the server answers them, and the answers arrive while
//     later commits are made.
func BenchmarkLocalCommitToNotification(b *testing.B) {
	b.Run("local", func(b *testing.B) {
		c, err := client.Open("", client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		benchLocalCommit(b, c, false)
	})
	b.Run("connected", func(b *testing.B) {
		env := servertest.Start(b, servertest.Memory, servertest.Options{})
		benchLocalCommit(b, dial(b, env.URL, client.Options{}), true)
	})
	b.Run("burst", func(b *testing.B) {
		env := servertest.Start(b, servertest.Memory, servertest.Options{})
		benchLocalCommit(b, dial(b, env.URL, client.Options{}), false)
	})
}

func benchLocalCommit(b *testing.B, c *client.Client, sync bool) {
	ctx := context.Background()
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Origin of Symmetry", Year: -1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	years := make(chan int64, 1024)
	lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) {
		for _, it := range cs.Items {
			if it.Kind == client.Update {
				years <- it.Entity.Value().Year
			}
		}
	}, "name = 'Origin of Symmetry'")
	if err != nil {
		b.Fatal(err)
	}
	defer lq.Close()
	if err := c.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tx := c.Begin()
		e, err := albums.Edit(ctx, tx, m.ID())
		if err != nil {
			b.Fatal(err)
		}
		e.Value().Year = int64(i)
		if _, err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		for <-years != int64(i) {
		}
		if sync {
			b.StopTimer()
			if err := c.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if err := c.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}

// A commit on the server (a server-side node) to a client's callback, over
// a loopback WebSocket: on the in-memory store (commits feed the fan-out
// directly) and on Postgres (through logical replication).
func BenchmarkServerCommitToClientNotification(b *testing.B) {
	for _, kind := range benchKinds() {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			env := servertest.Start(b, kind, servertest.Options{})
			srv, srvAlbums := serverAlbums(b, env)
			tx := srv.Begin()
			m, err := srvAlbums.Create(tx, Album{Name: "Origin of Symmetry", Year: 2001})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			c := dial(b, env.URL, client.Options{})
			albums, err := client.Register[Album](ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			notified := make(chan struct{}, 1)
			lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) {
				if !cs.Initial {
					notified <- struct{}{}
				}
			}, "name = 'Origin of Symmetry'")
			if err != nil {
				b.Fatal(err)
			}
			defer lq.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tx := srv.Begin()
				e, err := srvAlbums.Edit(ctx, tx, m.ID())
				if err != nil {
					b.Fatal(err)
				}
				e.Value().Year = int64(i)
				if _, err := tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				<-notified
			}
		})
	}
}

// A client that missed 1,000 events catches up: from the moment it can
// reconnect until its live query holds the last write. Catch-up sends the
// changed entities' states (not the events), so the cost follows the
// number of entities changed: 1,000 events on 1,000 entities, and on 10.
func BenchmarkCatchUp1000(b *testing.B) {
	for _, kind := range benchKinds() {
		for _, entities := range []int{1000, 10} {
			b.Run(fmt.Sprintf("%s/entities=%d", kind, entities), func(b *testing.B) {
				benchCatchUp(b, kind, entities)
			})
		}
	}
}

func benchCatchUp(b *testing.B, kind string, entities int) {
	const events = 1000
	ctx := context.Background()
	env := servertest.Start(b, kind, servertest.Options{})
	srv, srvAlbums := serverAlbums(b, env)
	var ids []event.ID
	tx := srv.Begin()
	for i := range entities {
		m, err := srvAlbums.Create(tx, Album{Name: fmt.Sprintf("album %d", i), Year: 0})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, m.ID())
	}
	if _, err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	p := newProxy(b, env.Addr)
	c := dial(b, p.URL(), client.Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, func(client.ChangeSet[Album]) {}, "")
	if err != nil {
		b.Fatal(err)
	}
	defer lq.Close()
	year := int64(0)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p.Block()
		for !waitOffline(c) {
		}
		// 1,000 events, one transaction each, spread over the entities.
		for k := range events {
			year++
			if err := editYear(ctx, srv, srvAlbums, ids[k%entities], year); err != nil {
				b.Fatal(err)
			}
		}
		last := ids[(events-1)%entities]
		b.StartTimer()
		p.Unblock()
		for {
			if err := lq.Ready(ctx); err != nil {
				b.Fatal(err)
			}
			v, err := albums.Get(ctx, last)
			if err == nil && v.Value().Year == year {
				break
			}
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func waitOffline(c *client.Client) bool {
	deadline := time.Now().Add(10 * time.Second)
	for c.Connected() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return !c.Connected()
}

func editYear(ctx context.Context, n *node.Node, albums *node.Collection[Album], id event.ID, year int64) error {
	tx := n.Begin()
	e, err := albums.Edit(ctx, tx, id)
	if err != nil {
		return err
	}
	e.Value().Year = year
	_, err = tx.Commit(ctx)
	return err
}
