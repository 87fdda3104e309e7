package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/value"
)

type Artist struct {
	Name string
}

type Album struct {
	ID          event.ID // filled with the entity id
	Name        string
	ReleaseYear int64
	Rating      *float64
	Live        bool
	Cover       []byte
	Released    time.Time
	Licensing   json.RawMessage
	Tags        []string
	Artist      schema.Ref[Artist]
	Internal    string `ankurah:"-"`
	Label       string `ankurah:"record_label"`
}

// stores runs a test against each adapter.
func stores(t *testing.T, fn func(t *testing.T, n *node.Node)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, node.New(memory.New()))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.Pool(t, pgtest.NewDatabase(t))
		fn(t, node.New(postgres.New(pool, postgres.Options{})))
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		store, err := sqlite.Open(filepath.Join(t.TempDir(), "ankurah.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		fn(t, node.New(store))
	})
}

func register(t *testing.T, n *node.Node) (*node.Collection[Album], *node.Collection[Artist]) {
	t.Helper()
	ctx := context.Background()
	albums, err := node.Register[Album](ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	artists, err := node.Register[Artist](ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return albums, artists
}

func TestModelSchema(t *testing.T) {
	t.Parallel()
	m, err := schema.ModelOf(reflectType[Album]())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]value.Type{
		"name": value.Text, "release_year": value.Int, "rating": value.Float, "live": value.Bool,
		"cover": value.Bytes, "released": value.Time, "licensing": value.JSON, "tags": value.JSON,
		"artist": value.Ref, "record_label": value.Text,
	}
	got := m.Collection.Map()
	if m.Collection.Name != "album" || len(got) != len(want) {
		t.Fatalf("schema %+v", m.Collection)
	}
	for k, typ := range want {
		if got[k] != typ {
			t.Errorf("%s: %v, want %v", k, got[k], typ)
		}
	}
}

func TestTypedRoundTrip(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, artists := register(t, n)
		tx := n.Begin()
		muse, err := artists.Create(tx, Artist{Name: "Muse"})
		if err != nil {
			t.Fatal(err)
		}
		rating := 4.5
		in := Album{
			Name: "Origin of Symmetry", ReleaseYear: 2001, Rating: &rating, Live: false,
			Cover: []byte{1, 2, 3}, Released: time.Date(2001, 6, 18, 0, 0, 0, 0, time.UTC),
			Licensing: json.RawMessage(`{"territory":"US"}`), Tags: []string{"rock", "space"},
			Artist: schema.RefTo[Artist](muse.ID()), Internal: "not stored", Label: "Mushroom",
		}
		m, err := albums.Create(tx, in)
		if err != nil {
			t.Fatal(err)
		}
		id := m.ID() // known before commit
		if id.IsZero() {
			t.Fatal("no id before commit")
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := albums.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := v.Value()
		in.ID, in.Internal = id, ""
		if got.Name != in.Name || got.ReleaseYear != 2001 || *got.Rating != 4.5 || got.Live ||
			!slices.Equal(got.Cover, in.Cover) || !got.Released.Equal(in.Released) ||
			string(got.Licensing) != `{"territory":"US"}` || !slices.Equal(got.Tags, in.Tags) ||
			got.Artist.ID != muse.ID() || got.Label != "Mushroom" || got.ID != id || got.Internal != "" {
			t.Fatalf("got %+v\nwant %+v", got, in)
		}
		if !v.Head().Equal(event.Head{id}) {
			t.Fatalf("head %v", v.Head())
		}
	})
}

func TestEditProducesOnlyChangedFields(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, _ := register(t, n)
		tx := n.Begin()
		m, _ := albums.Create(tx, Album{Name: "Showbiz", ReleaseYear: 1998})
		id := m.ID()
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tx = n.Begin()
		m, err := albums.Edit(ctx, tx, id)
		if err != nil {
			t.Fatal(err)
		}
		m.Value().ReleaseYear = 1999
		if err := m.Entity().Set("genre", value.TextOf("alt rock")); err != nil { // a field Album lacks
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		hist, err := n.History(ctx, "album", id)
		if err != nil || len(hist) != 2 {
			t.Fatalf("history %v %v", hist, err)
		}
		ops := hist[1].Ops
		if len(ops) != 2 || ops["release_year"].Int() != 1999 || ops["genre"].Text() != "alt rock" {
			t.Fatalf("edit ops %v", ops)
		}
		if !hist[1].Parents.Equal(event.Head{id}) {
			t.Fatalf("parents %v", hist[1].Parents)
		}
		v, _ := albums.Get(ctx, id)
		if v.Value().ReleaseYear != 1999 || v.Field("genre").Text() != "alt rock" || v.Value().Name != "Showbiz" {
			t.Fatalf("after edit: %+v genre=%v", v.Value(), v.Field("genre"))
		}
		// An edit that changes nothing commits no event.
		tx = n.Begin()
		if _, err := albums.Edit(ctx, tx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if hist, _ := n.History(ctx, "album", id); len(hist) != 2 {
			t.Fatalf("no-op edit recorded an event: %d", len(hist))
		}
	})
}

// Two transactions forked from the same head both commit and merge; each
// read its own stable snapshot.
func TestForkedTransactionsMerge(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, _ := register(t, n)
		tx := n.Begin()
		m, _ := albums.Create(tx, Album{Name: "Absolution", ReleaseYear: 2003})
		id := m.ID()
		tx.Commit(ctx)

		a, b := n.Begin(), n.Begin()
		ma, _ := albums.Edit(ctx, a, id)
		mb, _ := albums.Edit(ctx, b, id)
		ma.Value().Name = "Absolution (a)"
		ma.Value().Live = true
		mb.Value().Name = "Absolution (b)"
		mb.Value().Label = "Taste"
		if _, err := a.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// b still sees its snapshot, not a's commit.
		again, _ := albums.Edit(ctx, b, id)
		if again.Value().Live || again.Value().Name != "Absolution (b)" {
			t.Fatalf("snapshot not stable: %+v", again.Value())
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		v, _ := albums.Get(ctx, id)
		got := v.Value()
		// Both forks' distinct fields survive; name goes to the larger event id (b's, made later).
		if got.Name != "Absolution (b)" || !got.Live || got.Label != "Taste" || len(v.Head()) != 2 {
			t.Fatalf("merged: %+v head %v", got, v.Head())
		}
	})
}

func TestDeleteAndRollback(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, _ := register(t, n)
		tx := n.Begin()
		m, _ := albums.Create(tx, Album{Name: "Drones"})
		id := m.ID()
		tx.Commit(ctx)

		tx = n.Begin()
		mm, _ := albums.Edit(ctx, tx, id)
		mm.Value().Name = "never"
		tx.Rollback()
		if _, err := tx.Commit(ctx); !errors.Is(err, node.ErrTxDone) {
			t.Fatalf("commit after rollback: %v", err)
		}
		if v, _ := albums.Get(ctx, id); v.Value().Name != "Drones" {
			t.Fatal("rolled back edit is visible")
		}

		tx = n.Begin()
		if err := albums.Delete(ctx, tx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := albums.Get(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		hist, _ := n.History(ctx, "album", id)
		if len(hist) != 2 || !hist[1].Delete {
			t.Fatalf("history after delete: %+v", hist)
		}

		// Created and deleted in one transaction: nothing at all.
		tx = n.Begin()
		tmp, _ := albums.Create(tx, Album{Name: "tmp"})
		if err := albums.Delete(ctx, tx, tmp.ID()); err != nil {
			t.Fatal(err)
		}
		tx.Commit(ctx)
		if hist, _ := n.History(ctx, "album", tmp.ID()); len(hist) != 0 {
			t.Fatalf("created+deleted left history %v", hist)
		}
	})
}

// A multi-entity commit that fails midway leaves nothing behind.
func TestFailedCommitLeavesNothing(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, _ := register(t, n)
		tx := n.Begin()
		keep, _ := albums.Create(tx, Album{Name: "Simulation Theory"})
		tx.Commit(ctx)

		tx = n.Begin()
		fresh, _ := albums.Create(tx, Album{Name: "new"})
		ed, _ := albums.Edit(ctx, tx, keep.ID())
		ed.Value().Name = "changed"
		bad, _ := tx.Create("album", nil)
		bad.Set("release_year", value.TextOf("not a number")) // wrong type for a bigint field
		if _, err := tx.Commit(ctx); !errors.Is(err, storage.ErrTypeMismatch) {
			t.Fatalf("want a type mismatch, got %v", err)
		}
		if _, err := albums.Get(ctx, fresh.ID()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("created entity of a failed commit exists: %v", err)
		}
		if v, _ := albums.Get(ctx, keep.ID()); v.Value().Name != "Simulation Theory" {
			t.Fatal("edit of a failed commit is visible")
		}
		if hist, _ := n.History(ctx, "album", keep.ID()); len(hist) != 1 {
			t.Fatalf("failed commit left events: %v", hist)
		}
	})
}

func reflectType[T any]() reflect.Type { return reflect.TypeFor[T]() }
