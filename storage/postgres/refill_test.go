package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

var refillSeed = flag.Uint64("refill.seed", 0, "replay one seed of TestRefillMatchesScan (0: random)")

// refillFunc is reactor.Refill's type; the assignment below checks that
// Store.Refill can be passed where a reactor.Refill is wanted.
type refillFunc = func(ctx context.Context, collection string, q *query.Query, m *query.Matcher, after *entity.State, n int) ([]*entity.State, error)

var _ refillFunc = (*postgres.Store)(nil).Refill

var refillSchema = schema.FromMap("item", map[string]value.Type{
	"name":  value.Text,
	"year":  value.Int,
	"score": value.Float,
	"ok":    value.Bool,
	"at":    value.Time,
	"blob":  value.Bytes,
	"data":  value.JSON,
	"owner": value.Ref,
})

// scanRefill is reactor.ScanRefill's computation over states in memory.
func scanRefill(all []*entity.State, m *query.Matcher, after *entity.State, n int) []*entity.State {
	var out []*entity.State
	for _, st := range all {
		if m.Match(st) && m.Compare(st, after) > 0 {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *entity.State) int { return m.Compare(a, b) })
	return out[:min(n, len(out))]
}

// TestRefillMatchesScan: on random tables, for random ordered queries and
// random `after` states (rows of the table, rows edited or deleted since,
// states that match or not), Refill returns exactly what scanning the
// table in memory returns. Replay a failure with -refill.seed=N.
func TestRefillMatchesScan(t *testing.T) {
	t.Parallel()
	seed := *refillSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d: replay with ./test/with-postgres.sh go test ./storage/postgres/ -run TestRefillMatchesScan -refill.seed=%d", seed, seed)
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	ctx := context.Background()
	const tables, rows, queries = 2, 250, 250
	for ti := range tables {
		t.Run(fmt.Sprintf("t%d", ti), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, uint64(ti)))
			store := postgres.New(pool, postgres.Options{})
			c := refillSchema
			c.Name = fmt.Sprintf("item%d", ti)
			if _, err := store.EnsureCollection(ctx, c); err != nil {
				t.Fatal(err)
			}
			evs := make([]event.Event, rows)
			for i := range evs {
				id := randomID(r)
				evs[i] = event.Event{ID: id, Collection: c.Name, Entity: id, Ops: randomValues(r)}
			}
			if _, err := store.Commit(ctx, evs); err != nil {
				t.Fatal(err)
			}
			var all []*entity.State
			if err := store.Scan(ctx, c.Name, func(st *entity.State) bool { all = append(all, st); return true }); err != nil {
				t.Fatal(err)
			}
			partial := 0
			for range queries {
				src, args := randomRefillQuery(r)
				q, err := query.Parse(src, args...)
				if err != nil {
					t.Fatalf("seed %d: %s %v: %v", seed, src, args, err)
				}
				m, err := q.Compile()
				if err != nil {
					t.Fatal(err)
				}
				after := randomAfter(r, all)
				limit := 1 + r.IntN(30)
				want := scanRefill(all, m, after, limit)
				got, err := store.Refill(ctx, c.Name, q, m, after, limit)
				if err != nil {
					t.Fatalf("seed %d: Refill(%s %v, n=%d): %v", seed, src, args, limit, err)
				}
				if !slices.Equal(stateIDs(got), stateIDs(want)) {
					t.Fatalf("seed %d, table %s: Refill disagrees with a scan\nquery: %s %#v\nn: %d\nafter: %s\nwant: %s\ngot:  %s",
						seed, c.Name, src, args, limit, stateText(after), statesText(want), statesText(got))
				}
				if len(want) > 0 && len(want) < len(query.Apply(m, all)) {
					partial++
				}
			}
			// A generator whose cursors never cut the result would test nothing.
			if partial < queries/4 {
				t.Fatalf("seed %d: only %d of %d refills cut the result: degenerate generator", seed, partial, queries)
			}
		})
	}
}

var (
	refillTexts  = []string{"", "a", "A", "b", "ab", "aB", "é", "z", "日本", "a b", "Z"}
	refillFloats = []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 1.5, -2, 9, 1e300}
	refillTimes  = []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 1000, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	refillJSON = []string{`"a"`, `"B"`, `""`, `9`, `9.0`, `-1`, `1e2`, `0.5`, `true`, `false`, `[1]`, `[]`, `{}`, `{"b":1}`, `null`}
)

// randomValues returns a row with each field often NULL (absent) and
// values from small domains, so that sort keys tie often.
func randomValues(r *rand.Rand) map[string]value.Value {
	vals := map[string]value.Value{}
	set := func(f string, v value.Value) {
		if r.IntN(5) > 0 {
			vals[f] = v
		}
	}
	set("name", value.TextOf(refillTexts[r.IntN(len(refillTexts))]))
	set("year", value.IntOf(int64(1990+r.IntN(8))))
	set("score", value.FloatOf(refillFloats[r.IntN(len(refillFloats))]))
	set("ok", value.BoolOf(r.IntN(2) == 0))
	set("at", value.TimeOf(refillTimes[r.IntN(len(refillTimes))]))
	set("blob", value.BytesOf([]byte(refillTexts[r.IntN(len(refillTexts))])))
	set("owner", value.RefOf(randomID(r).String()[:24+r.IntN(3)]))
	var doc string
	switch r.IntN(4) {
	case 0:
		doc = refillJSON[r.IntN(len(refillJSON))]
	default:
		doc = fmt.Sprintf(`{"a":%s,"n":%d}`, refillJSON[r.IntN(len(refillJSON))], r.IntN(3))
	}
	if v, err := value.JSONOf([]byte(doc)); err == nil && doc != "null" {
		set("data", v)
	}
	return vals
}

var refillKeys = []string{"name", "year", "score", "ok", "at", "blob", "owner", "id", "data", "data.a", "data.n", "missing"}

// randomRefillQuery returns a query with 1–3 ORDER BY keys, mixed
// directions, and usually a predicate.
func randomRefillQuery(r *rand.Rand) (string, []any) {
	var args []any
	leaves := []func() string{
		func() string { args = append(args, int64(1990+r.IntN(8))); return "year >= ?" },
		func() string { args = append(args, refillTexts[r.IntN(len(refillTexts))]); return "name > ?" },
		func() string { return "ok = TRUE" },
		func() string { return "score IS NOT NULL" },
		func() string { return "year IS NULL" },
		func() string { args = append(args, 1.0); return "score < ?" },
		func() string { return "data.a IS NOT NULL" },
		func() string { return "name IN ('a', 'b', 'é')" },
		func() string { args = append(args, 1); return "data.n = ?" },
	}
	var sb strings.Builder
	if r.IntN(5) > 0 {
		sb.WriteString(leaves[r.IntN(len(leaves))]())
		if r.IntN(2) == 0 {
			sb.WriteString([]string{" AND ", " OR "}[r.IntN(2)])
			sb.WriteString(leaves[r.IntN(len(leaves))]())
		}
	}
	sb.WriteString(" ORDER BY ")
	for i := range 1 + r.IntN(3) {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(refillKeys[r.IntN(len(refillKeys))])
		if r.IntN(2) == 0 {
			sb.WriteString(" DESC")
		}
	}
	return sb.String(), args
}

// randomAfter returns the reactor's idea of the window's last member: a
// row, or a row as it was before an edit (values from another row, fields
// unset), or one since deleted (an id not in the table).
func randomAfter(r *rand.Rand, all []*entity.State) *entity.State {
	st := all[r.IntN(len(all))].Clone()
	if r.IntN(3) == 0 {
		other := all[r.IntN(len(all))]
		for f := range maps.Keys(other.Values) {
			if r.IntN(3) == 0 {
				st.Values[f] = other.Values[f]
			}
		}
		for f := range maps.Keys(st.Values) {
			if r.IntN(6) == 0 {
				delete(st.Values, f)
			}
		}
	}
	if r.IntN(5) == 0 {
		st.ID = randomID(r)
	}
	return st
}

// randomID returns an id drawn from r, so that a seed replays the same rows.
func randomID(r *rand.Rand) event.ID {
	var id event.ID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	id[0] = 1
	return id
}

func stateIDs(sts []*entity.State) []string {
	out := []string{}
	for _, st := range sts {
		out = append(out, st.ID.String())
	}
	return out
}

func stateText(st *entity.State) string {
	var sb strings.Builder
	sb.WriteString(st.ID.String())
	for _, f := range slices.Sorted(maps.Keys(st.Values)) {
		fmt.Fprintf(&sb, " %s=%s", f, st.Values[f])
	}
	return sb.String()
}

func statesText(sts []*entity.State) string {
	var sb strings.Builder
	for _, st := range sts {
		sb.WriteString("\n  " + stateText(st))
	}
	return sb.String()
}

// BenchmarkRefill compares Refill's SQL cursor with a scan of the table
// (reactor.ScanRefill's method) on a 100,000-row table, refilling 10 rows
// after the middle of the result. Run with -run '^$' -bench Refill.
func BenchmarkRefill(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b, pgtest.NewDatabase(b))
	store := postgres.New(pool, postgres.Options{})
	if _, err := store.EnsureCollection(ctx, schema.FromMap("big", map[string]value.Type{
		"name": value.Text, "year": value.Int, "score": value.Float,
	})); err != nil {
		b.Fatal(err)
	}
	const rows = 100_000
	ids, names, years, scores := make([]string, rows), make([]string, rows), make([]int64, rows), make([]float64, rows)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rows {
		ids[i] = event.NewID().String()
		names[i] = fmt.Sprintf("name %d", r.IntN(1000))
		years[i] = int64(1950 + r.IntN(75))
		scores[i] = float64(r.IntN(10000)) / 100
	}
	// Written as the API writes (the triggers skip such rows): fast to load.
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `select set_config('ankurah.writer', 'api:big', true)`); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `insert into big (id, _head, name, year, score)
		select id, array[id], name, year, score from unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) as u(id, name, year, score)`,
		ids, names, years, scores); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `create index on big (year); analyze big`); err != nil {
		b.Fatal(err)
	}
	// No index on the sort keys (a top-N sort over a sequential scan); the
	// primary key; an index on the first key, descending (an index range).
	for _, src := range []string{"year >= 1990 ORDER BY score DESC, name", "ORDER BY id", "ORDER BY year DESC, score"} {
		q := query.MustParse(src)
		m, err := q.Compile()
		if err != nil {
			b.Fatal(err)
		}
		res, err := store.Fetch(ctx, "big", q)
		if err != nil {
			b.Fatal(err)
		}
		after := res[len(res)/2]
		b.Run("sql/"+src, func(b *testing.B) {
			for b.Loop() {
				if got, err := store.Refill(ctx, "big", q, m, after, 10); err != nil || len(got) != 10 {
					b.Fatal(len(got), err)
				}
			}
		})
		b.Run("scan/"+src, func(b *testing.B) {
			for b.Loop() {
				var all []*entity.State
				if err := store.Scan(ctx, "big", func(st *entity.State) bool { all = append(all, st); return true }); err != nil {
					b.Fatal(err)
				}
				if got := scanRefill(all, m, after, 10); len(got) != 10 {
					b.Fatal(len(got))
				}
			}
		})
	}
}
