package reactor_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/value"
)

var seedFlag = flag.Uint64("reactor.seed", 0, "replay one seed of the reactor property test")

var queries = []string{
	"",
	"genre = 'a'",
	"genre IN ('a', 'b') AND year >= 2001",
	"year = 2001",
	"year IN (2001, 2003.0)",
	"meta = 3",
	"meta = 'x' OR live = true",
	"live = true ORDER BY year DESC LIMIT 3",
	"genre = 'b' ORDER BY rating LIMIT 2",
	"year > 2000 ORDER BY genre, year DESC LIMIT 4",
	"ORDER BY rating DESC LIMIT 5",
	"rating IS NULL",
	"NOT (genre = 'a') AND year = 2002",
	"genre = 'c' AND year IN (2000, 2004) ORDER BY id DESC LIMIT 1",
}

// randomValues returns field values with mixed types, NULLs included.
func randomValues(r *rand.Rand) map[string]value.Value {
	v := map[string]value.Value{
		"genre": value.TextOf([]string{"a", "b", "c"}[r.IntN(3)]),
		"year":  value.IntOf(int64(2000 + r.IntN(5))),
		"live":  value.BoolOf(r.IntN(2) == 0),
	}
	if r.IntN(3) > 0 {
		v["rating"] = value.FloatOf(float64(r.IntN(10)) / 2)
	} else {
		v["rating"] = value.NullValue
	}
	switch r.IntN(4) {
	case 0:
		v["meta"], _ = value.JSONOf([]byte(fmt.Sprint(r.IntN(5))))
	case 1:
		v["meta"], _ = value.JSONOf([]byte(`"x"`))
	case 2:
		v["meta"], _ = value.JSONOf([]byte(`{"a": 3}`))
	default:
		v["meta"] = value.NullValue
	}
	return v
}

// client replays a subscription's items as a remote client would.
type client map[event.ID]*entity.State

func (c client) apply(t *testing.T, items []reactor.Item) {
	t.Helper()
	for _, it := range items {
		_, had := c[it.ID]
		switch it.Kind {
		case reactor.Add:
			if had {
				t.Fatalf("add of a member %s", it.ID)
			}
			c[it.ID] = it.State
		case reactor.Update:
			if !had {
				t.Fatalf("update of a non-member %s", it.ID)
			}
			c[it.ID] = it.State
		case reactor.Remove:
			if !had {
				t.Fatalf("remove of a non-member %s", it.ID)
			}
			delete(c, it.ID)
		}
	}
}

// After every transaction, each subscription's maintained result set (and a
// client that replays its items) equals the query run from scratch: the
// index never hides a match, removals are exact, LIMIT windows refill.
func TestReactorMatchesFreshQueries(t *testing.T) {
	t.Parallel()
	seeds := []uint64{*seedFlag}
	if *seedFlag == 0 {
		seeds = nil
		for i := uint64(1); i <= 40; i++ {
			seeds = append(seeds, i)
		}
	}
	for _, seed := range seeds {
		runSeed(t, seed)
	}
}

func runSeed(t *testing.T, seed uint64) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 99))
	store := memory.New()
	n := node.New(store)
	if _, err := store.EnsureCollection(ctx, schema.Collection{Name: "album"}); err != nil {
		t.Fatal(err)
	}
	var ids []event.ID
	tx := n.Begin()
	for i := 0; i < 25; i++ {
		e, _ := tx.Create("album", randomValues(r))
		ids = append(ids, e.ID())
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	re := reactor.New(reactor.ScanRefill(store))
	type sub struct {
		s      *reactor.Subscription
		q      *query.Query
		client client
	}
	var subs []sub
	for _, src := range queries {
		q := query.MustParse(src)
		initial, err := storage.Fetch(ctx, store, "album", q)
		if err != nil {
			t.Fatal(err)
		}
		s, err := re.Subscribe("album", q, initial)
		if err != nil {
			t.Fatal(err)
		}
		c := client{}
		for _, st := range initial {
			c[st.ID] = st
		}
		subs = append(subs, sub{s, q, c})
	}

	live := map[event.ID]bool{}
	for _, id := range ids {
		live[id] = true
	}
	for step := 0; step < 60; step++ {
		tx := n.Begin()
		var touched []event.ID
		for k := 1 + r.IntN(3); k > 0; k-- {
			switch op := r.IntN(10); {
			case op == 0 || len(live) < 5: // create
				e, _ := tx.Create("album", randomValues(r))
				touched = append(touched, e.ID())
			default:
				id := ids[r.IntN(len(ids))]
				if !live[id] || containsID(touched, id) {
					continue
				}
				touched = append(touched, id)
				if op == 1 {
					if err := tx.Delete(ctx, "album", id); err != nil {
						t.Fatal(err)
					}
					continue
				}
				e, err := tx.Edit(ctx, "album", id)
				if err != nil {
					t.Fatal(err)
				}
				for f, v := range randomValues(r) {
					if r.IntN(2) == 0 {
						e.Set(f, v)
					}
				}
			}
		}
		before := map[event.ID]*entity.State{}
		olds, _ := store.Get(ctx, "album", touched)
		for _, st := range olds {
			before[st.ID] = st
		}
		states, err := tx.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var changes []reactor.Change
		for _, st := range states {
			changes = append(changes, reactor.Change{Collection: "album", ID: st.ID, Old: before[st.ID], New: st})
			if !containsID(ids, st.ID) {
				ids = append(ids, st.ID)
			}
			live[st.ID] = !st.Deleted
		}
		sets, err := re.Apply(ctx, changes)
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range subs {
			sb.client.apply(t, sets[sb.s])
			want, _ := storage.Fetch(ctx, store, "album", sb.q)
			got := re.Members(sb.s)
			if n := re.Count(sb.s); n != len(got) {
				t.Fatalf("seed %d step %d, %q: Count %d, Members %d", seed, step, sb.q, n, len(got))
			}
			if idList(got) != idList(want) {
				t.Fatalf("seed %d (replay: -reactor.seed=%d) step %d, %q:\nreactor %s\nfresh   %s", seed, seed, step, sb.q, idList(got), idList(want))
			}
			if len(sb.client) != len(want) {
				t.Fatalf("seed %d step %d, %q: client holds %d, want %d", seed, step, sb.q, len(sb.client), len(want))
			}
			for _, st := range want {
				if c, ok := sb.client[st.ID]; !ok || !value.Equal(c.Get("year"), st.Get("year")) || !value.Equal(c.Get("genre"), st.Get("genre")) {
					t.Fatalf("seed %d step %d, %q: client's copy of %s is stale", seed, step, sb.q, st.ID)
				}
			}
		}
	}
	for _, sb := range subs {
		re.Unsubscribe(sb.s)
	}
}

func containsID(ids []event.ID, id event.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func idList(sts []*entity.State) string {
	s := ""
	for _, st := range sts {
		s += st.ID.String()[22:] + " "
	}
	return s
}

// A change only visits the subscriptions indexed under its values (plus the
// unindexed ones and those it belongs to): with 10,000 equality
// subscriptions, one change yields only its own subscription's item.
func TestIndexedSubscriptionsOnlySeeTheirKeys(t *testing.T) {
	t.Parallel()
	re := reactor.New(nil)
	subs := map[int]*reactor.Subscription{}
	for i := 0; i < 10000; i++ {
		s, err := re.Subscribe("album", query.MustParse("year = ?", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	st := entity.New("album", event.NewID())
	st.Head = event.Head{st.ID}
	st.Values["year"] = value.IntOf(1234)
	sets, err := re.Apply(context.Background(), []reactor.Change{{Collection: "album", ID: st.ID, New: st}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 || len(sets[subs[1234]]) != 1 || sets[subs[1234]][0].Kind != reactor.Add {
		t.Fatalf("change sets: %v", sets)
	}
}

func from(s string, t value.Type) value.Value {
	v, err := value.FromText(s, t)
	if err != nil {
		panic(err)
	}
	return v
}

func enumOf(label string) value.Value {
	t, _ := value.ParseType("enum('sad', 'ok', 'happy')")
	v, err := value.EnumOf(t, label)
	if err != nil {
		panic(err)
	}
	return v
}

func arrayOf(typ string, es ...value.Value) value.Value {
	t, _ := value.ParseType(typ)
	v, err := value.ArrayOf(t, es)
	if err != nil {
		panic(err)
	}
	return v
}

// Values the query language calls equal share an index key, whatever their
// types: the reactor adds exactly the entities the compiled query matches.
func TestIndexKeysFollowQuerySemantics(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	j := func(s string) value.Value { v, _ := value.JSONOf([]byte(s)); return v }
	cases := []struct {
		q string
		v value.Value
	}{
		{"f = 2000", value.FloatOf(2000)},
		{"f = 2000.0", value.IntOf(2000)},
		{"f = 2000.5", value.FloatOf(2000.5)},
		{"f = 9007199254740993", value.FloatOf(9007199254740992)},
		{"f = 9", j("9")},
		{"f = 9", j("9.0")},
		{"f = '9'", j("9")},
		{"f = '9'", j(`"9"`)},
		{"f = true", j("true")},
		{"f = 'x'", value.RefOf("x")},
		{"f = '2024-01-02T03:04:05.000006Z'", value.TimeOf(at)},
		{"f = '2024-01-02T04:04:05.000006+01:00'", value.TimeOf(at)},
		{"f IN (1, 'a', 2.5)", value.FloatOf(2.5)},
		{"f = 0", value.FloatOf(math.Copysign(0, -1))},
		{"f = 'NaN'", value.FloatOf(math.NaN())},
		{"f = 3", value.TextOf("3")},
		// The types beyond the first eight.
		{"f = 2000", from("2000.00", value.Numeric)},
		{"f = 2000.5", from("2000.50", value.Numeric)},
		{"f = '2000.50'", from("2000.5", value.Numeric)},
		{"f = 0.5", value.RealOf(0.5)},
		{"f = 0.1", value.RealOf(0.1)},              // a real compares at real precision
		{"f IN (16777217)", value.RealOf(16777216)}, // … the literal rounded to the nearest real
		{"f = 'a'", value.CharOf("a  ")},
		{"f = 'a '", value.CharOf("a  ")},
		{"f = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", from("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", value.UUID)},
		{"f = '2024-01-02'", from("2024-01-02", value.Date)},
		{"f = '12:30'", from("12:30:00", value.TimeOfDay)},
		{"f = '2024-01-02 03:04:05'", from("2024-01-02T03:04:05", value.Timestamp)},
		{"f = '2024-01-02T03:04:05.000006Z'", value.TimestampOf(at)},
		{"f = 'P30D'", from("P1M", value.Interval)},
		{"f = 'PT24H'", from("P1D", value.Interval)},
		{"f = 'ok'", enumOf("ok")},
		{"f IN ('{1.5}', 'x')", arrayOf("numeric[]", from("1.50", value.Numeric))},
		{"f = '{a}'", arrayOf("text[]", value.TextOf("a"))},
		// A numeric compares with a real literal as the real's shortest
		// decimal: numeric 0.1 equals real 0.1.
		{"f = ?", from("0.1", value.Numeric)},
	}
	args := map[string][]any{"f = ?": {value.RealOf(0.1)}}
	for _, c := range cases {
		re := reactor.New(nil)
		q := query.MustParse(c.q, args[c.q]...)
		s, err := re.Subscribe("c", q, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := q.Compile()
		st := entity.New("c", event.NewID())
		st.Head = event.Head{st.ID}
		st.Values["f"] = c.v
		sets, _ := re.Apply(context.Background(), []reactor.Change{{Collection: "c", ID: st.ID, New: st}})
		if got, want := len(sets[s]) == 1, m.Match(st); got != want {
			t.Errorf("%s with f = %v: reactor added %v, query matches %v", c.q, c.v, got, want)
		}
	}
}

// TestRefillAheadOfTheStream: a refill that reads storage ahead of the
// changes applied so far (as Postgres does) can return a member again, at a
// newer state that sorts after the window's end. The member keeps the
// state the stream gave it, and the window is still filled with newcomers.
func TestRefillAheadOfTheStream(t *testing.T) {
	t.Parallel()
	album := func(year int64) *entity.State {
		st := entity.New("album", event.NewID())
		st.Head = event.Head{st.ID}
		st.Values["year"] = value.IntOf(year)
		return st
	}
	a, b, c := album(1), album(2), album(4)
	bAhead := b.Clone()
	bAhead.Values["year"] = value.IntOf(3) // a later write to b, not streamed yet
	aLeft := a.Clone()
	aLeft.Values["year"] = value.IntOf(10)
	stored := []*entity.State{aLeft, bAhead, c}

	q := query.MustParse("ORDER BY year LIMIT 2")
	m, _ := q.Compile()
	re := reactor.New(func(_ context.Context, _ string, _ *query.Query, _ *query.Matcher, after *entity.State, n int) ([]*entity.State, error) {
		var out []*entity.State
		for _, st := range stored {
			if m.Compare(st, after) > 0 {
				out = append(out, st)
			}
		}
		slices.SortFunc(out, func(x, y *entity.State) int { return m.Compare(x, y) })
		return out[:min(n, len(out))], nil
	})
	s, err := re.Subscribe("album", q, []*entity.State{a, b})
	if err != nil {
		t.Fatal(err)
	}
	sets, err := re.Apply(context.Background(), []reactor.Change{{Collection: "album", ID: a.ID, New: aLeft}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[event.ID]reactor.Kind{}
	for _, it := range sets[s] {
		got[it.ID] = it.Kind
	}
	if len(got) != 2 || got[a.ID] != reactor.Remove || got[c.ID] != reactor.Add {
		t.Fatalf("items %v; want a removed, c added, b untouched", sets[s])
	}
	members := re.Members(s)
	if len(members) != 2 || members[0] != b || members[1].ID != c.ID {
		t.Fatalf("members %v; want b at the stream's state, then c", members)
	}
}

// TestStaleWithoutRefillSource: without a refill source (the server's
// reactor), a full window that loses members it cannot replace is reported
// stale and left exactly as it was before the transaction — also when the
// same transaction changes other members — while subscriptions without
// LIMIT and windows that stay full get their items.
func TestStaleWithoutRefillSource(t *testing.T) {
	t.Parallel()
	album := func(year int64) *entity.State {
		st := entity.New("album", event.NewID())
		st.Head = event.Head{st.ID}
		st.Values["year"] = value.IntOf(year)
		return st
	}
	moved := func(st *entity.State, year int64) *entity.State {
		c := st.Clone()
		c.Values["year"] = value.IntOf(year)
		return c
	}
	a, b, c := album(1), album(2), album(3)
	for _, tc := range []struct {
		name    string
		changes []reactor.Change
		stale   bool
	}{
		{"a member leaves", []reactor.Change{{Collection: "album", ID: a.ID, New: moved(a, 10)}}, true},
		{"a member is deleted, another edited", []reactor.Change{
			{Collection: "album", ID: b.ID, New: moved(b, 0)},
			{Collection: "album", ID: a.ID, New: nil}}, true},
		{"a member moves within the window", []reactor.Change{{Collection: "album", ID: b.ID, New: moved(b, 0)}}, false},
		{"an entity enters at the top", []reactor.Change{{Collection: "album", ID: c.ID, New: moved(c, 0)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := reactor.New(nil)
			win, err := re.Subscribe("album", query.MustParse("ORDER BY year LIMIT 2"), []*entity.State{a, b})
			if err != nil {
				t.Fatal(err)
			}
			all, err := re.Subscribe("album", query.MustParse(""), []*entity.State{a, b, c})
			if err != nil {
				t.Fatal(err)
			}
			res := re.ApplyBatch(context.Background(), tc.changes, nil)
			if got := slices.Contains(res.Stale, win); got != tc.stale {
				t.Fatalf("stale %v, want %v (items %v)", got, tc.stale, res.Items[win])
			}
			if len(res.Items[all]) != len(tc.changes) {
				t.Errorf("the query without LIMIT got %d items for %d changes", len(res.Items[all]), len(tc.changes))
			}
			if !tc.stale {
				return
			}
			if len(res.Items[win]) != 0 {
				t.Errorf("a stale window got items: %v", res.Items[win])
			}
			if m := re.Members(win); len(m) != 2 || m[0] != a || m[1] != b {
				t.Errorf("a stale window changed: %v", m)
			}
			if _, err := re.ApplyTo(context.Background(), win, tc.changes, nil); !errors.Is(err, reactor.ErrStale) {
				t.Errorf("ApplyTo: %v, want ErrStale", err)
			}
		})
	}
}
