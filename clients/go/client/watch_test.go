package client_test

import (
	"context"
	"slices"
	"testing"
	"time"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
)

// until receives from a watch's channel until a value satisfies cond (a
// watch holds the latest value: intermediate ones may be skipped).
func until[V any](t testing.TB, ch <-chan V, what string, cond func(V) bool) V {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last any = "none"
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				t.Fatalf("the watch ended while waiting for %s (last value: %+v)", what, last)
			}
			if cond(v) {
				return v
			}
			last = v
		case <-deadline:
			t.Fatalf("timed out waiting for %s (last value: %+v)", what, last)
		}
	}
}

// closedNow reports whether ch is closed once the values still in it are
// taken, without waiting.
func closedNow[V any](ch <-chan V) bool {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		default:
			return false
		}
	}
}

func edit(t testing.TB, ctx context.Context, c *client.Client, albums *client.Collection[Album], id event.ID, fn func(*Album)) {
	t.Helper()
	tx := c.Begin()
	m, err := albums.Edit(ctx, tx, id)
	if err != nil {
		t.Fatal(err)
	}
	fn(m.Value())
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// An entity watch gets the entity's typed view at once and after every
// change — remote (a server-side node; SQL on Postgres), local (offline:
// pending, then confirmed) — and nil with Deleted once it is deleted, on
// every backend.
func TestWatchEntity(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			env := servertest.Start(t, kind, servertest.Options{})
			srv, srvAlbums := serverAlbums(t, env)
			tx := srv.Begin()
			created, err := srvAlbums.Create(tx, Album{Name: "Showbiz", Year: 1999})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			id := created.ID()
			p := newProxy(t, env.Addr)
			c := dial(t, p.URL(), client.Options{})
			albums, err := client.Register[Album](ctx, c)
			if err != nil {
				t.Fatal(err)
			}

			w, err := albums.WatchEntity(ctx, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s := recv(t, w.C()); s.View == nil || s.View.ID() != id || s.View.Value() != (Album{Name: "Showbiz", Year: 1999}) || !s.Synced || s.Pending || s.Deleted {
				t.Fatalf("first value %+v", s)
			}

			// Remote: a server-side node's commit.
			tx = srv.Begin()
			m, err := srvAlbums.Edit(ctx, tx, id)
			if err != nil {
				t.Fatal(err)
			}
			m.Value().Year = 2000
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			until(t, w.C(), "the server's edit", func(s client.EntitySnapshot[Album]) bool {
				return s.View != nil && s.View.Value().Year == 2000 && s.Synced && !s.Pending
			})
			if env.DB != nil {
				if _, err := env.DB.Exec(ctx, "update album set name = 'Showbiz (SQL)' where id = $1", id.String()); err != nil {
					t.Fatal(err)
				}
				until(t, w.C(), "the SQL update", func(s client.EntitySnapshot[Album]) bool {
					return s.View != nil && s.View.Value() == Album{Name: "Showbiz (SQL)", Year: 2000}
				})
			}

			// Local, offline: shown at once as pending; Value reads it now.
			p.Block()
			until(t, w.C(), "synced to turn off", func(s client.EntitySnapshot[Album]) bool { return !s.Synced })
			edit(t, ctx, c, albums, id, func(a *Album) { a.Name = "Showbiz (offline)" })
			if s := w.Value(); s.View == nil || s.View.Value().Name != "Showbiz (offline)" || !s.Pending || s.Synced {
				t.Fatalf("Value after a local commit: %+v", s)
			}
			until(t, w.C(), "the local edit, pending", func(s client.EntitySnapshot[Album]) bool {
				return s.View != nil && s.View.Value().Name == "Showbiz (offline)" && s.Pending && !s.Synced
			})
			p.Unblock()
			until(t, w.C(), "the confirmation", func(s client.EntitySnapshot[Album]) bool {
				return s.View != nil && s.View.Value().Name == "Showbiz (offline)" && !s.Pending && s.Synced
			})

			// Remote deletion.
			tx = srv.Begin()
			if err := srvAlbums.Delete(ctx, tx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			until(t, w.C(), "the deletion", func(s client.EntitySnapshot[Album]) bool { return s.View == nil && s.Deleted && s.Synced })

			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !closedNow(w.C()) {
				t.Fatal("the channel is open after Close returned")
			}

			// An entity that does not exist: nil, not deleted.
			none, err := albums.WatchEntity(ctx, event.NewID(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer none.Close()
			if s := recv(t, none.C()); s.View != nil || s.Deleted || !s.Synced {
				t.Fatalf("an unknown entity: %+v", s)
			}
		})
	}
}

// A live query watched as a whole: the rows in query order, synced and
// pending flags, after server transactions, local commits offline, the
// confirmation, a change of selection; unchanged rows keep their view.
func TestWatchQuery(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	srv, srvAlbums := serverAlbums(t, env)
	p := newProxy(t, env.Addr)
	c := dial(t, p.URL(), client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.WatchQuery(ctx, nil, "year >= ? ORDER BY year", 2000)
	if err != nil {
		t.Fatal(err)
	}
	if lq.Changes() != nil {
		t.Error("a live query of WatchQuery has a Changes channel")
	}
	if s := recv(t, lq.Snapshots()); len(s.Rows) != 0 || !s.Synced || s.Pending {
		t.Fatalf("first snapshot %+v", s)
	}
	names := func(s client.Snapshot[Album]) []string {
		var out []string
		for _, v := range s.Rows {
			out = append(out, v.Value().Name)
		}
		return out
	}
	rows := func(want ...string) func(client.Snapshot[Album]) bool {
		return func(s client.Snapshot[Album]) bool { return slices.Equal(names(s), want) }
	}

	tx := srv.Begin()
	ids := map[string]event.ID{}
	for _, a := range []Album{{"Absolution", 2003}, {"Origin of Symmetry", 2001}, {"Showbiz", 1999}} {
		m, err := srvAlbums.Create(tx, a)
		if err != nil {
			t.Fatal(err)
		}
		ids[a.Name] = m.ID()
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	before := until(t, lq.Snapshots(), "the server's albums", rows("Origin of Symmetry", "Absolution"))

	// An edit of one row leaves the other's view as it was.
	tx = srv.Begin()
	m, err := srvAlbums.Edit(ctx, tx, ids["Absolution"])
	if err != nil {
		t.Fatal(err)
	}
	m.Value().Name = "Absolution (remastered)"
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := until(t, lq.Snapshots(), "the edit", rows("Origin of Symmetry", "Absolution (remastered)"))
	if after.Rows[0] != before.Rows[0] {
		t.Error("an unchanged row got a new view")
	}

	p.Block()
	until(t, lq.Snapshots(), "synced to turn off", func(s client.Snapshot[Album]) bool { return !s.Synced })
	tx = c.Begin()
	local, err := albums.Create(tx, Album{Name: "Black Holes and Revelations", Year: 2002})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s := until(t, lq.Snapshots(), "the local album", rows("Origin of Symmetry", "Black Holes and Revelations", "Absolution (remastered)"))
	if !s.Pending || !s.IsPending(local.ID()) || s.IsPending(ids["Origin of Symmetry"]) || s.Synced {
		t.Fatalf("offline snapshot: pending %v (%v, %v), synced %v", s.Pending, s.IsPending(local.ID()), s.IsPending(ids["Origin of Symmetry"]), s.Synced)
	}
	p.Unblock()
	until(t, lq.Snapshots(), "the confirmation", func(s client.Snapshot[Album]) bool {
		return s.Synced && !s.Pending && len(s.Rows) == 3 && !s.IsPending(local.ID())
	})

	if err := lq.Update(ctx, "year >= ? ORDER BY year DESC", 2002); err != nil {
		t.Fatal(err)
	}
	until(t, lq.Snapshots(), "the new selection", rows("Absolution (remastered)", "Black Holes and Revelations"))
	if v := lq.Results(); len(v) != 2 {
		t.Fatalf("results %v", v)
	}
	lq.Close()
	for range lq.Snapshots() {
	}
}

// Watches of a live query started by Subscribe: any number, beside its
// change sets; Close of one watch leaves the live query and the other
// watches alone; the live query's Close ends them.
func TestWatchLiveQuery(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	c := dial(t, env.URL, client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, lq.Changes())
	called := make(chan client.Snapshot[Album], 16)
	if _, err := lq.Watch(func(s client.Snapshot[Album]) { called <- s }); err != nil {
		t.Fatal(err)
	}
	byCh, err := lq.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := recv(t, called); len(s.Rows) != 0 || !s.Synced {
		t.Fatalf("first snapshot %+v", s)
	}
	recv(t, byCh.C())

	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Drones", Year: 2015})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); len(cs.Items) != 1 || cs.Items[0].Kind != client.Add {
		t.Fatalf("change set %v", cs)
	}
	one := func(s client.Snapshot[Album]) bool {
		return len(s.Rows) == 1 && s.Rows[0].ID() == m.ID() && !s.Pending
	}
	until(t, called, "the album, confirmed", one)
	until(t, byCh.C(), "the album, confirmed", one)

	if err := byCh.Close(); err != nil {
		t.Fatal(err)
	}
	if !closedNow(byCh.C()) {
		t.Fatal("the channel is open after Close returned")
	}
	edit(t, ctx, c, albums, m.ID(), func(a *Album) { a.Year = 2016 })
	until(t, called, "the edit", func(s client.Snapshot[Album]) bool { return len(s.Rows) == 1 && s.Rows[0].Value().Year == 2016 })
	if cs := recv(t, lq.Changes()); len(cs.Items) != 1 || cs.Items[0].Kind != client.Update {
		t.Fatalf("change set after a watch closed: %v", cs)
	}

	lq.Close()
	if _, err := lq.Watch(nil); err != client.ErrClosed {
		t.Fatalf("Watch on a closed live query: %v", err)
	}
}

// Watches never hold the client back: while a watch's callback is blocked
// and another watch's channel is not read, a hundred commits go through;
// then the callback gets the latest value — and only it, the ones in
// between skipped — and so does the channel.
func TestWatchLatestValue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, err := client.Open("", client.Options{}) // purely local: commits are final at once
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Simulation Theory"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan int64, 200)
	release := make(chan struct{})
	first := true
	byFn, err := albums.WatchEntity(ctx, m.ID(), func(s client.EntitySnapshot[Album]) {
		got <- s.View.Value().Year
		if first {
			first = false
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer byFn.Close()
	byCh, err := albums.WatchEntity(ctx, m.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer byCh.Close()
	if y := recv(t, got); y != 0 {
		t.Fatalf("first value: year %d", y)
	}
	for year := int64(1); year <= 100; year++ {
		edit(t, ctx, c, albums, m.ID(), func(a *Album) { a.Year = year })
	}
	close(release)
	if y := recv(t, got); y != 100 {
		t.Fatalf("after a blocked callback: year %d, want the latest, 100", y)
	}
	until(t, byCh.C(), "the latest value", func(s client.EntitySnapshot[Album]) bool { return s.View.Value().Year == 100 })
	// Nothing changes any more: nothing else arrives.
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case y := <-got:
		t.Fatalf("a value after the latest: year %d", y)
	case s := <-byCh.C():
		t.Fatalf("a value after the latest: %+v", s)
	default:
	}
}

// Close may be called from a watch's callback (the watch's or the
// client's); the client's Close ends every watch and returns after their
// goroutines (a channel is closed when it returns).
func TestWatchClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	c, err := client.Dial(ctx, env.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Will of the People", Year: 2022})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}

	// The watch's own Close, from its callback.
	closedSelf := make(chan error, 1)
	var self *client.Watch[client.EntitySnapshot[Album]]
	ready := make(chan struct{})
	self, err = albums.WatchEntity(ctx, m.ID(), func(client.EntitySnapshot[Album]) {
		<-ready
		closedSelf <- self.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	if err := recv(t, closedSelf); err != nil {
		t.Fatal(err)
	}

	byCh, err := albums.WatchEntity(ctx, m.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.WatchQuery(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// The client's Close, from a callback.
	closedClient := make(chan error, 1)
	if _, err := albums.WatchQuery(ctx, func(s client.Snapshot[Album]) { closedClient <- c.Close() }, ""); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, closedClient); err != nil {
		t.Fatal(err)
	}
	if !closedNow(byCh.C()) || !closedNow(lq.Snapshots()) {
		t.Fatal("a watch's channel is open after the client's Close returned")
	}
	if _, err := albums.WatchEntity(ctx, m.ID(), nil); err != client.ErrClosed {
		t.Fatalf("WatchEntity on a closed client: %v", err)
	}
}
