// Package storagetest is the conformance suite every storage adapter passes.
// An adapter's tests call Run with a function that returns a fresh, empty
// store for each subtest.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Run runs the suite. newStore must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"EditAndHistory", testEditAndHistory},
		{"Delete", testDelete},
		{"ConcurrentForksMerge", testConcurrentForksMerge},
		{"MissingParentsRejected", testMissingParents},
		{"RedeliveryIsNoop", testRedelivery},
		{"OutOfOrderBatch", testOutOfOrderBatch},
		{"AtomicCommit", testAtomicCommit},
		{"DynamicFieldsAndTypes", testDynamicFields},
		{"AllTypesRoundTrip", testAllTypes},
		{"EnsureCollection", testEnsureCollection},
		{"ConcurrentCommitters", testConcurrentCommitters},
		{"Scan", testScan},
		{"IDReusedInAnotherCollection", testIDReusedInAnotherCollection},
		{"TextPostgresCannotStore", testBadText},
		{"JSONNullDocument", testJSONNullDocument},
		{"FetchBeforeTheCollectionExists", testFetchBeforeCollection},
		{"Text", testText},
		{"TextRefusals", testTextRefusals},
		{"TextDynamicField", testTextDynamicField},
		{"WriteCheck", testWriteCheck},
		{"Author", testAuthor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var albums = schema.Collection{Name: "album", Fields: []schema.Field{
	{Name: "name", Type: value.Text},
	{Name: "year", Type: value.Int},
	{Name: "rating", Type: value.Float},
}}

func setup(t *testing.T, s storage.Store) context.Context {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureCollection(ctx, albums); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// create returns a creation event for a new album.
func create(ops map[string]value.Value) event.Event {
	id := event.NewID()
	return event.Event{ID: id, Collection: "album", Entity: id, Ops: ops}
}

// edit returns an event on top of head.
func edit(ent event.ID, head event.Head, ops map[string]value.Value) event.Event {
	return event.Event{ID: event.NewID(head...), Collection: "album", Entity: ent, Parents: head, Ops: ops}
}

func commit(t *testing.T, s storage.Store, evs ...event.Event) []*entity.State {
	t.Helper()
	st, err := s.Commit(context.Background(), evs)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	return st
}

func get(t *testing.T, s storage.Store, id event.ID) *entity.State {
	t.Helper()
	got, err := s.Get(context.Background(), "album", []event.ID{id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

func wantValues(t *testing.T, st *entity.State, want map[string]value.Value) {
	t.Helper()
	if st == nil {
		t.Fatalf("entity missing, want %v", want)
	}
	for k, w := range want {
		if g := st.Get(k); !value.Equal(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k, g := range st.Values {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, g)
		}
	}
}

func testCreateAndGet(t *testing.T, s storage.Store) {
	setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("Origin of Symmetry"), "year": value.IntOf(2001)})
	states := commit(t, s, c)
	if len(states) != 1 || !states[0].Head.Equal(event.Head{c.ID}) {
		t.Fatalf("commit returned %+v", states)
	}
	st := get(t, s, c.Entity)
	wantValues(t, st, map[string]value.Value{"name": value.TextOf("Origin of Symmetry"), "year": value.IntOf(2001)})
	if !st.Head.Equal(event.Head{c.ID}) || st.Versions["name"] != c.ID {
		t.Fatalf("head %v versions %v", st.Head, st.Versions)
	}
	if got := get(t, s, event.NewID()); got != nil {
		t.Fatalf("unknown id returned %+v", got)
	}
	if _, err := s.Get(context.Background(), "nope", []event.ID{c.ID}); !errors.Is(err, storage.ErrNoCollection) {
		t.Fatalf("unknown collection: %v", err)
	}
}

func testEditAndHistory(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("Showbiz"), "year": value.IntOf(1998)})
	commit(t, s, c)
	e1 := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"year": value.IntOf(1999)})
	commit(t, s, e1)
	e2 := edit(c.Entity, event.Head{e1.ID}, map[string]value.Value{"name": value.NullValue, "rating": value.IntOf(4)})
	commit(t, s, e2)
	st := get(t, s, c.Entity)
	// rating is a float field: the integer 4 was converted.
	wantValues(t, st, map[string]value.Value{"year": value.IntOf(1999), "rating": value.FloatOf(4)})
	if !st.Head.Equal(event.Head{e2.ID}) {
		t.Fatalf("head %v, want [%v]", st.Head, e2.ID)
	}
	hist, err := s.History(ctx, "album", c.Entity)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].ID != c.ID || hist[1].ID != e1.ID || hist[2].ID != e2.ID {
		t.Fatalf("history %v", hist)
	}
	if !hist[2].Parents.Equal(event.Head{e1.ID}) || !value.Equal(hist[2].Ops["rating"], value.FloatOf(4)) || !hist[2].Ops["name"].IsNull() {
		t.Fatalf("stored event %+v", hist[2])
	}
	evs, err := s.Events(ctx, []event.ID{e1.ID, event.NewID()})
	if err != nil || len(evs) != 1 || evs[0].ID != e1.ID || !value.Equal(evs[0].Ops["year"], value.IntOf(1999)) {
		t.Fatalf("events by id: %v %v", evs, err)
	}
	rel, err := event.Compare(ctx, s, event.Head{e2.ID}, event.Head{c.ID})
	if err != nil || rel != event.Descends {
		t.Fatalf("compare: %v %v", rel, err)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("Absolution")})
	commit(t, s, c)
	d := edit(c.Entity, event.Head{c.ID}, nil)
	d.Delete = true
	states := commit(t, s, d)
	if !states[0].Deleted {
		t.Fatalf("state after delete: %+v", states[0])
	}
	if get(t, s, c.Entity) != nil {
		t.Fatal("deleted entity still returned")
	}
	// A concurrent edit made on the pre-delete head is kept in history, but
	// the entity stays deleted.
	late := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"year": value.IntOf(2003)})
	states = commit(t, s, late)
	if !states[0].Deleted || get(t, s, c.Entity) != nil {
		t.Fatal("edit resurrected a deleted entity")
	}
	hist, err := s.History(ctx, "album", c.Entity)
	if err != nil || len(hist) != 3 || !hist[1].Delete {
		t.Fatalf("history %v %v", hist, err)
	}
}

// Two transactions forked from the same head both commit and merge: writes
// to different fields both survive, and the same field goes to the larger id.
func testConcurrentForksMerge(t *testing.T, s storage.Store) {
	setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("Black Holes"), "year": value.IntOf(2000)})
	commit(t, s, c)
	a := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"name": value.TextOf("A"), "year": value.IntOf(2006)})
	b := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"name": value.TextOf("B"), "rating": value.FloatOf(5)})
	commit(t, s, b)
	commit(t, s, a)
	st := get(t, s, c.Entity)
	winner := value.TextOf("B") // b's id is larger: it was made later
	wantValues(t, st, map[string]value.Value{"name": winner, "year": value.IntOf(2006), "rating": value.FloatOf(5)})
	if !st.Head.Equal(event.NewHead(a.ID, b.ID)) {
		t.Fatalf("head %v, want both forks", st.Head)
	}
	// An edit on the merged head joins the forks again.
	m := edit(c.Entity, st.Head, map[string]value.Value{"name": value.TextOf("Black Holes and Revelations")})
	commit(t, s, m)
	st = get(t, s, c.Entity)
	if !st.Head.Equal(event.Head{m.ID}) || st.Get("name").Text() != "Black Holes and Revelations" {
		t.Fatalf("after join: %v %v", st.Head, st.Values)
	}
}

func testMissingParents(t *testing.T, s storage.Store) {
	setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("x")})
	commit(t, s, c)
	orphan := edit(c.Entity, event.Head{event.NewID()}, map[string]value.Value{"year": value.IntOf(1)})
	_, err := s.Commit(context.Background(), []event.Event{orphan})
	if !errors.Is(err, storage.ErrMissingParents) {
		t.Fatalf("want missing parents, got %v", err)
	}
	// A parent that belongs to another entity is not a parent.
	other := create(map[string]value.Value{"name": value.TextOf("y")})
	commit(t, s, other)
	cross := edit(c.Entity, event.Head{other.ID}, map[string]value.Value{"year": value.IntOf(2)})
	if _, err := s.Commit(context.Background(), []event.Event{cross}); !errors.Is(err, storage.ErrMissingParents) {
		t.Fatalf("cross-entity parent: got %v", err)
	}
	// An edit of an entity that was never created.
	ghost := event.NewID()
	never := edit(ghost, event.Head{event.NewID()}, nil)
	if _, err := s.Commit(context.Background(), []event.Event{never}); err == nil {
		t.Fatal("edit of a never-created entity accepted")
	}
	wantValues(t, get(t, s, c.Entity), map[string]value.Value{"name": value.TextOf("x")})
}

func testRedelivery(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("x")})
	e := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"year": value.IntOf(7)})
	commit(t, s, c, e)
	commit(t, s, c, e)
	commit(t, s, e)
	commit(t, s, c)
	hist, _ := s.History(ctx, "album", c.Entity)
	if len(hist) != 2 {
		t.Fatalf("history has %d events after redelivery, want 2", len(hist))
	}
	st := get(t, s, c.Entity)
	if !st.Head.Equal(event.Head{e.ID}) {
		t.Fatalf("head %v", st.Head)
	}
}

func testOutOfOrderBatch(t *testing.T, s storage.Store) {
	setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("x")})
	e1 := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"year": value.IntOf(1)})
	e2 := edit(c.Entity, event.Head{e1.ID}, map[string]value.Value{"year": value.IntOf(2)})
	commit(t, s, e2, c, e1) // children before parents in the batch
	st := get(t, s, c.Entity)
	wantValues(t, st, map[string]value.Value{"name": value.TextOf("x"), "year": value.IntOf(2)})
}

func testAtomicCommit(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	good := create(map[string]value.Value{"name": value.TextOf("kept out")})
	existing := create(map[string]value.Value{"name": value.TextOf("before")})
	commit(t, s, existing)
	okEdit := edit(existing.Entity, event.Head{existing.ID}, map[string]value.Value{"name": value.TextOf("after")})
	bad := edit(existing.Entity, event.Head{event.NewID()}, map[string]value.Value{"year": value.IntOf(1)})
	if _, err := s.Commit(ctx, []event.Event{good, okEdit, bad}); err == nil {
		t.Fatal("commit with a bad event succeeded")
	}
	if get(t, s, good.Entity) != nil {
		t.Fatal("a failed commit left a created entity behind")
	}
	wantValues(t, get(t, s, existing.Entity), map[string]value.Value{"name": value.TextOf("before")})
	if evs, _ := s.Events(ctx, []event.ID{good.ID, okEdit.ID}); len(evs) != 0 {
		t.Fatalf("a failed commit left events behind: %v", evs)
	}
	// A type error fails the whole commit too.
	wrong := create(map[string]value.Value{"year": value.TextOf("nineteen")})
	if _, err := s.Commit(ctx, []event.Event{good, wrong}); !errors.Is(err, storage.ErrTypeMismatch) {
		t.Fatalf("want type mismatch, got %v", err)
	}
	if get(t, s, good.Entity) != nil {
		t.Fatal("a failed commit left a created entity behind")
	}
}

func testDynamicFields(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("x"), "genre": value.TextOf("rock")})
	commit(t, s, c)
	coll, err := s.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := coll.Field("genre"); !ok || f.Type != value.Text {
		t.Fatalf("new field not in schema: %+v", coll)
	}
	wantValues(t, get(t, s, c.Entity), map[string]value.Value{"name": value.TextOf("x"), "genre": value.TextOf("rock")})
	bad := create(map[string]value.Value{"genre": value.IntOf(3)})
	if _, err := s.Commit(ctx, []event.Event{bad}); !errors.Is(err, storage.ErrTypeMismatch) {
		t.Fatalf("want type mismatch, got %v", err)
	}
}

func testAllTypes(t *testing.T, s storage.Store) {
	ctx := context.Background()
	all := schema.Collection{Name: "album", Fields: []schema.Field{
		{Name: "t", Type: value.Text}, {Name: "i", Type: value.Int}, {Name: "f", Type: value.Float},
		{Name: "b", Type: value.Bool}, {Name: "by", Type: value.Bytes}, {Name: "ts", Type: value.Time},
		{Name: "j", Type: value.JSON}, {Name: "r", Type: value.Ref},
	}}
	if _, err := s.EnsureCollection(ctx, all); err != nil {
		t.Fatal(err)
	}
	j, _ := value.JSONOf([]byte(`{"a": [1, 2.5, "x", null, true], "b": {"c": "d"}}`))
	vals := map[string]value.Value{
		"t": value.TextOf("héllo 'q' \"dq\" \\"), "i": value.IntOf(-1 << 62), "f": value.FloatOf(-2.5e-7),
		"b": value.BoolOf(true), "by": value.BytesOf([]byte{0, 1, 0xff}),
		"ts": value.TimeOf(time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600))),
		"j":  j, "r": value.RefOf(event.NewID().String()),
	}
	c := create(vals)
	commit(t, s, c)
	wantValues(t, get(t, s, c.Entity), vals)
	hist, err := s.History(ctx, "album", c.Entity)
	if err != nil || len(hist) != 1 {
		t.Fatal(hist, err)
	}
	for k, v := range vals {
		if !value.Equal(hist[0].Ops[k], v) {
			t.Errorf("event op %s = %v, want %v", k, hist[0].Ops[k], v)
		}
	}
}

func testEnsureCollection(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	got, err := s.EnsureCollection(ctx, schema.Collection{Name: "album", Fields: []schema.Field{{Name: "label", Type: value.Text}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fields) != 4 {
		t.Fatalf("fields after adding one: %+v", got.Fields)
	}
	_, err = s.EnsureCollection(ctx, schema.Collection{Name: "album", Fields: []schema.Field{{Name: "year", Type: value.Text}}})
	if !errors.Is(err, storage.ErrTypeMismatch) {
		t.Fatalf("redeclared type: %v", err)
	}
	for _, bad := range []string{"_sys", "Album", "1a", "", "a-b"} {
		if _, err := s.EnsureCollection(ctx, schema.Collection{Name: bad}); err == nil {
			t.Errorf("collection name %q accepted", bad)
		}
	}
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "x", Fields: []schema.Field{{Name: "id", Type: value.Text}}}); err == nil {
		t.Error("field named id accepted")
	}
	list, err := s.Collections(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "album" {
		t.Fatalf("collections: %v %v", list, err)
	}
}

// Many goroutines edit the same entities from stale heads: every commit
// succeeds and the final state holds, per field, the write with the largest id.
func testConcurrentCommitters(t *testing.T, s storage.Store) {
	setup(t, s)
	const entities, writers, edits = 3, 6, 15
	var roots []event.Event
	for i := 0; i < entities; i++ {
		roots = append(roots, create(map[string]value.Value{"name": value.TextOf(fmt.Sprint("e", i))}))
	}
	commit(t, s, roots...)
	var mu sync.Mutex
	last := map[string]event.Event{} // entity/field → winning event so far
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < edits; i++ {
				root := roots[r.IntN(entities)]
				cur, err := s.Get(context.Background(), "album", []event.ID{root.Entity})
				if err != nil || len(cur) != 1 {
					errs <- fmt.Errorf("get: %v", err)
					return
				}
				field := []string{"year", "rating"}[r.IntN(2)]
				v := value.IntOf(int64(w*1000 + i))
				if field == "rating" {
					v = value.FloatOf(float64(w*1000 + i))
				}
				e := edit(root.Entity, cur[0].Head, map[string]value.Value{field: v})
				if _, err := s.Commit(context.Background(), []event.Event{e}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				key := root.Entity.String() + "/" + field
				if prev, ok := last[key]; !ok || e.ID.Compare(prev.ID) > 0 {
					last[key] = e
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for key, e := range last {
		st := get(t, s, e.Entity)
		field := key[len(key)-len("rating"):]
		if field != "rating" {
			field = "year"
		}
		if !value.Equal(st.Get(field), e.Ops[field]) {
			t.Errorf("%s = %v, want %v (event %s)", key, st.Get(field), e.Ops[field], e.ID)
		}
		for i := 1; i < len(st.Head); i++ {
			rel, err := event.Compare(context.Background(), s, event.Head{st.Head[i]}, event.Head{st.Head[i-1]})
			if err != nil || rel != event.Diverged {
				t.Errorf("head %v is not an antichain (%v, %v)", st.Head, rel, err)
			}
		}
	}
}

func testScan(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	var ids []event.ID
	for i := 0; i < 5; i++ {
		c := create(map[string]value.Value{"year": value.IntOf(int64(i))})
		commit(t, s, c)
		ids = append(ids, c.ID)
	}
	d := edit(ids[2], event.Head{ids[2]}, nil)
	d.Delete = true
	commit(t, s, d)
	var got []event.ID
	if err := s.Scan(ctx, "album", func(st *entity.State) bool { got = append(got, st.ID); return true }); err != nil {
		t.Fatal(err)
	}
	want := []event.ID{ids[0], ids[1], ids[3], ids[4]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scan %v, want %v", got, want)
	}
}

// An event id belongs to one entity of one collection: a creation event in
// another collection with an id already used is refused, never taken for a
// redelivery (which would report success for a commit that stored nothing).
func testIDReusedInAnotherCollection(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "song", Fields: []schema.Field{{Name: "name", Type: value.Text}}}); err != nil {
		t.Fatal(err)
	}
	c := create(map[string]value.Value{"name": value.TextOf("x")})
	commit(t, s, c)
	dup := c
	dup.Collection = "song"
	if _, err := s.Commit(ctx, []event.Event{dup}); err == nil {
		t.Fatal("a creation reusing another collection's id was accepted")
	}
	if got, _ := s.Get(ctx, "song", []event.ID{c.ID}); len(got) != 0 {
		t.Fatal("song got an entity")
	}
}

// Invalid UTF-8 and NUL characters are type errors on every adapter (Postgres
// cannot store them), not internal errors, and nothing is stored.
func testBadText(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	nulJSON, _ := value.JSONOf([]byte(`{"a":"x\u0000y"}`))
	for _, v := range []value.Value{value.TextOf("a\x00b"), value.TextOf("\xff\xfe"), nulJSON} {
		c := create(map[string]value.Value{"name": value.TextOf("x"), "data": v})
		if v.Type() == value.Text {
			c.Ops = map[string]value.Value{"name": v}
		}
		_, err := s.Commit(ctx, []event.Event{c})
		if !errors.Is(err, storage.ErrTypeMismatch) {
			t.Errorf("%q: %v", v.Raw(), err)
		}
		if got := get(t, s, c.ID); got != nil {
			t.Errorf("%q: stored", v.Raw())
		}
	}
}

// A jsonb `null` document is stored as NULL, so state and history agree.
func testJSONNullDocument(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	null, _ := value.JSONOf([]byte("null"))
	c := create(map[string]value.Value{"name": value.TextOf("x"), "data": null})
	commit(t, s, c)
	st := get(t, s, c.ID)
	if !st.Get("data").IsNull() {
		t.Fatalf("data = %v, want NULL", st.Get("data"))
	}
	hist, _ := s.History(ctx, "album", c.ID)
	if len(hist) != 1 || !hist[0].Ops["data"].IsNull() && hist[0].Ops["data"].Type() != value.Null {
		t.Fatalf("history %+v", hist)
	}
}

// testFetchBeforeCollection: storage.Fetch of a collection that does not
// exist yet is empty, not an error, and sees the collection once it is
// created; a name no collection can have is CodeBadName.
func testFetchBeforeCollection(t *testing.T, s storage.Store) {
	ctx := context.Background()
	q, err := query.Parse("year >= ? ORDER BY year", 2000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := storage.Fetch(ctx, s, "album", q)
	if err != nil || len(got) != 0 {
		t.Fatalf("fetch before the collection exists: %v, %v", got, err)
	}
	if _, err := storage.Fetch(ctx, s, "_album", q); storage.CodeOf(err) != storage.CodeBadName {
		t.Fatalf("fetch of an invalid name: %v, want bad_name", err)
	}
	setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("Origin of Symmetry"), "year": value.IntOf(2001)})
	commit(t, s, c)
	if got, err = storage.Fetch(ctx, s, "album", q); err != nil || len(got) != 1 || got[0].ID != c.Entity {
		t.Fatalf("fetch after the collection was created: %v, %v", got, err)
	}
}

// A commit runs the write check its context carries on every event, with
// the state before (nil for a creation) and after (nil for a delete); one
// refusal fails the whole commit and nothing is written. Creation-only
// commits (a fast path on Postgres) are checked too.
func testWriteCheck(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	type seen struct {
		ev            event.ID
		before, after string // the name before and after, "-" for nil
	}
	var got []seen
	name := func(st *entity.State) string {
		if st == nil {
			return "-"
		}
		return st.Get("name").Text()
	}
	refuse := errors.New("refused")
	check := func(e *event.Event, before, after *entity.State) error {
		got = append(got, seen{e.ID, name(before), name(after)})
		if after != nil && after.Get("name").Text() == "forbidden" {
			return refuse
		}
		return nil
	}
	cctx := storage.WithWriteCheck(ctx, check)
	a := create(map[string]value.Value{"name": value.TextOf("a")})
	if _, err := s.Commit(cctx, []event.Event{a}); err != nil {
		t.Fatal(err)
	}
	e := edit(a.Entity, event.Head{a.ID}, map[string]value.Value{"name": value.TextOf("b")})
	d := edit(a.Entity, event.Head{e.ID}, nil)
	d.Delete = true
	if _, err := s.Commit(cctx, []event.Event{e, d}); err != nil {
		t.Fatal(err)
	}
	want := []seen{{a.ID, "-", "a"}, {e.ID, "a", "b"}, {d.ID, "b", "-"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checked %v, want %v", got, want)
	}
	// One refused event fails the commit: the other creation is not written.
	ok := create(map[string]value.Value{"name": value.TextOf("fine")})
	bad := create(map[string]value.Value{"name": value.TextOf("forbidden")})
	if _, err := s.Commit(cctx, []event.Event{ok, bad}); !errors.Is(err, refuse) {
		t.Fatalf("refused commit: %v", err)
	}
	if get(t, s, ok.Entity) != nil || get(t, s, bad.Entity) != nil {
		t.Fatal("a refused commit wrote something")
	}
	// And an edit refused on an existing entity leaves it as it was.
	b := create(map[string]value.Value{"name": value.TextOf("b")})
	commit(t, s, b)
	if _, err := s.Commit(cctx, []event.Event{edit(b.Entity, event.Head{b.ID}, map[string]value.Value{"name": value.TextOf("forbidden")})}); !errors.Is(err, refuse) {
		t.Fatalf("refused edit: %v", err)
	}
	wantValues(t, get(t, s, b.Entity), map[string]value.Value{"name": value.TextOf("b")})
}

// An event's author is stored and read back with it; no author reads as "".
func testAuthor(t *testing.T, s storage.Store) {
	ctx := setup(t, s)
	c := create(map[string]value.Value{"name": value.TextOf("a")})
	c.Author = "alice@example.com"
	e := edit(c.Entity, event.Head{c.ID}, map[string]value.Value{"name": value.TextOf("b")})
	commit(t, s, c)
	commit(t, s, e)
	hist, err := s.History(ctx, "album", c.Entity)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %v %v", hist, err)
	}
	if hist[0].Author != "alice@example.com" || hist[1].Author != "" {
		t.Fatalf("authors %q, %q", hist[0].Author, hist[1].Author)
	}
	evs, err := s.Events(ctx, []event.ID{c.ID})
	if err != nil || len(evs) != 1 || evs[0].Author != "alice@example.com" {
		t.Fatalf("events %v %v", evs, err)
	}
	// A batch of creations (a grouped fast path on Postgres) keeps each author.
	x, y := create(map[string]value.Value{"name": value.TextOf("x")}), create(map[string]value.Value{"name": value.TextOf("y")})
	x.Author, y.Author = "x", "y"
	commit(t, s, x, y)
	evs, err = s.Events(ctx, []event.ID{x.ID, y.ID})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events %v %v", evs, err)
	}
	for _, ev := range evs {
		if want := map[event.ID]string{x.ID: "x", y.ID: "y"}[ev.ID]; ev.Author != want {
			t.Fatalf("author of %s is %q, want %q", ev.ID, ev.Author, want)
		}
	}
}
