package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/storagetest"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/value"
)

// open opens a store on path and closes it when the test ends.
func open(t testing.TB, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sqlite.Options
	}{
		{"full", sqlite.Options{}},
		{"normal", sqlite.Options{Sync: sqlite.SyncNormal}},
		{"one-reader", sqlite.Options{MaxReaders: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				return open(t, filepath.Join(t.TempDir(), "store.db"), tc.opts)
			})
		})
	}
}

var albums = schema.Collection{Name: "album", Fields: []schema.Field{
	{Name: "name", Type: value.Text}, {Name: "year", Type: value.Int},
}}

func create(coll string, ops map[string]value.Value) event.Event {
	id := event.NewID()
	return event.Event{ID: id, Collection: coll, Entity: id, Ops: ops}
}

func edit(e event.Event, head event.Head, ops map[string]value.Value) event.Event {
	return event.Event{ID: event.NewID(head...), Collection: e.Collection, Entity: e.Entity, Parents: head, Ops: ops}
}

func mustCommit(t testing.TB, s storage.Store, evs ...event.Event) []*entity.State {
	t.Helper()
	st, err := s.Commit(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Everything a commit acknowledged is in the file after Close and Open:
// schema (dynamic fields too), live states, deleted entities' history, and
// merges that need the replayed state of a deleted entity.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "sqlite_stat1"}); err != nil {
		t.Fatal(err) // a name SQLite reserves for its own tables
	}
	a := create("album", map[string]value.Value{"name": value.TextOf("Origin"), "genre": value.TextOf("rock")})
	b := create("album", map[string]value.Value{"name": value.TextOf("Gone")})
	mustCommit(t, s, a, b)
	a2 := edit(a, event.Head{a.ID}, map[string]value.Value{"year": value.IntOf(2001), "rating": value.FloatOf(4.5)})
	del := edit(b, event.Head{b.ID}, nil)
	del.Delete = true
	mustCommit(t, s, a2, del)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the write-ahead log is left after Close: %v", err)
	}

	s = open(t, path, sqlite.Options{})
	colls, err := s.Collections(ctx)
	if err != nil || len(colls) != 2 || colls[0].Name != "album" || colls[1].Name != "sqlite_stat1" {
		t.Fatalf("collections after reopen: %+v %v", colls, err)
	}
	want := map[string]value.Type{"name": value.Text, "year": value.Int, "genre": value.Text, "rating": value.Float}
	if got := colls[0].Map(); len(got) != len(want) {
		t.Fatalf("album fields %v, want %v", got, want)
	}
	for f, typ := range want {
		if got, _ := colls[0].Field(f); got.Type != typ {
			t.Errorf("field %s: %v, want %v", f, got.Type, typ)
		}
	}
	got, err := s.Get(ctx, "album", []event.ID{a.ID, b.ID})
	if err != nil || len(got) != 1 {
		t.Fatalf("get after reopen: %v %v", got, err)
	}
	if !got[0].Head.Equal(event.Head{a2.ID}) || got[0].Get("year").Int() != 2001 || got[0].Get("genre").Text() != "rock" || got[0].Versions["name"] != a.ID {
		t.Fatalf("state after reopen: %+v", got[0])
	}
	hist, err := s.History(ctx, "album", b.ID)
	if err != nil || len(hist) != 2 || !hist[1].Delete {
		t.Fatalf("deleted entity's history after reopen: %v %v", hist, err)
	}
	// An edit made concurrently with the delete still merges into the
	// (replayed) deleted state, which stays deleted.
	late := edit(b, event.Head{b.ID}, map[string]value.Value{"year": value.IntOf(1)})
	states := mustCommit(t, s, late)
	if len(states) != 1 || !states[0].Deleted || !states[0].Head.Equal(event.NewHead(del.ID, late.ID)) {
		t.Fatalf("late edit of a deleted entity: %+v", states)
	}
}

func TestOpenTwice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	s := open(t, path, sqlite.Options{})
	if err := os.Symlink(path, filepath.Join(dir, "link.db")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Join(dir, ".", "store.db"), filepath.Join(dir, "link.db")} {
		if _, err := sqlite.Open(p, sqlite.Options{}); !errors.Is(err, sqlite.ErrAlreadyOpen) {
			t.Errorf("second Open(%s): %v, want ErrAlreadyOpen", p, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Collections(context.Background()); err == nil {
		t.Fatal("a closed store answered")
	}
	open(t, path, sqlite.Options{}) // closed: it may be opened again
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	rawSQL := func(stmts ...string) func(string) error {
		return func(p string) error {
			db, err := sql.Open("sqlite", p)
			if err != nil {
				return err
			}
			defer db.Close()
			for _, q := range stmts {
				if _, err := db.Exec(q); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(path string) error
		want  string // in the error
	}{
		{"garbage", func(p string) error {
			return os.WriteFile(p, []byte("hello, this is not a database file at all....."), 0o600)
		}, "not a database"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "opening"},
		{"another app's database", rawSQL("create table t (x)"), "not an Ankurah store"},
		{"newer layout", func(p string) error {
			s, err := sqlite.Open(p, sqlite.Options{})
			if err != nil {
				return err
			}
			if err := s.Close(); err != nil {
				return err
			}
			return rawSQL("pragma user_version = 3")(p)
		}, "layout version 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := tc.setup(p); err != nil {
				t.Fatal(err)
			}
			s, err := sqlite.Open(p, sqlite.Options{})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if s, err := sqlite.Open(p, sqlite.Options{}); err == nil || errors.Is(err, sqlite.ErrAlreadyOpen) {
				t.Fatalf("a failed Open left the file registered: %v", err)
			} else if s != nil {
				s.Close()
			}
		})
	}
	if _, err := sqlite.Open(filepath.Join(dir, "x.db"), sqlite.Options{Sync: 7}); err == nil {
		t.Fatal("unknown Sync accepted")
	}
}

// A file of layout version 1 (events without an author) is upgraded in
// place when opened: its events keep their content and read with no author,
// and new events record theirs.
func TestOpenUpgradesLayout1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	s := open(t, path, sqlite.Options{})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	a := create("album", map[string]value.Value{"name": value.TextOf("Showbiz")})
	mustCommit(t, s, a)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Make it a layout 1 file: no author column.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"alter table _ankurah_events drop column author", "pragma user_version = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s = open(t, path, sqlite.Options{})
	b := create("album", map[string]value.Value{"name": value.TextOf("Absolution")})
	b.Author = "bob"
	mustCommit(t, s, b)
	evs, err := s.Events(ctx, []event.ID{a.ID, b.ID})
	if err != nil || len(evs) != 2 || evs[0].Author != "" || evs[1].Author != "bob" || evs[0].Ops["name"].Text() != "Showbiz" {
		t.Fatalf("events after the upgrade: %+v %v", evs, err)
	}
	var version int
	if err := s.DB().QueryRowContext(ctx, "pragma user_version").Scan(&version); err != nil || version != 2 {
		t.Fatalf("user_version %d %v", version, err)
	}
}

// DB gives plain SQL over the file, read-only.
func TestDB(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	a := create("album", map[string]value.Value{"name": value.TextOf("Showbiz"), "year": value.IntOf(1999)})
	mustCommit(t, s, a)
	var name string
	var year int64
	if err := s.DB().QueryRowContext(ctx, "select name, year from album where id = ?", a.ID.String()).Scan(&name, &year); err != nil || name != "Showbiz" || year != 1999 {
		t.Fatalf("select: %q %d %v", name, year, err)
	}
	if _, err := s.DB().ExecContext(ctx, "delete from album"); err == nil {
		t.Fatal("DB() wrote")
	}
}

// Close releases every connection and goroutine.
func TestCloseReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		s, err := sqlite.Open(filepath.Join(dir, "store.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := s.EnsureCollection(ctx, albums); err != nil {
			t.Fatal(err)
		}
		c := create("album", map[string]value.Value{"name": value.TextOf("x")})
		mustCommit(t, s, c)
		if err := s.Scan(ctx, "album", func(*entity.State) bool { return true }); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// Another process may write the file while this one has it open: commits
// wait for each other through SQLite's lock, and each side sees the other's
// new fields. The other process is this test binary, re-run as a helper.
func TestAnotherProcess(t *testing.T) {
	if os.Getenv("ANKURAH_SQLITE_HELPER") != "" {
		t.Skip("helper run")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, sqlite.Options{})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	a := create("album", map[string]value.Value{"name": value.TextOf("mine")})
	mustCommit(t, s, a)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "ANKURAH_SQLITE_HELPER="+path, "ANKURAH_SQLITE_ENTITY="+a.ID.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}

	// The helper added the field "label" and a collection; this store
	// reads them and can write the new field.
	got, err := s.Get(ctx, "album", []event.ID{a.ID})
	if err != nil || len(got) != 1 || got[0].Get("label").Text() != "theirs" {
		t.Fatalf("after the helper: %+v %v", got, err)
	}
	e := edit(a, got[0].Head, map[string]value.Value{"label": value.TextOf("mine again")})
	mustCommit(t, s, e)
	if c, err := s.Collection(ctx, "artist"); err != nil || len(c.Fields) != 1 {
		t.Fatalf("helper's collection: %+v %v", c, err)
	}
	hist, err := s.History(ctx, "album", a.ID)
	if err != nil || len(hist) != 3 || hist[1].Ops["label"].Text() != "theirs" {
		t.Fatalf("history: %v %v", hist, err)
	}
}

// TestHelperProcess is the other process of TestAnotherProcess.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("ANKURAH_SQLITE_HELPER")
	if path == "" {
		t.Skip("run by TestAnotherProcess")
	}
	ctx := context.Background()
	s := open(t, path, sqlite.Options{})
	id := event.MustParseID(os.Getenv("ANKURAH_SQLITE_ENTITY"))
	got, err := s.Get(ctx, "album", []event.ID{id})
	if err != nil || len(got) != 1 {
		t.Fatalf("helper get: %v %v", got, err)
	}
	a := event.Event{ID: id, Collection: "album", Entity: id}
	mustCommit(t, s, edit(a, got[0].Head, map[string]value.Value{"label": value.TextOf("theirs")}))
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "artist", Fields: []schema.Field{{Name: "name", Type: value.Text}}}); err != nil {
		t.Fatal(err)
	}
}

// Readers racing with commits that add fields always see whole states: a
// field in Versions has its value (none of them is ever unset here), even
// in the moment between a commit and the catalog update that follows it.
func TestReadersDuringSchemaChanges(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	a := create("album", map[string]value.Value{"name": value.TextOf("x")})
	head := mustCommit(t, s, a)[0].Head
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < cap(errs); r++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				got, err := s.Get(ctx, "album", []event.ID{a.ID})
				if err == nil && len(got) != 1 {
					err = errors.New("entity missing")
				}
				if err == nil {
					for f := range got[0].Versions {
						if _, ok := got[0].Values[f]; !ok {
							err = errors.New("field " + f + " written but missing")
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 60; i++ {
		e := edit(a, head, map[string]value.Value{"f" + strconv.Itoa(i): value.IntOf(int64(i))})
		head = mustCommit(t, s, e)[0].Head
	}
	close(done)
	for r := 0; r < cap(errs); r++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The file is a plain SQLite database: its owner may add indexes and
// triggers. A row they refuse fails the whole commit with the code the
// Postgres adapter gives, and leaves nothing behind.
func TestOwnerConstraints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, sqlite.Options{})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, create("album", map[string]value.Value{"name": value.TextOf("taken")}))
	owner, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	for _, ddl := range []string{
		`create unique index album_name on album (name)`,
		`create trigger album_year before insert on album when new.year = 13 begin select raise(abort, 'unlucky'); end`,
	} {
		if _, err := owner.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		ops  map[string]value.Value
		code string
	}{
		{"unique", map[string]value.Value{"name": value.TextOf("taken")}, storage.CodeConflict},
		{"trigger", map[string]value.Value{"year": value.IntOf(13)}, storage.CodeConstraint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := create("album", map[string]value.Value{"name": value.TextOf("fine"), "label": value.TextOf("new field")})
			bad := create("album", tc.ops)
			_, err := s.Commit(ctx, []event.Event{ok, bad})
			if storage.CodeOf(err) != tc.code {
				t.Fatalf("commit: %v, want code %s", err, tc.code)
			}
			if got, err := s.Get(ctx, "album", []event.ID{ok.ID, bad.ID}); err != nil || len(got) != 0 {
				t.Fatalf("a refused commit left states: %v %v", got, err)
			}
			if evs, err := s.Events(ctx, []event.ID{ok.ID, bad.ID}); err != nil || len(evs) != 0 {
				t.Fatalf("a refused commit left events: %v %v", evs, err)
			}
			if c, err := s.Collection(ctx, "album"); err != nil || len(c.Fields) != 2 {
				t.Fatalf("a refused commit left fields: %+v %v", c, err)
			}
		})
	}
}

// A commit waits BusyTimeout for another writer of the file (another
// process, or here a plain connection), then fails with conflict and
// leaves the store usable.
func TestLockedByAnotherWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "begin immediate"); err != nil {
		t.Fatal(err)
	}
	c := create("album", map[string]value.Value{"name": value.TextOf("x")})
	if _, err := s.Commit(ctx, []event.Event{c}); storage.CodeOf(err) != storage.CodeConflict {
		t.Fatalf("commit while another writer holds the file: %v, want conflict", err)
	}
	if _, err := conn.ExecContext(ctx, "rollback"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, c)
}
