package server_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
)

// TestLiveQueryLifecycle: a subscriber sees add, update and remove for
// writes through the protocol — an edit that moves an entity out of the
// query, one that moves it back, a delete — on every backend.
func TestLiveQueryLifecycle(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		w, r := dial(t, env), dial(t, env)
		w.register(albumSchema)
		old := w.create("album", map[string]any{"name": "Showbiz", "year": 1999})
		if got := r.subscribe("s", "album", "year >= ?", 2000); len(got) != 0 {
			t.Fatalf("initial set: %v", got)
		}
		id := w.create("album", map[string]any{"name": "Origin of Symmetry", "year": 2001})
		items := r.waitItems(1)
		if it := items[0]; it.Kind != "add" || it.Sub != "s" || it.Entity.ID != id || val(it.Entity, "name") != "Origin of Symmetry" || len(it.Events) != 1 {
			t.Fatalf("add: %+v", it)
		}
		w.edit("album", id, map[string]any{"notes": "second album"})
		w.edit("album", id, map[string]any{"year": 1990})  // leaves the query
		w.edit("album", old, map[string]any{"year": 2003}) // enters it
		w.remove("album", old)
		items = r.waitItems(5)[1:]
		want := []string{"update " + id, "remove " + id, "add " + old, "remove " + old}
		for i, it := range items {
			if got := it.Kind + " " + it.Entity.ID; got != want[i] {
				t.Fatalf("item %d: %s, want %s (all: %v)", i, got, want[i], items)
			}
		}
		if val(items[0].Entity, "notes") != "second album" || val(items[1].Entity, "year") != float64(1990) {
			t.Fatalf("values: %+v", items[:2])
		}
		if !items[3].Entity.Deleted {
			t.Fatalf("a deleted entity's remove says deleted: %+v", items[3])
		}
		if got := r.set("s"); len(got) != 0 {
			t.Fatalf("final set: %v", got)
		}
	})
}

// TestWindowRefill: when a member leaves a full ORDER BY … LIMIT window,
// the next entity in order enters it in the same frame.
func TestWindowRefill(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		w, r := dial(t, env), dial(t, env)
		w.register(albumSchema)
		ids := map[int]string{}
		for _, y := range []int{2005, 2001, 2004, 2002, 2003} {
			ids[y] = w.create("album", map[string]any{"name": fmt.Sprint("a", y), "year": y})
		}
		got := r.subscribe("top", "album", "year > 2000 ORDER BY year DESC LIMIT 3")
		if len(got) != 3 || got[0].ID != ids[2005] || got[2].ID != ids[2003] {
			t.Fatalf("initial window: %v", got)
		}
		w.remove("album", ids[2004])
		items := r.waitItems(2)
		if items[0].Kind != "remove" || items[0].Entity.ID != ids[2004] || items[1].Kind != "add" || items[1].Entity.ID != ids[2002] {
			t.Fatalf("refill: %+v", items)
		}
		w.edit("album", ids[2001], map[string]any{"year": 2010}) // enters at the top, pushes 2002 out
		items = r.waitItems(4)[2:]
		if items[0].Kind != "remove" || items[0].Entity.ID != ids[2002] || items[1].Kind != "add" || items[1].Entity.ID != ids[2001] {
			t.Fatalf("push out: %+v", items)
		}
		set := r.set("top")
		if len(set) != 3 || set[ids[2001]].ID == "" || set[ids[2005]].ID == "" || set[ids[2003]].ID == "" {
			t.Fatalf("window: %v", set)
		}
	})
}

// TestResubscribeWithKnownHeads: a client that comes back with the heads it
// holds gets unchanged markers for those, full state for what changed, and
// the ids that left.
func TestResubscribeWithKnownHeads(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		w, r := dial(t, env), dial(t, env)
		w.register(albumSchema)
		a := w.create("album", map[string]any{"name": "a", "year": 2001})
		b := w.create("album", map[string]any{"name": "b", "year": 2002})
		c := w.create("album", map[string]any{"name": "c", "year": 2003})
		first := r.subscribe("s", "album", "year > 2000")
		known := map[string][]string{}
		for _, e := range first {
			known[e.ID] = e.Head
		}
		w.edit("album", b, map[string]any{"name": "b2"})
		w.remove("album", c)
		r2 := dial(t, env)
		res, err := r2.trySubscribe("s", "album", "year > 2000", known)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entities) != 2 || res.Entities[0].ID != a || !res.Entities[0].Unchanged || res.Entities[1].ID != b || res.Entities[1].Unchanged || val(res.Entities[1], "name") != "b2" {
			t.Fatalf("entities: %+v", res.Entities)
		}
		if len(res.Removed) != 1 || res.Removed[0] != c {
			t.Fatalf("removed: %v", res.Removed)
		}
	})
}

// TestUpdateSubscription: changing a live query's selection answers with
// the new set — members already delivered marked unchanged — and the ids
// that left; later changes follow the new query.
func TestUpdateSubscription(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		w, r := dial(t, env), dial(t, env)
		w.register(albumSchema)
		ids := []string{}
		for y := 2001; y <= 2006; y++ {
			ids = append(ids, w.create("album", map[string]any{"name": fmt.Sprint(y), "year": y}))
		}
		r.subscribe("page", "album", "ORDER BY year LIMIT 2")
		var res protocol.SubscribeResult
		r.must(protocol.Request{Type: protocol.TypeUpdateSubscription, Sub: "page", Query: "year > 2001 ORDER BY year LIMIT 3"}, &res)
		if len(res.Entities) != 3 || res.Entities[0].ID != ids[1] || !res.Entities[0].Unchanged || res.Entities[1].Unchanged {
			t.Fatalf("entities: %+v", res.Entities)
		}
		if len(res.Removed) != 1 || res.Removed[0] != ids[0] {
			t.Fatalf("removed: %v", res.Removed)
		}
		w.edit("album", ids[0], map[string]any{"name": "not in the new query"})
		w.edit("album", ids[2], map[string]any{"name": "in it"})
		items := r.waitItems(1)
		if items[0].Entity.ID != ids[2] || items[0].Kind != "update" {
			t.Fatalf("items after update: %+v", items)
		}
	})
}

// TestConcurrentWritersAndSubscribers: 20 writers × 500 changes while 50
// subscribers on random queries subscribe at random moments; at the end
// every subscriber's set equals the query run against the store.
func TestConcurrentWritersAndSubscribers(t *testing.T) {
	writers, changes, subscribers := 20, 500, 50
	switch {
	case testing.Short():
		writers, changes, subscribers = 4, 50, 10
	case raceEnabled: // several times slower: keep every query kind, fewer writes
		writers, changes, subscribers = 8, 200, 24
	}
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		setup := dial(t, env)
		setup.register(albumSchema)
		queries := []string{"year >= %d", "year < %d", "year = %d", "year >= %d AND name >= 'm'", "year IN (%d, 2001, 2002)", "year > %d ORDER BY year LIMIT 5", "year <= %d ORDER BY name DESC, year LIMIT 3", "NOT (year = %d) ORDER BY year DESC LIMIT 10"}
		var subs []*tclient
		var subQueries []string
		for i := range subscribers {
			subs = append(subs, dial(t, env))
			subQueries = append(subQueries, fmt.Sprintf(queries[i%len(queries)], 2000+rand.IntN(10)))
		}
		// Writers create a pool of entities, then edit and delete them.
		var wg sync.WaitGroup
		var startSubs sync.WaitGroup
		startSubs.Add(1)
		for wi := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := dial(t, env)
				rng := rand.New(rand.NewPCG(uint64(wi), 7))
				var mine []string
				for n := range changes {
					if n == changes/5 && wi == 0 {
						startSubs.Done()
					}
					switch {
					case len(mine) < 5 || rng.IntN(10) == 0:
						mine = append(mine, c.create("album", map[string]any{"name": string(rune('a' + rng.IntN(26))), "year": 2000 + rng.IntN(10)}))
					case rng.IntN(15) == 0:
						k := rng.IntN(len(mine))
						c.remove("album", mine[k])
						mine = append(mine[:k], mine[k+1:]...)
					default:
						c.edit("album", mine[rng.IntN(len(mine))], map[string]any{"year": 2000 + rng.IntN(10), "name": string(rune('a' + rng.IntN(26)))})
					}
				}
			}()
		}
		startSubs.Wait()
		var sw sync.WaitGroup
		for i, c := range subs {
			sw.Add(1)
			go func() { defer sw.Done(); c.subscribe("q", "album", subQueries[i]) }()
		}
		sw.Wait()
		wg.Wait()
		// Quiescence: a marker entity every subscriber's query can't miss
		// would need a query change; instead wait until each set equals a
		// fresh fetch (which is the truth once writes have stopped).
		for i, c := range subs {
			var truth protocol.EntitiesResult
			setup.must(protocol.Request{Type: protocol.TypeFetch, Collection: "album", Query: subQueries[i]}, &truth)
			want := map[string]string{}
			for _, e := range truth.Entities {
				want[e.ID] = strings.Join(e.Head, ",")
			}
			c.waitFor("subscriber "+subQueries[i]+" to converge", func() bool {
				got := c.set("q")
				if len(got) != len(want) {
					return false
				}
				for id, e := range got {
					if want[id] != strings.Join(e.Head, ",") {
						return false
					}
				}
				return true
			})
			if v := c.violations("q"); len(v) > 0 {
				t.Errorf("subscriber %q: %d violations, first: %v", subQueries[i], len(v), v[:min(5, len(v))])
			}
		}
	})
}

// TestOneTransactionOneFrame: every change of one transaction reaches a
// client in one changes frame, across its subscriptions.
func TestOneTransactionOneFrame(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		w, r := dial(t, env), dial(t, env)
		w.register(albumSchema)
		r.subscribe("new", "album", "year >= 2000")
		r.subscribe("all", "album", "")
		var evs []protocol.Event
		for y := 2001; y <= 2003; y++ {
			id := w.gen.New().String()
			evs = append(evs, protocol.Event{ID: id, Collection: "album", EntityID: id, Parents: []string{}, Operations: raw(map[string]any{"year": y})})
		}
		w.commit(evs...)
		r.waitItems(6)
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.log) != 1 || len(r.log[0].Items) != 6 {
			t.Fatalf("%d frames for one transaction: %+v", len(r.log), r.log)
		}
	})
}
