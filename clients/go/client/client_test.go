package client_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// The seed's quick example, on every backend: a client subscribes, the
// server creates in a transaction, the client's callback receives the
// change with the album's name and the event that caused it.
func TestQuickExample(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			env := servertest.Start(t, kind, servertest.Options{})
			srv, srvAlbums := serverAlbums(t, env)

			c := dial(t, env.URL, client.Options{})
			albums, err := client.Register[Album](ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan client.ChangeSet[Album], 16)
			lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) { got <- cs }, "name = 'Origin of Symmetry'")
			if err != nil {
				t.Fatal(err)
			}
			if cs := recv(t, got); !cs.Initial || !cs.Synced || len(cs.Items) != 0 {
				t.Fatalf("initial change set: %v (initial %v, synced %v)", cs, cs.Initial, cs.Synced)
			}

			tx := srv.Begin()
			created, err := srvAlbums.Create(tx, Album{Name: "Origin of Symmetry", Year: 2001})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srvAlbums.Create(tx, Album{Name: "Showbiz", Year: 1999}); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			cs := recv(t, got)
			if len(cs.Items) != 1 || cs.Items[0].Kind != client.Add {
				t.Fatalf("change set %v, want one add", cs)
			}
			it := cs.Items[0]
			if it.Entity.ID() != created.ID() || it.Entity.Value().Name != "Origin of Symmetry" || it.Entity.Value().Year != 2001 {
				t.Fatalf("item %v", cs)
			}
			if len(it.Events) != 1 || it.Events[0].ID != created.ID() {
				t.Fatalf("events of the add: %v", it.Events)
			}
			if res := lq.Results(); len(res) != 1 || res[0].ID() != created.ID() {
				t.Fatalf("results %v", res)
			}
		})
	}
}

// A local commit is visible at once — in reads and in the client's own
// live queries — and then confirmed by the server.
func TestOptimisticCommit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	c := dial(t, env.URL, client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "year >= 2000 ORDER BY year")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); !cs.Initial {
		t.Fatalf("first change set %v", cs)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Absolution", Year: 2003})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The local notification carries the local event.
	cs := recv(t, lq.Changes())
	if len(cs.Items) != 1 || cs.Items[0].Kind != client.Add || cs.Items[0].Entity.ID() != m.ID() || len(cs.Items[0].Events) != 1 {
		t.Fatalf("local change set %v", cs)
	}
	v, err := albums.Get(ctx, m.ID())
	if err != nil || v.Value().Name != "Absolution" {
		t.Fatalf("get after local commit: %v %v", v, err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := env.Store.Get(ctx, "album", []event.ID{m.ID()}); err != nil || len(got) != 1 {
		t.Fatalf("server state after sync: %v %v", got, err)
	}
	// Confirmation changes nothing the application sees.
	select {
	case cs := <-lq.Changes():
		t.Fatalf("unexpected change set after confirmation: %v", cs)
	default:
	}
	// A commit with Confirmed waits for the server.
	tx = c.Begin()
	e, err := albums.Edit(ctx, tx, m.ID())
	if err != nil {
		t.Fatal(err)
	}
	e.Value().Year = 2004
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}
	got, err := env.Store.Get(ctx, "album", []event.ID{m.ID()})
	if err != nil || len(got) != 1 || got[0].Get("year").Int() != 2004 {
		t.Fatalf("server state after a confirmed commit: %v %v", got, err)
	}
	if cs := recv(t, lq.Changes()); len(cs.Items) != 1 || cs.Items[0].Kind != client.Update || cs.Items[0].Entity.Value().Year != 2004 {
		t.Fatalf("update change set %v", cs)
	}
}

// A commit the server refuses is rolled back locally, and reported.
func TestRejectedCommitRollsBack(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	p := newProxy(t, env.Addr)
	rejected := make(chan *client.RejectedError, 4)
	a := dial(t, p.URL(), client.Options{OnRejected: func(r *client.RejectedError) { rejected <- r }})
	b := dial(t, env.URL, client.Options{})
	aAlbums, err := client.Register[Album](ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	bAlbums, err := client.Register[Album](ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	tx := a.Begin()
	m, err := aAlbums.Create(tx, Album{Name: "Drones", Year: 2015})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}
	lq, err := aAlbums.Subscribe(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, lq.Changes())

	// Offline, a writes field rating as text; meanwhile b makes it a number.
	p.Block()
	eventually(t, "a to notice the disconnection", func() bool { return !a.Connected() })
	tx = a.Begin()
	ent, err := tx.Edit(ctx, "album", m.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := ent.Set("rating", value.TextOf("five stars")); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); len(cs.Items) != 1 || cs.Items[0].Entity.Field("rating").Text() != "five stars" {
		t.Fatalf("optimistic change set %v", cs)
	}
	tx = b.Begin()
	if _, err := bAlbums.Create(tx, Album{Name: "Simulation Theory", Year: 2018}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Create("album", map[string]value.Value{"name": value.TextOf("Will of the People"), "rating": value.IntOf(4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}

	p.Unblock()
	r := recv(t, rejected)
	var perr *protocol.Error
	if !errors.As(r, &perr) || perr.Code != storage.CodeTypeMismatch || len(r.Events) != 1 {
		t.Fatalf("rejection %v", r)
	}
	// The resubscription brings b's albums; the rollback restores a's.
	for rolledBack := false; !rolledBack; {
		cs := recv(t, lq.Changes())
		for _, it := range cs.Items {
			if it.Entity.ID() == m.ID() {
				if it.Kind != client.Update || !it.Entity.Field("rating").IsNull() {
					t.Fatalf("rollback change set %v", cs)
				}
				rolledBack = true
			}
		}
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// Commits made while disconnected are queued, visible locally, and sent in
// order after reconnecting; the live queries resubscribe with their heads.
func TestOfflineQueue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.SQLite, servertest.Options{})
	srv, srvAlbums := serverAlbums(t, env)
	p := newProxy(t, env.Addr)
	c := dial(t, p.URL(), client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var ids []event.ID
	tx := srv.Begin()
	for i := range 5 {
		m, err := srvAlbums.Create(tx, Album{Name: fmt.Sprintf("album %d", i), Year: int64(2000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID())
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "ORDER BY year")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); len(cs.Items) != 5 {
		t.Fatalf("initial %v", cs)
	}

	p.Block()
	eventually(t, "the disconnection", func() bool { return !c.Connected() })
	if lq.Synced() {
		t.Fatal("a live query of a disconnected client says it is synced")
	}
	// Offline: three transactions in order, one depending on the other.
	for i, year := range []int64{1990, 1991, 1992} {
		tx := c.Begin()
		m, err := albums.Edit(ctx, tx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		m.Value().Year = year
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx = c.Begin()
	m, err := albums.Edit(ctx, tx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	m.Value().Name = "renamed offline"
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.Pending(); n != 4 {
		t.Fatalf("%d pending, want 4", n)
	}
	if res := lq.Results(); res[0].Value().Name != "renamed offline" || res[0].Value().Year != 1990 {
		t.Fatalf("offline results %v", res[0].Value())
	}
	// Meanwhile the server changes another album.
	tx = srv.Begin()
	e, err := srvAlbums.Edit(ctx, tx, ids[4])
	if err != nil {
		t.Fatal(err)
	}
	e.Value().Name = "changed on the server"
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	p.Unblock()
	if err := lq.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server's change to reach the client", func() bool {
		res := lq.Results()
		return len(res) == 5 && res[4].Value().Name == "changed on the server"
	})
	got, err := env.Store.Get(ctx, "album", ids[:3])
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Get("name").Text() != "renamed offline" || got[0].Get("year").Int() != 1990 || got[2].Get("year").Int() != 1992 {
		t.Fatalf("server states %v %v", got[0].Values, got[2].Values)
	}
	for _, st := range got {
		v, err := albums.Get(ctx, st.ID)
		if err != nil || !v.Head().Equal(st.Head) {
			t.Fatalf("client head %v, server %v (%v)", v.Head(), st.Head, err)
		}
	}
}

// With a cache file, the queue and the cache survive a restart of the
// client, even one that never reached the server before restarting.
func TestCacheFileSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	_, srvAlbums := serverAlbums(t, env)
	file := filepath.Join(t.TempDir(), "cache.jsonl")
	p := newProxy(t, env.Addr)
	opts := client.Options{CacheFile: file, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

	// First run: online, load a live query, then go offline and commit.
	c := dial(t, p.URL(), opts)
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Begin()
	first, err := albums.Create(tx, Album{Name: "Black Holes and Revelations", Year: 2006})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	recv(t, lq.Changes())
	p.Block()
	eventually(t, "the disconnection", func() bool { return !c.Connected() })
	tx = c.Begin()
	second, err := albums.Create(tx, Album{Name: "The Resistance", Year: 2009})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Second run, still offline: the cache answers, the queue is kept.
	c2, err := client.Open(p.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	albums2, err := client.Register[Album](ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if n := c2.Pending(); n != 2 { // the commit and the registration
		t.Fatalf("%d pending after restart, want 2", n)
	}
	for _, id := range []event.ID{first.ID(), second.ID()} {
		if _, err := albums2.Get(ctx, id); err != nil {
			t.Fatalf("offline get of %s after restart: %v", id, err)
		}
	}
	lq2, err := albums2.Subscribe(ctx, nil, "ORDER BY year")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq2.Changes()); !cs.Initial || cs.Synced || len(cs.Items) != 2 {
		t.Fatalf("cached initial set %v (synced %v)", cs, cs.Synced)
	}
	// Back online: the queue reaches the server.
	p.Unblock()
	if err := c2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lq2.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := srvAlbums.Get(ctx, second.ID()); err != nil || got.Value().Name != "The Resistance" {
		t.Fatalf("server after restart and reconnect: %v %v", got, err)
	}
}

// Changing a live query's selection reports the entities that enter and
// leave: pagination by LIMIT and by a cursor predicate.
func TestUpdateSelection(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	srv, srvAlbums := serverAlbums(t, env)
	tx := srv.Begin()
	for i := range 10 {
		if _, err := srvAlbums.Create(tx, Album{Name: fmt.Sprintf("a%d", i), Year: int64(2000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	c := dial(t, env.URL, client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "year >= ? ORDER BY year LIMIT ?", 2000, 3)
	if err != nil {
		t.Fatal(err)
	}
	years := func(cs client.ChangeSet[Album], kind client.Kind) []int64 {
		var out []int64
		for _, it := range cs.Items {
			if it.Kind == kind {
				out = append(out, it.Entity.Value().Year)
			}
		}
		return out
	}
	if cs := recv(t, lq.Changes()); fmt.Sprint(years(cs, client.Initial)) != "[2000 2001 2002]" {
		t.Fatalf("initial %v", cs)
	}
	for _, tc := range []struct {
		query        string
		args         []any
		added, moved string
	}{
		{"year >= ? ORDER BY year LIMIT ?", []any{2000, 5}, "[2003 2004]", "[]"},
		{"year > ? ORDER BY year LIMIT ?", []any{2004, 5}, "[2005 2006 2007 2008 2009]", "[2000 2001 2002 2003 2004]"},
		{"year > ? ORDER BY year LIMIT ?", []any{2007, 5}, "[]", "[2005 2006 2007]"},
	} {
		if err := lq.Update(ctx, tc.query, tc.args...); err != nil {
			t.Fatal(err)
		}
		cs := recv(t, lq.Changes())
		if a, r := fmt.Sprint(years(cs, client.Add)), fmt.Sprint(years(cs, client.Remove)); a != tc.added || r != tc.moved {
			t.Fatalf("%s %v: added %s removed %s, want %s and %s", tc.query, tc.args, a, r, tc.added, tc.moved)
		}
	}
	if res := lq.Results(); len(res) != 2 || res[0].Value().Year != 2008 {
		t.Fatalf("results %v", res)
	}
}

// Fetch and Get see the server's data and this client's unconfirmed
// changes; offline they answer from the cache.
func TestReadsMergeLocalChanges(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	srv, srvAlbums := serverAlbums(t, env)
	tx := srv.Begin()
	for i := range 6 {
		if _, err := srvAlbums.Create(tx, Album{Name: fmt.Sprintf("a%d", i), Year: int64(2000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, env.Addr)
	c := dial(t, p.URL(), client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	top, err := albums.Fetch(ctx, "ORDER BY year DESC LIMIT 2")
	if err != nil || len(top) != 2 || top[0].Value().Year != 2005 {
		t.Fatalf("fetch: %v %v", top, err)
	}
	// Offline, move the newest album far back: the fetch must still fill
	// its LIMIT, from the server, once back online.
	p.Block()
	eventually(t, "the disconnection", func() bool { return !c.Connected() })
	tx = c.Begin()
	m, err := albums.Edit(ctx, tx, top[0].ID())
	if err != nil {
		t.Fatal(err)
	}
	m.Value().Year = 1900
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	offline, err := albums.Fetch(ctx, "ORDER BY year LIMIT 1")
	if err != nil || len(offline) != 1 || offline[0].Value().Year != 1900 {
		t.Fatalf("offline fetch: %v %v", offline, err)
	}
	p.Unblock()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	// Still unconfirmed or not, the client's view has the edit.
	top, err = albums.Fetch(ctx, "ORDER BY year DESC LIMIT 2")
	if err != nil || len(top) != 2 || top[0].Value().Year != 2004 || top[1].Value().Year != 2003 {
		t.Fatalf("fetch after the local edit: %v %v", top, err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	hist, err := c.Node().History(ctx, "album", m.ID())
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %v %v", hist, err)
	}
	// A deletion made elsewhere: Get stops finding the entity.
	tx = srv.Begin()
	if err := srvAlbums.Delete(ctx, tx, m.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := albums.Get(ctx, m.ID()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get of a deleted entity: %v", err)
	}
}

// Close ends every goroutine the client started.
func TestCloseEndsEverything(t *testing.T) {
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
	for range 3 {
		if _, err := albums.Subscribe(ctx, func(client.ChangeSet[Album]) {}, ""); err != nil {
			t.Fatal(err)
		}
	}
	lq, err := albums.Subscribe(ctx, nil, "year > 1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The channel of a live query closes with the client.
	for range lq.Changes() {
	}
	tx := c.Begin()
	if _, err := albums.Create(tx, Album{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("commit on a closed client: %v", err)
	}
}

func TestDialFailsFast(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, "ws://127.0.0.1:1/ws", client.Options{}); err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
}

// Delete and Rollback, as on a server-side node: a local deletion leaves the
// live query at once and reaches the server; a rolled-back transaction
// changes nothing, here or there.
func TestDeleteAndRollback(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	c := dial(t, env.URL, client.Options{})
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Hullabaloo", Year: 2002})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); len(cs.Items) != 1 {
		t.Fatalf("initial %v", cs)
	}

	tx = c.Begin()
	e, err := albums.Edit(ctx, tx, m.ID())
	if err != nil {
		t.Fatal(err)
	}
	e.Value().Name = "never"
	tx.Rollback()
	if _, err := tx.Commit(ctx); err == nil {
		t.Fatal("commit after rollback succeeded")
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("%d pending after a rollback", n)
	}
	if v, err := albums.Get(ctx, m.ID()); err != nil || v.Value().Name != "Hullabaloo" {
		t.Fatalf("after rollback: %v %v", v, err)
	}

	tx = c.Begin()
	if err := albums.Delete(ctx, tx, m.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The change set of the local deletion, at once.
	cs := recv(t, lq.Changes())
	if len(cs.Items) != 1 || cs.Items[0].Kind != client.Remove || !cs.Items[0].Deleted || cs.Items[0].Entity.ID() != m.ID() {
		t.Fatalf("change set of the deletion %v", cs)
	}
	if len(lq.Results()) != 0 {
		t.Fatalf("results after deletion %v", lq.Results())
	}
	if _, err := albums.Get(ctx, m.ID()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get after deletion: %v", err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := env.Store.Get(ctx, "album", []event.ID{m.ID()}); err != nil || len(got) != 0 {
		t.Fatalf("the server still has the album: %v %v", got, err)
	}
	hist, err := c.Node().History(ctx, "album", m.ID())
	if err != nil || len(hist) != 2 || !hist[1].Delete {
		t.Fatalf("history %v %v", hist, err)
	}
	// Confirmation changes nothing the application sees.
	select {
	case cs := <-lq.Changes():
		t.Fatalf("unexpected change set %v", cs)
	default:
	}
}
