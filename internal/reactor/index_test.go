package reactor_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/value"
)

var (
	indexSeed  = flag.Uint64("reactor.indexseed", 0, "replay one seed of TestIndexMatchesNaive")
	indexSeeds = flag.Int("reactor.indexseeds", 200, "how many seeds TestIndexMatchesNaive runs")
)

// TestIndexMatchesNaive: with random subscriptions of every predicate shape
// (equality, IN, IS NULL, ranges one- and two-sided on numbers, text and
// times, LIKE by prefix and infix, AND/OR/NOT mixtures) added and removed
// between random changes (values of mismatched types, NULLs, missing
// fields, JSON, unicode), every subscription's result set is what its
// compiled query says of every live entity (LIMIT windows, refilled from
// the live entities, included), and a client replaying its items holds
// the same.
func TestIndexMatchesNaive(t *testing.T) {
	t.Parallel()
	seeds := []uint64{*indexSeed}
	if *indexSeed == 0 {
		seeds = nil
		for i := 1; i <= *indexSeeds; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	kinds := map[string]int{}
	for _, seed := range seeds {
		if !runIndexSeed(t, seed, kinds) {
			return
		}
	}
	t.Logf("subscriptions by index: %v", kinds)
	if *indexSeed == 0 {
		for _, k := range []string{"unindexed", "eq", "null", "prefix", "range", "gram"} {
			if kinds[k] == 0 {
				t.Errorf("no subscription was registered under %s: the test does not exercise it", k)
			}
		}
	}
}

type naiveSub struct {
	s      *reactor.Subscription
	text   string
	m      *query.Matcher
	client client
}

func runIndexSeed(t *testing.T, seed uint64, kinds map[string]int) bool {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 14))
	ctx := context.Background()
	live := map[event.ID]*entity.State{}
	var ids []event.ID
	liveList := func() []*entity.State {
		var out []*entity.State
		for _, id := range ids {
			if st := live[id]; st != nil {
				out = append(out, st)
			}
		}
		return out
	}
	// LIMIT windows refill from the live entities, as ScanRefill does
	// from a store.
	re := reactor.New(func(_ context.Context, _ string, _ *query.Query, m *query.Matcher, after *entity.State, n int) ([]*entity.State, error) {
		var out []*entity.State
		for _, st := range query.Apply(m, liveList()) {
			if m.Compare(st, after) > 0 && len(out) < n {
				out = append(out, st)
			}
		}
		return out, nil
	})
	var subs []*naiveSub
	fail := func(format string, args ...any) bool {
		t.Errorf("seed %d (replay: go test ./internal/reactor -run TestIndexMatchesNaive -reactor.indexseed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
		return false
	}
	subscribe := func() bool {
		text, args := randomPredicate(r)
		if r.IntN(4) == 0 {
			// On o, which holds integers or nothing: an order over a field
			// of mixed types is the evaluator's business, not the index's.
			text += fmt.Sprintf(" ORDER BY o%s LIMIT %d", []string{"", " DESC"}[r.IntN(2)], 1+r.IntN(4))
		}
		q, err := query.Parse(text, args...)
		if err != nil {
			return true // a literal the language refuses there (e.g. a LIKE pattern that is not text)
		}
		m, err := q.Compile()
		if err != nil {
			return fail("compile %s: %v", text, err)
		}
		initial := query.Apply(m, liveList())
		cl := client{}
		for _, st := range initial {
			cl[st.ID] = st
		}
		s, err := re.Subscribe("c", q, initial)
		if err != nil {
			return fail("subscribe %s: %v", text, err)
		}
		kinds[reactor.IndexKind(s)]++
		var typed []string
		for _, a := range args {
			typed = append(typed, fmt.Sprintf("%s %v", a.(value.Value).Type(), a))
		}
		subs = append(subs, &naiveSub{s: s, text: fmt.Sprintf("%s %v", text, typed), m: m, client: cl})
		return true
	}
	for i := 0; i < 30; i++ {
		if !subscribe() {
			return false
		}
	}
	for step := 0; step < 40; step++ {
		// Interleave subscribing and unsubscribing.
		for k := r.IntN(4); k > 0; k-- {
			if r.IntN(2) == 0 && len(subs) > 0 {
				i := r.IntN(len(subs))
				re.Unsubscribe(subs[i].s)
				subs = slices.Delete(subs, i, i+1)
			} else if !subscribe() {
				return false
			}
		}
		// A transaction of one to three changes: creations, edits, deletions.
		var changes []reactor.Change
		touched := map[event.ID]bool{}
		for k := 1 + r.IntN(3); k > 0; k-- {
			var id event.ID
			if len(ids) > 0 && r.IntN(3) > 0 {
				id = ids[r.IntN(len(ids))]
			} else {
				id = event.NewID()
				ids = append(ids, id)
			}
			if touched[id] {
				continue
			}
			touched[id] = true
			old := live[id]
			st := entity.New("c", id)
			st.Head = event.Head{event.NewID()}
			if old != nil && r.IntN(8) == 0 {
				st.Deleted = true
				delete(live, id)
			} else {
				for _, f := range []string{"n", "s", "t", "j"} {
					if r.IntN(6) > 0 {
						st.Values[f] = randomValue(r, true)
					}
				}
				if r.IntN(4) > 0 {
					st.Values["o"] = value.IntOf(int64(r.IntN(10)))
				}
				live[id] = st
			}
			changes = append(changes, reactor.Change{Collection: "c", ID: id, Old: old, New: st})
		}
		sets, err := re.Apply(ctx, changes)
		if err != nil {
			return fail("step %d: %v", step, err)
		}
		for _, sb := range subs {
			sb.client.apply(t, sets[sb.s])
			// In query order, cut to the LIMIT.
			var want, got []event.ID
			for _, st := range query.Apply(sb.m, liveList()) {
				want = append(want, st.ID)
			}
			for _, st := range re.Members(sb.s) {
				got = append(got, st.ID)
			}
			if !slices.Equal(got, want) {
				var diff []string
				for _, id := range ids {
					if slices.Contains(got, id) != slices.Contains(want, id) && live[id] != nil {
						diff = append(diff, fmt.Sprintf("%s (reactor %v, query %v)", describe(live[id]), slices.Contains(got, id), slices.Contains(want, id)))
					}
				}
				return fail("step %d, %s: reactor and query disagree on %v", step, sb.text, diff)
			}
			if len(sb.client) != len(want) {
				return fail("step %d, %s: the client holds %d entities, the query matches %d", step, sb.text, len(sb.client), len(want))
			}
		}
	}
	for _, sb := range subs {
		re.Unsubscribe(sb.s)
	}
	return true
}

// describe lists an entity's values with their types.
func describe(st *entity.State) string {
	var fs []string
	for f, v := range st.Values {
		fs = append(fs, fmt.Sprintf("%s: %s %v", f, v.Type(), v))
	}
	slices.Sort(fs)
	return "{" + strings.Join(fs, ", ") + "}"
}

// randomPredicate returns a query text over fields n, s, t, j (and x, which
// no entity has) with its arguments.
func randomPredicate(r *rand.Rand) (string, []any) {
	var args []any
	lit := func() string {
		args = append(args, randomValue(r, false))
		return "?"
	}
	field := func() string { return []string{"n", "s", "t", "j", "x"}[r.IntN(5)] }
	var term func(depth int) string
	term = func(depth int) string {
		f := field()
		switch k := r.IntN(16); {
		case k == 0:
			return f + " = " + lit()
		case k == 1:
			return f + " IN (" + lit() + ", " + lit() + ")"
		case k == 2:
			return f + []string{" IS NULL", " IS NOT NULL"}[r.IntN(2)]
		case k <= 5:
			return f + " " + []string{"<", "<=", ">", ">="}[r.IntN(4)] + " " + lit()
		case k == 6:
			return f + []string{" BETWEEN ", " NOT BETWEEN "}[r.IntN(4)/3] + lit() + " AND " + lit()
		case k == 7:
			return f + " " + []string{">", ">="}[r.IntN(2)] + " " + lit() + " AND " + f + " " + []string{"<", "<="}[r.IntN(2)] + " " + lit()
		case k <= 9 || k >= 14:
			args = append(args, value.TextOf(randomPattern(r)))
			return "s" + []string{" LIKE ", " LIKE ", " NOT LIKE "}[r.IntN(3)] + "?"
		case k == 10 && depth < 2:
			return "(" + term(depth+1) + " OR " + term(depth+1) + ")"
		case k == 11 && depth < 2:
			return "NOT (" + term(depth+1) + ")"
		case k == 12:
			return f + " <> " + lit()
		}
		return f + " >= " + lit()
	}
	text := term(0)
	for n := r.IntN(3); n > 0; n-- {
		text += " AND " + term(0)
	}
	return text, args
}

var patternPieces = []string{"a", "ab", "b", "é", "日本", "\\%", "\\_", "%", "%", "_", "A", " "}

func randomPattern(r *rand.Rand) string {
	p := ""
	for n := 1 + r.IntN(4); n > 0; n-- {
		p += patternPieces[r.IntN(len(patternPieces))]
	}
	return p
}

var (
	t0         = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	textValues = []string{"", "a", "ab", "abc", "b", "B", "é", "éa", "日本語", "a%b", "a_b", "ab ", "1.5", "2", "NaN",
		"2024-01-02", "2024-01-02T03:04:05Z", "2024-01-02T05:04:05+02:00", "2024-01-02 03:04:05", "\x00", "\xff",
		"12:30", "P1D", "PT25H", "ok", "happy", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a}",
		strings.Repeat("xé", 40) + "ab", strings.Repeat("b", 90) + "a_b"}
)

// randomValue draws from a small pool, so that values and literals collide
// at range boundaries; entity values (forEntity) also take JSON, char and
// ref forms.
func randomValue(r *rand.Rand, forEntity bool) value.Value {
	nums := []float64{-1, 0, 0.1, 0.5, 1, 2, 1 << 53, math.Inf(1), math.NaN()}
	num := nums[r.IntN(len(nums))]
	kinds := 13
	if forEntity {
		kinds = 18
	}
	switch r.IntN(kinds) {
	case 12:
		// Kinds the range index does not order: as literals they leave a
		// subscription unindexed, as values they visit every range.
		return []value.Value{
			from("12:30:00", value.TimeOfDay), from("P1D", value.Interval), enumOf("ok"),
			from("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", value.UUID), arrayOf("text[]", value.TextOf("a")),
		}[r.IntN(5)]
	case 0:
		return value.NullValue
	case 1:
		return value.IntOf(int64([]int{-1, 0, 1, 2, 3, 1<<53 + 1}[r.IntN(6)]))
	case 2:
		return value.FloatOf(num)
	case 3:
		return value.RealOf(float32(num))
	case 4:
		v, err := value.NumericOf([]string{"0.1", "0.50", "1", "2.000", "-1", "NaN", "Infinity", "9007199254740993"}[r.IntN(8)])
		if err != nil {
			panic(err)
		}
		return v
	case 5, 6, 7:
		return value.TextOf(textValues[r.IntN(len(textValues))])
	case 8:
		return value.TimeOf(t0.Add(time.Duration(r.IntN(5)-2) * time.Hour))
	case 9:
		return value.TimestampOf(t0.Add(time.Duration(r.IntN(5)-2) * time.Hour))
	case 10:
		v, err := value.DateOfDays(19724 + int64(r.IntN(3)-1))
		if err != nil {
			panic(err)
		}
		return v
	case 11:
		return value.BoolOf(r.IntN(2) == 0)
	case 13:
		return value.CharOf(textValues[r.IntN(len(textValues))])
	case 14:
		return value.RefOf(textValues[r.IntN(len(textValues))])
	default:
		doc := []string{`1`, `0.5`, `"a"`, `"ab"`, `"\u00e9"`, `null`, `{"a": 1}`, `[1]`, `true`, `2`}[r.IntN(10)]
		v, err := value.JSONOf([]byte(doc))
		if err != nil {
			panic(err)
		}
		return v
	}
}
