package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/yjs"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Collaborative text (ytext fields): every store merges Yjs updates, keeps
// the documents beside the text and returns them with every read, and
// refuses what is not a well-formed update of a ytext field.

var notes = schema.Collection{Name: "note", Fields: []schema.Field{
	{Name: "title", Type: value.Text},
	{Name: "body", Type: value.YText},
}}

func setupNotes(t *testing.T, s storage.Store) context.Context {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureCollection(ctx, notes); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// replica is one editor's Yjs document of a note's body.
type replica struct{ d *yjs.Doc }

func newReplica(t *testing.T, state []byte) *replica {
	t.Helper()
	d, err := yjs.Load(state, yjs.Options{})
	if len(state) == 0 {
		d, err = yjs.NewDoc(yjs.Options{}), nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &replica{d}
}

func (r *replica) insert(t *testing.T, pos int, s string) value.Value {
	t.Helper()
	u, err := r.d.Insert(pos, s)
	if err != nil {
		t.Fatal(err)
	}
	return value.YUpdateOf(u)
}

func (r *replica) delete(t *testing.T, pos, n int) value.Value {
	t.Helper()
	u, err := r.d.Delete(pos, n)
	if err != nil {
		t.Fatal(err)
	}
	return value.YUpdateOf(u)
}

func noteEvent(ent event.ID, head event.Head, ops map[string]value.Value) event.Event {
	if len(head) == 0 {
		return event.Event{ID: ent, Collection: "note", Entity: ent, Ops: ops}
	}
	return event.Event{ID: event.NewID(head...), Collection: "note", Entity: ent, Parents: head, Ops: ops}
}

func getNote(t *testing.T, s storage.Store, id event.ID) *entity.State {
	t.Helper()
	got, err := s.Get(context.Background(), "note", []event.ID{id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

// wantText checks a state's body text and that its document holds it.
func wantText(t *testing.T, st *entity.State, want string) {
	t.Helper()
	if st == nil {
		t.Fatal("note missing")
	}
	if got := st.Get("body").Text(); got != want {
		t.Fatalf("body = %q, want %q", got, want)
	}
	d, err := yjs.Load(st.Docs["body"], yjs.Options{})
	if err != nil {
		t.Fatalf("stored document: %v", err)
	}
	if d.Text() != want {
		t.Fatalf("document holds %q, body %q", d.Text(), want)
	}
}

func testText(t *testing.T, s storage.Store) {
	ctx := setupNotes(t, s)
	id := event.NewID()
	a := newReplica(t, nil)
	c := noteEvent(id, nil, map[string]value.Value{"title": value.TextOf("t"), "body": a.insert(t, 0, "Hello world")})
	commit(t, s, c)
	st := getNote(t, s, id)
	wantText(t, st, "Hello world")

	// Two replicas edit concurrently from the same head: both edits stay.
	b := newReplica(t, st.Docs["body"])
	ea := noteEvent(id, st.Head, map[string]value.Value{"body": a.insert(t, 5, ",")})
	eb := noteEvent(id, st.Head, map[string]value.Value{"body": b.insert(t, 11, "!"), "title": value.TextOf("u")})
	commit(t, s, eb)
	commit(t, s, ea)
	st = getNote(t, s, id)
	wantText(t, st, "Hello, world!")
	if st.Get("title").Text() != "u" || !st.Head.Equal(event.NewHead(ea.ID, eb.ID)) {
		t.Fatalf("title %v head %v", st.Get("title"), st.Head)
	}
	// Redelivery is a no-op; a deletion on the merged head joins the forks.
	commit(t, s, ea)
	if err := a.d.ApplyUpdate(eb.Ops["body"].YUpdate()); err != nil {
		t.Fatal(err)
	}
	ed := noteEvent(id, st.Head, map[string]value.Value{"body": a.delete(t, 0, 7)})
	commit(t, s, ed)
	st = getNote(t, s, id)
	wantText(t, st, "world!")
	hist, err := s.History(ctx, "note", id)
	if err != nil || len(hist) != 4 || hist[3].Ops["body"].Type() != value.YUpdate {
		t.Fatalf("history %v %+v", err, hist)
	}
	if replayed, _, err := entity.Replay("note", id, hist); err != nil || replayed.Get("body").Text() != "world!" {
		t.Fatalf("replay: %v %v", err, replayed)
	}

	// Reads of every kind carry the documents.
	q, err := query.Parse("body LIKE ?", "wor%")
	if err != nil {
		t.Fatal(err)
	}
	got, err := storage.Fetch(ctx, s, "note", q)
	if err != nil || len(got) != 1 {
		t.Fatalf("fetch: %v %v", err, got)
	}
	wantText(t, got[0], "world!")
	var scanned *entity.State
	if err := s.Scan(ctx, "note", func(st *entity.State) bool { scanned = st; return true }); err != nil {
		t.Fatal(err)
	}
	wantText(t, scanned, "world!")

	// A deleted note's history still replays its text.
	del := noteEvent(id, st.Head, nil)
	del.Delete = true
	commit(t, s, del)
	if getNote(t, s, id) != nil {
		t.Fatal("deleted note readable")
	}
}

// testTextRefusals: what is not a well-formed Yjs update of a ytext field
// is refused with a code, and nothing is written.
func testTextRefusals(t *testing.T, s storage.Store) {
	ctx := setupNotes(t, s)
	id := event.NewID()
	a := newReplica(t, nil)
	commit(t, s, noteEvent(id, nil, map[string]value.Value{"body": a.insert(t, 0, "abc")}))
	head := getNote(t, s, id).Head

	other := newReplica(t, nil) // a document that shares nothing with the note's
	other.insert(t, 0, "xyz")
	dangling := other.insert(t, 3, "!") // builds on content the note never had
	huge := make([]byte, storage.MaxTextUpdateBytes+1)
	cases := []struct {
		name string
		ops  map[string]value.Value
		code string
	}{
		{"text value", map[string]value.Value{"body": value.TextOf("plain")}, storage.CodeTypeMismatch},
		{"NULL", map[string]value.Value{"body": value.NullValue}, storage.CodeTypeMismatch},
		{"malformed", map[string]value.Value{"body": value.YUpdateOf([]byte{1, 1, 200})}, storage.CodeInvalidEvent},
		{"huge", map[string]value.Value{"body": value.YUpdateOf(huge)}, storage.CodeValueTooLong},
		{"dangling", map[string]value.Value{"body": dangling}, storage.CodeInvalidEvent},
		{"update of a text field", map[string]value.Value{"title": a.insert(t, 0, "x")}, storage.CodeTypeMismatch},
	}
	for _, tc := range cases {
		_, err := s.Commit(ctx, []event.Event{noteEvent(id, head, tc.ops)})
		if storage.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	st := getNote(t, s, id)
	if !st.Head.Equal(head) {
		t.Fatalf("a refused commit was stored: head %v", st.Head)
	}
	wantText(t, st, "abc")
}

// testTextDynamicField: a Yjs update written to a field the schema lacks
// makes it a ytext field.
func testTextDynamicField(t *testing.T, s storage.Store) {
	ctx := setupNotes(t, s)
	id := event.NewID()
	r := newReplica(t, nil)
	commit(t, s, noteEvent(id, nil, map[string]value.Value{"summary": r.insert(t, 0, strings.Repeat("ab", 3))}))
	c, err := s.Collection(ctx, "note")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := c.Field("summary"); !ok || !f.Type.IsYText() {
		t.Fatalf("summary field: %+v %v", f, ok)
	}
	st := getNote(t, s, id)
	if st.Get("summary").Text() != "ababab" || st.Docs["summary"] == nil {
		t.Fatalf("summary %v, document %d bytes", st.Get("summary"), len(st.Docs["summary"]))
	}
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "note", Fields: []schema.Field{{Name: "summary", Type: value.Text}}}); !errors.Is(err, storage.ErrTypeMismatch) {
		t.Fatalf("redeclaring ytext as text: %v", err)
	}
}
