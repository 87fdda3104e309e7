package postgres_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/yjs"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// SQL writes of a ytext field become Yjs edits (sql/text.sql) that merge
// with edits made through the API, concurrent ones included.

type textFixture struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	node  *node.Node
}

func newTextFixture(t *testing.T) *textFixture {
	t.Helper()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	if _, err := pool.Exec(context.Background(), `select ankurah.create_collection('note', '{"title":"text","body":"ytext"}')`); err != nil {
		t.Fatal(err)
	}
	store := postgres.New(pool, postgres.Options{})
	return &textFixture{pool: pool, store: store, node: node.New(store)}
}

func (f *textFixture) get(t *testing.T, id event.ID) *entity.State {
	t.Helper()
	got, err := f.store.Get(context.Background(), "note", []event.ID{id})
	if err != nil || len(got) != 1 {
		t.Fatalf("get %s: %v %v", id, got, err)
	}
	return got[0]
}

// create makes a note through the API whose body is text.
func (f *textFixture) create(t *testing.T, text string) event.ID {
	t.Helper()
	tx := f.node.Begin()
	e, err := tx.Create("note", map[string]value.Value{"title": value.TextOf("t")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.InsertText("body", 0, text); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e.ID()
}

// check compares the column, the state's value, the stored document, the
// replayed history and the runs SQL keeps with each other and with want.
func (f *textFixture) check(t *testing.T, id event.ID, want string) {
	t.Helper()
	ctx := context.Background()
	var column *string
	var runs []int64
	var updates int
	if err := f.pool.QueryRow(ctx, `select n.body, y.runs, coalesce(cardinality(y.updates), 0) from note n
		left join ankurah.ytext y on y.collection = 'note' and y.entity_id = n.id and y.field = 'body' where n.id = $1`, id.String()).Scan(&column, &runs, &updates); err != nil {
		t.Fatal(err)
	}
	if column == nil || *column != want {
		t.Fatalf("column %v, want %q", column, want)
	}
	st := f.get(t, id)
	if st.Get("body").Text() != want {
		t.Fatalf("state %q, want %q", st.Get("body").Text(), want)
	}
	d, err := yjs.Load(st.Docs["body"], yjs.Options{})
	if err != nil || d.Text() != want || d.Pending() {
		t.Fatalf("document: %v %q pending %v, want %q", err, d.Text(), d.Pending(), want)
	}
	var flat []int64
	for _, r := range d.Runs() {
		flat = append(flat, int64(r.Client), int64(r.Clock), int64(r.Len))
	}
	if !slices.Equal(flat, runs) {
		t.Fatalf("runs kept for SQL %v, the document's %v (%d updates appended)", runs, flat, updates)
	}
	hist, err := f.store.History(ctx, "note", id)
	if err != nil {
		t.Fatal(err)
	}
	replayed, _, err := entity.Replay("note", id, hist)
	if err != nil || replayed.Get("body").Text() != want || !replayed.Head.Equal(st.Head) {
		t.Fatalf("replay: %v %q head %v, row head %v", err, replayed.Get("body").Text(), replayed.Head, st.Head)
	}
}

func (f *textFixture) sql(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// edit runs fn on the note's latest state in a transaction, and commits.
func (f *textFixture) edit(t *testing.T, id event.ID, fn func(e *node.Entity) error) {
	t.Helper()
	ctx := context.Background()
	tx := f.node.Begin()
	e, err := tx.Edit(ctx, "note", id)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(e); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// editFrom makes an edit of base (an earlier state: a replica that has not
// seen what came since) and commits it as that replica would.
func (f *textFixture) editFrom(t *testing.T, base *entity.State, fn func(ed *ytext.Editor) error) {
	t.Helper()
	ed, err := ytext.NewEditor(base.Docs["body"])
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(ed); err != nil {
		t.Fatal(err)
	}
	u, err := ed.Update()
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{ID: event.NewID(base.Head...), Collection: "note", Entity: base.ID, Parents: base.Head,
		Ops: map[string]value.Value{"body": value.YUpdateOf(u)}}
	if _, err := f.store.Commit(context.Background(), []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
}

func TestSQLEditsOfText(t *testing.T) {
	t.Parallel()
	f := newTextFixture(t)
	ctx := context.Background()

	// Created through the API; edited with SQL.
	id := f.create(t, "Hello world")
	f.check(t, id, "Hello world")
	stale := f.get(t, id) // an editor that goes on editing from here, offline

	f.sql(t, `update note set body = 'Hello, wide world' where id = $1`, id.String())
	f.check(t, id, "Hello, wide world")
	hist := f.store
	evs, _ := hist.History(ctx, "note", id)
	if last := evs[len(evs)-1]; last.Ops["body"].Type() != value.YUpdate || len(last.Ops) != 1 {
		t.Fatalf("the SQL event's operations: %v", last.Ops)
	}
	var origin string
	f.pool.QueryRow(ctx, `select origin from ankurah.events where id = $1`, evs[len(evs)-1].ID.String()).Scan(&origin)
	if origin != "sql" {
		t.Fatalf("origin %q", origin)
	}

	// An edit made concurrently with the SQL one, from before it, merges.
	f.editFrom(t, stale, func(ed *ytext.Editor) error { return ed.Insert(11, "!") })
	f.check(t, id, "Hello, wide world!")

	// SQL again, on the document Go rewrote; then SQL twice in a row.
	f.sql(t, `update note set body = replace(body, 'wide', 'big') where id = $1`, id.String())
	f.check(t, id, "Hello, big world!")
	f.sql(t, `update note set body = body || ' 😀 ok' where id = $1`, id.String())
	f.check(t, id, "Hello, big world! 😀 ok")
	f.edit(t, id, func(e *node.Entity) error { return e.DeleteText("body", 0, 7) })
	f.check(t, id, "big world! 😀 ok")

	// A SQL INSERT makes the document; NULL is refused; a deletion drops it.
	var sid string
	if err := f.pool.QueryRow(ctx, `insert into note (title, body) values ('s', 'é😀x') returning id`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	f.check(t, event.MustParseID(sid), "é😀x")
	f.sql(t, `update note set body = 'é😀yx' where id = $1`, sid)
	f.check(t, event.MustParseID(sid), "é😀yx")
	if _, err := f.pool.Exec(ctx, `update note set body = null where id = $1`, sid); sqlState(err) != "AK002" {
		t.Fatalf("NULL: %v", err)
	}
	f.sql(t, `delete from note where id = $1`, sid)
	var docs int
	f.pool.QueryRow(ctx, `select count(*) from ankurah.ytext where entity_id = $1`, sid).Scan(&docs)
	if docs != 0 {
		t.Fatal("a deleted note kept its document")
	}
	// A note without a body gets its document from the first SQL write.
	if err := f.pool.QueryRow(ctx, `insert into note (title) values ('empty') returning id`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	f.sql(t, `update note set body = '' where id = $1`, sid)
	f.check(t, event.MustParseID(sid), "")
	f.sql(t, `update note set body = 'x' where id = $1`, sid)
	f.check(t, event.MustParseID(sid), "x")
}

var textSeed = flag.Uint64("text.seed", 0, "seed of TestSQLAndAPITextEditsConverge (0: from the clock)")

// Random SQL and API edits of one note, some of them from stale heads (an
// editor offline while others write), with text of every width: after
// each, every view of the text agrees (check), and the merged text keeps
// every character an edit inserted that no later edit deleted.
func TestSQLAndAPITextEditsConverge(t *testing.T) {
	t.Parallel()
	seed := *textSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./storage/postgres -run TestSQLAndAPITextEditsConverge -text.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 16))
	f := newTextFixture(t)
	ctx := context.Background()
	var sid string
	if err := f.pool.QueryRow(ctx, `insert into note (title, body) values ('n', 'start') returning id`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	id := event.MustParseID(sid)
	pieces := []string{"a", "bc", "é", "😀", "中文", "👩‍👩‍👧", " ", "\n", "xyz", "e\u0301"}
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	// runeCut returns a cut of s at a character boundary and its UTF-16 position.
	runeCut := func(s string) (int, int) {
		rs := []rune(s)
		i := r.IntN(len(rs) + 1)
		return len(string(rs[:i])), yjs.UTF16Len(string(rs[:i]))
	}
	var stale *entity.State
	for step := range 60 {
		cur := f.get(t, id).Get("body").Text()
		switch k := r.IntN(10); {
		case k < 4: // SQL: replace a stretch by a word, or append, or prepend
			b, _ := runeCut(cur)
			e, _ := runeCut(cur[b:])
			next := cur[:b] + word() + cur[b+e:]
			if r.IntN(4) == 0 {
				next = cur[:b] + cur[b+e:]
			}
			f.sql(t, `update note set body = $1 where id = $2`, next, sid)
		case k < 8: // API, from the latest state
			f.edit(t, id, func(e *node.Entity) error {
				_, pos := runeCut(e.Text("body"))
				if r.IntN(3) == 0 {
					txt := e.Text("body")
					b, _ := runeCut(txt)
					n := yjs.UTF16Len(string([]rune(txt[b:])[:min(2, len([]rune(txt[b:])))]))
					return e.DeleteText("body", yjs.UTF16Len(txt[:b]), n)
				}
				return e.InsertText("body", pos, word())
			})
		default: // API, from a stale state (concurrent with what came since)
			if stale == nil {
				stale = f.get(t, id)
				continue
			}
			w := word()
			f.editFrom(t, stale, func(ed *ytext.Editor) error {
				_, pos := runeCut(ed.Text())
				return ed.Insert(pos, w)
			})
			if got := f.get(t, id).Get("body").Text(); !strings.Contains(got, w) {
				t.Fatalf("step %d: the concurrent insertion %q is lost: %q", step, w, got)
			}
			stale = nil
		}
		f.check(t, id, f.get(t, id).Get("body").Text())
	}
}

// A ytext column stays ytext through ankurah.sync_catalog (its column is
// text, like a plain text field's), and a rename in SQL carries its
// documents: SQL and API edits made after the rename still merge into the
// note's one document. A dropped column drops its documents.
func TestTextFollowsSchemaChanges(t *testing.T) {
	t.Parallel()
	f := newTextFixture(t)
	ctx := context.Background()
	id := f.create(t, "Hello")
	fieldType := func(name string) string {
		t.Helper()
		var typ string
		if err := f.pool.QueryRow(ctx, `select type from ankurah.fields where collection = 'note' and name = $1`, name).Scan(&typ); err != nil {
			t.Fatalf("field %s: %v", name, err)
		}
		return typ
	}
	docFields := func() []string {
		t.Helper()
		var fs []string
		if err := f.pool.QueryRow(ctx, `select coalesce(array_agg(field order by field), '{}') from ankurah.ytext where entity_id = $1`, id.String()).Scan(&fs); err != nil {
			t.Fatal(err)
		}
		return fs
	}

	f.sql(t, `select ankurah.sync_catalog()`)
	if got := fieldType("body"); got != "ytext" {
		t.Fatalf("after sync_catalog, body is %s", got)
	}

	f.sql(t, `alter table note rename column body to content`)
	f.sql(t, `select ankurah.sync_catalog()`)
	if got := fieldType("content"); got != "ytext" {
		t.Fatalf("after the rename, content is %s", got)
	}
	if got := docFields(); !slices.Equal(got, []string{"content"}) {
		t.Fatalf("documents after the rename: %v", got)
	}
	f.sql(t, `update note set content = content || ' world' where id = $1`, id.String())
	f.edit(t, id, func(e *node.Entity) error { return e.InsertText("content", 0, ">") })
	st := f.get(t, id)
	if got := st.Values["content"]; got.Type() != value.Text || got.Raw() != ">Hello world" {
		t.Fatalf("text after SQL and API edits past the rename: %v", got)
	}
	var column string
	if err := f.pool.QueryRow(ctx, `select content from note where id = $1`, id.String()).Scan(&column); err != nil || column != ">Hello world" {
		t.Fatalf("column: %q %v", column, err)
	}

	f.sql(t, `alter table note drop column content`)
	f.sql(t, `select ankurah.sync_catalog()`)
	if got := docFields(); len(got) != 0 {
		t.Fatalf("documents after the drop: %v", got)
	}
}
