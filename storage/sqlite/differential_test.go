package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/value"
)

// TestSameAsMemory feeds random batches — creations, edits from current and
// stale heads, deletes, edits after deletes, redeliveries, unknown parents,
// entities named under the wrong collection, new fields of clashing types,
// shuffled batch order — to the SQLite store and to the memory store (the
// reference), and requires the same results: the same error code or the
// same states, and then the same reads. The SQLite store is reopened half
// way, so that the second half merges against what the file kept.
func TestSameAsMemory(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "store.db")
			lite, err := sqlite.Open(path, sqlite.Options{Sync: sqlite.SyncNormal})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { lite.Close() }()
			g := &generator{r: rand.New(rand.NewPCG(seed, 7)), ref: memory.New()}
			ctx := context.Background()
			for _, c := range []string{"a", "b"} {
				for _, s := range []storage.Store{g.ref, lite} {
					if _, err := s.EnsureCollection(ctx, schema.Collection{Name: c, Fields: []schema.Field{{Name: "n", Type: value.Int}}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			seen := map[string]int{} // outcomes, to check the batches cover the cases
			for step := 0; step < 300; step++ {
				if step == 150 {
					if err := lite.Close(); err != nil {
						t.Fatal(err)
					}
					if lite, err = sqlite.Open(path, sqlite.Options{}); err != nil {
						t.Fatal(err)
					}
				}
				batch := g.batch()
				want, wantErr := g.ref.Commit(ctx, batch)
				got, gotErr := lite.Commit(ctx, batch)
				if storage.CodeOf(gotErr) != storage.CodeOf(wantErr) {
					t.Fatalf("step %d: commit error %v, memory store says %v\nbatch %v", step, gotErr, wantErr, batch)
				}
				seen[storage.CodeOf(wantErr)]++
				if wantErr == nil {
					sameStates(t, fmt.Sprint("step ", step, " commit"), got, want)
					g.committed(batch)
					for _, st := range want {
						if st.Deleted {
							seen["deleted"]++
						}
					}
				}
			}
			for _, outcome := range []string{"", storage.CodeMissingParents, storage.CodeInvalidEvent, storage.CodeTypeMismatch, "deleted"} {
				if seen[outcome] == 0 {
					t.Errorf("no batch had outcome %q: %v", outcome, seen)
				}
			}
			t.Logf("outcomes: %v", seen)
			sameReads(t, g, lite)
		})
	}
}

// generator makes the random batches and remembers what was committed.
type generator struct {
	r        *rand.Rand
	ref      *memory.Store
	entities []event.Event // creation events committed
	events   []event.Event // every event committed
}

func (g *generator) committed(batch []event.Event) {
	for _, e := range batch {
		if e.IsCreation() && !slices.ContainsFunc(g.entities, func(c event.Event) bool { return c.ID == e.ID }) {
			g.entities = append(g.entities, e)
		}
		g.events = append(g.events, e)
	}
}

func (g *generator) ops() map[string]value.Value {
	ops := map[string]value.Value{}
	for i := g.r.IntN(3); i > 0; i-- {
		f := fmt.Sprint("f", g.r.IntN(4))
		switch g.r.IntN(12) {
		case 0:
			ops[f] = value.TextOf(fmt.Sprint("t", g.r.IntN(100)))
		case 1:
			ops[f] = value.NullValue
		default:
			ops[f] = value.IntOf(int64(g.r.IntN(100)))
		}
	}
	if g.r.IntN(2) == 0 {
		ops["n"] = value.IntOf(int64(g.r.IntN(1000)))
	}
	return ops
}

func (g *generator) batch() []event.Event {
	var batch []event.Event
	for n := 1 + g.r.IntN(3); n > 0; n-- {
		batch = append(batch, g.event(batch))
	}
	g.r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	return batch
}

// event makes one event; earlier events of the batch may be its parents.
func (g *generator) event(batch []event.Event) event.Event {
	coll := []string{"a", "b"}[g.r.IntN(2)]
	if len(g.entities) == 0 || g.r.IntN(5) == 0 {
		id := event.NewID()
		return event.Event{ID: id, Collection: coll, Entity: id, Ops: g.ops()}
	}
	switch g.r.IntN(10) {
	case 0: // redelivery
		return g.events[g.r.IntN(len(g.events))]
	case 1: // unknown parent
		c := g.entities[g.r.IntN(len(g.entities))]
		p := event.NewID()
		return event.Event{ID: event.NewID(p), Collection: c.Collection, Entity: c.Entity, Parents: event.Head{p}, Ops: g.ops()}
	}
	c := g.entities[g.r.IntN(len(g.entities))]
	var head event.Head
	if st, _ := g.ref.Get(context.Background(), c.Collection, []event.ID{c.Entity}); len(st) == 1 {
		head = st[0].Head
	} else { // deleted: its last events
		hist, _ := g.ref.History(context.Background(), c.Collection, c.Entity)
		head = event.Head{hist[len(hist)-1].ID}
	}
	for _, e := range batch { // build on an event of this batch
		if e.Entity == c.Entity && g.r.IntN(2) == 0 {
			head = event.Head{e.ID}
		}
	}
	if g.r.IntN(4) == 0 { // a stale head: a fork
		hist, _ := g.ref.History(context.Background(), c.Collection, c.Entity)
		head = event.Head{hist[g.r.IntN(len(hist))].ID}
	}
	e := event.Event{ID: event.NewID(head...), Collection: c.Collection, Entity: c.Entity, Parents: head, Ops: g.ops()}
	switch g.r.IntN(12) {
	case 0:
		e.Delete = true
	case 1:
		e.Collection = map[string]string{"a": "b", "b": "a"}[e.Collection] // the wrong collection
	}
	return e
}

func sameStates(t *testing.T, where string, got, want []*entity.State) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d states, memory store has %d", where, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Collection != w.Collection || !g.Head.Equal(w.Head) || g.Deleted != w.Deleted ||
			fmt.Sprint(g.Versions) != fmt.Sprint(w.Versions) || !sameValues(g.Values, w.Values) {
			t.Fatalf("%s: state\n%+v\nmemory store has\n%+v", where, g, w)
		}
	}
}

func sameValues(a, b map[string]value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !value.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func sameEvents(t *testing.T, where string, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, memory store has %d", where, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Entity != w.Entity || g.Collection != w.Collection || !g.Parents.Equal(w.Parents) ||
			g.Delete != w.Delete || !sameValues(g.Ops, w.Ops) {
			t.Fatalf("%s: event\n%+v\nmemory store has\n%+v", where, g, w)
		}
	}
}

// sameReads compares every read of the two stores.
func sameReads(t *testing.T, g *generator, lite storage.Store) {
	ctx := context.Background()
	wantColls, _ := g.ref.Collections(ctx)
	gotColls, err := lite.Collections(ctx)
	if err != nil || fmt.Sprint(gotColls) != fmt.Sprint(wantColls) {
		t.Fatalf("collections %v %v, memory store has %v", gotColls, err, wantColls)
	}
	var ids []event.ID
	for _, c := range g.entities {
		ids = append(ids, c.ID)
	}
	for _, c := range wantColls {
		want, _ := g.ref.Get(ctx, c.Name, ids)
		got, err := lite.Get(ctx, c.Name, ids)
		if err != nil {
			t.Fatal(err)
		}
		sameStates(t, "get "+c.Name, got, want)
		var scanned []*entity.State
		if err := lite.Scan(ctx, c.Name, func(st *entity.State) bool { scanned = append(scanned, st); return true }); err != nil {
			t.Fatal(err)
		}
		var wantScan []*entity.State
		g.ref.Scan(ctx, c.Name, func(st *entity.State) bool { wantScan = append(wantScan, st); return true })
		sameStates(t, "scan "+c.Name, scanned, wantScan)
		for _, id := range ids {
			want, _ := g.ref.History(ctx, c.Name, id)
			got, err := lite.History(ctx, c.Name, id)
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, "history", got, want)
		}
	}
	var evIDs []event.ID
	for _, e := range g.events {
		evIDs = append(evIDs, e.ID)
	}
	evIDs = append(evIDs, event.NewID())
	want, _ := g.ref.Events(ctx, evIDs)
	got, err := lite.Events(ctx, evIDs)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "events", got, want)
}
