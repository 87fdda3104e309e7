package server_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
)

var (
	authSeeds = flag.Int("auth.seeds", 4, "seeds of TestPolicyMatchesSQL per backend")
	authSeed  = flag.Uint64("auth.seed", 0, "run TestPolicyMatchesSQL with this seed only")
)

// A rule of the differential test, written twice: in the policy's query
// language, and by hand in SQL over the reference table, where @sub,
// @teams (text[]), @level and @role are the user's claims.
var diffRules = []struct{ rule, sql string }{
	{"owner = $jwt.sub", "owner = @sub"},
	{"team IN $jwt.teams", "team = any(@teams)"},
	{"public = true OR owner = $jwt.sub", "public = true or owner = @sub"},
	{"level <= $jwt.level", "level <= @level"},
	{"$jwt.role = 'admin' OR owner = $jwt.sub", "@role = 'admin' or owner = @sub"},
	{"NOT (owner = $jwt.sub)", "not (owner = @sub)"},
	{"team IN $jwt.teams AND level <= $jwt.level", "team = any(@teams) and level <= @level"},
	{"NOT ($jwt.role = 'admin') AND public = true", "not (@role = 'admin') and public = true"},
	{"title LIKE 'a%' OR team NOT IN $jwt.teams", "title like 'a%' or team <> all(@teams)"},
}

// The queries users run, also written twice; @n is a number argument.
var diffQueries = []struct {
	query, sql, order string
	limit             int
}{
	{"", "true", "id", 0},
	{"n >= ?", "n >= @n", "id", 0},
	{"n < ? ORDER BY n LIMIT 3", "n < @n", "n, id", 3},
	{"ORDER BY title DESC, n LIMIT 4", "true", "title desc, n, id", 4},
	{"public = false OR n > ? ORDER BY level DESC LIMIT 5", "public = false or n > @n", "level desc nulls first, id", 5},
}

// diffUser is one principal of the test and its claims.
type diffUser struct {
	sub, role string
	teams     []string
	level     int64
	query     int
	n         int64
	claims    map[string]any
	c         *tclient
}

// TestPolicyMatchesSQL: with random entities, users, rules and queries,
// what each user receives — a live query's snapshot and its changes
// (windows refilled included), a resubscription with known heads, fetch,
// get and history — is exactly what SQL with the rule applied returns for
// that user. The expected rows come from hand-written SQL over a reference
// table that mirrors every write, not from our translation. Replay with
// -auth.seed=N.
func TestPolicyMatchesSQL(t *testing.T) {
	ref := pgtest.Pool(t, pgtest.NewDatabase(t))
	seeds := make([]uint64, 0, *authSeeds)
	if *authSeed != 0 {
		seeds = append(seeds, *authSeed)
	} else {
		for i := range *authSeeds {
			seeds = append(seeds, uint64(i+1))
		}
	}
	for _, kind := range servertest.Kinds {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", kind, seed), func(t *testing.T) {
				t.Parallel()
				runPolicyDiff(t, kind, seed, ref)
			})
		}
	}
}

func runPolicyDiff(t *testing.T, kind string, seed uint64, ref *pgxpool.Pool) {
	r := rand.New(rand.NewPCG(seed, 13))
	rule := diffRules[r.IntN(len(diffRules))]
	policy := fmt.Sprintf(`{"default_role":"user","roles":{
		"user":{"collections":{"item":{"read":%q}}},
		"admin":{"schema":true,"collections":{"*":{"read":"true","write":"true"}}}}}`, rule.rule)
	env, _ := authEnv(t, kind, policy, nil)
	admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
	admin.register(protocol.Collection{Name: "item", Fields: []protocol.Field{
		{Name: "owner", Type: "text"}, {Name: "team", Type: "text"}, {Name: "level", Type: "bigint"},
		{Name: "public", Type: "boolean"}, {Name: "title", Type: "text"}, {Name: "n", Type: "bigint"}}})
	table := fmt.Sprintf("ref_%s_%d", kind, seed)
	ctx := context.Background()
	if _, err := ref.Exec(ctx, "create table "+table+" (id text collate \"C\" primary key, owner text collate \"C\", team text collate \"C\", level bigint, public boolean, title text collate \"C\", n bigint)"); err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, rule %q (replay: go test ./server -run 'TestPolicyMatchesSQL/%s/' -auth.seed=%d)", seed, rule.rule, kind, seed)

	names := []string{"u0", "u1", "u2", "u3"}
	teams := []string{"red", "blue", "green"}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	randomValues := func() map[string]any {
		v := map[string]any{}
		maybe := func(k string, f func() any) {
			if r.IntN(8) > 0 { // sometimes missing: NULL
				v[k] = f()
			}
		}
		maybe("owner", func() any { return pick(names) })
		maybe("team", func() any { return pick(teams) })
		maybe("level", func() any { return r.Int64N(5) })
		maybe("public", func() any { return r.IntN(2) == 0 })
		maybe("title", func() any { return pick([]string{"a", "ab", "b", "ba", "c"}) })
		maybe("n", func() any { return r.Int64N(10) })
		return v
	}
	mirror := func(id string, vals map[string]any, del bool) {
		if del {
			if _, err := ref.Exec(ctx, "delete from "+table+" where id = $1", id); err != nil {
				t.Fatal(err)
			}
			return
		}
		cols := []string{"id"}
		args := []any{id}
		sets := []string{}
		for _, k := range []string{"owner", "team", "level", "public", "title", "n"} {
			v, ok := vals[k]
			if !ok {
				continue
			}
			cols = append(cols, k)
			args = append(args, v)
			sets = append(sets, k+" = excluded."+k)
		}
		ph := make([]string, len(args))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		q := "insert into " + table + " (" + strings.Join(cols, ", ") + ") values (" + strings.Join(ph, ", ") + ") on conflict (id) do "
		if len(sets) == 0 {
			q += "nothing"
		} else {
			q += "update set " + strings.Join(sets, ", ")
		}
		if _, err := ref.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}

	var live []string
	for range 30 {
		v := randomValues()
		id := admin.create("item", v)
		mirror(id, v, false)
		live = append(live, id)
	}
	users := make([]*diffUser, len(names))
	for i, name := range names {
		// $jwt.role is the token's role claim: "user" for every user here
		// (an "admin" token would get the admin role's grants instead).
		u := &diffUser{sub: name, role: "user", level: r.Int64N(5), query: r.IntN(len(diffQueries)), n: r.Int64N(10)}
		claims := map[string]any{"level": u.level}
		switch r.IntN(4) {
		case 0: // no teams claim at all: NULL
		case 1:
			u.teams = []string{}
			claims["teams"] = u.teams
		default:
			u.teams = []string{}
			for _, tm := range teams {
				if r.IntN(2) == 0 {
					u.teams = append(u.teams, tm)
				}
			}
			claims["teams"] = u.teams
		}
		u.claims = claims
		u.c = dialAs(t, env, token(t, name, "user", claims, time.Hour))
		users[i] = u
	}
	expected := func(u *diffUser, withQuery bool) []string {
		q := diffQueries[u.query]
		where := "(" + rule.sql + ")"
		order := "id"
		limit := ""
		if withQuery {
			where += " and (" + q.sql + ")"
			order = q.order
			if q.limit > 0 {
				limit = fmt.Sprintf(" limit %d", q.limit)
			}
		}
		sql := "with p as (select $1::text as p_sub, $2::text[] as p_teams, $3::bigint as p_level, $4::text as p_role, $5::bigint as p_n) " +
			"select id from " + table + ", p where " + where + " order by " + order + limit
		var teamsArr any // NULL when the token has no teams claim
		if u.teams != nil {
			teamsArr = u.teams
		}
		repl := strings.NewReplacer("@sub", "p_sub", "@teams", "p_teams", "@level", "p_level", "@role", "p_role", "@n", "p_n")
		rows, err := ref.Query(ctx, repl.Replace(sql), u.sub, teamsArr, u.level, u.role, u.n)
		if err != nil {
			t.Fatalf("reference query %s: %v", sql, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	args := func(u *diffUser) []any {
		if strings.Contains(diffQueries[u.query].query, "?") {
			return []any{u.n}
		}
		return nil
	}
	for _, u := range users {
		u.c.subscribe("s", "item", diffQueries[u.query].query, args(u)...)
	}
	check := func(phase string) {
		t.Helper()
		for _, u := range users {
			want := expected(u, true)
			sorted := slices.Clone(want)
			slices.Sort(sorted)
			// Live: the subscription converges to the expected rows.
			deadline := time.Now().Add(waitTimeout)
			for {
				got := keys(u.c.set("s"))
				if slices.Equal(got, sorted) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s (rule %q, query %q, n=%d, teams %v, level %d) holds %v, SQL says %v", phase, u.sub, rule.rule, diffQueries[u.query].query, u.n, u.teams, u.level, got, sorted)
				}
				time.Sleep(5 * time.Millisecond) // polling the client's copy, bounded by the deadline
			}
			if v := u.c.violations("s"); len(v) > 0 {
				t.Fatalf("%s: %s's stream broke its promises: %v", phase, u.sub, v)
			}
			// Fetch: the same rows, in the same order.
			var fres protocol.EntitiesResult
			var raw []json.RawMessage
			for _, a := range args(u) {
				b, _ := json.Marshal(a)
				raw = append(raw, b)
			}
			u.c.must(protocol.Request{Type: protocol.TypeFetch, Collection: "item", Query: diffQueries[u.query].query, Args: raw}, &fres)
			if got := entityIDs(fres.Entities); !slices.Equal(got, want) {
				t.Fatalf("%s: %s fetches %v, SQL says %v", phase, u.sub, got, want)
			}
			// Get by id: exactly the readable ones, whatever the query.
			readable := expected(u, false)
			var gres protocol.EntitiesResult
			u.c.must(protocol.Request{Type: protocol.TypeGet, Collection: "item", IDs: live}, &gres)
			got := entityIDs(gres.Entities)
			slices.Sort(got)
			if !slices.Equal(got, readable) {
				t.Fatalf("%s: %s gets %v, SQL says %v", phase, u.sub, got, readable)
			}
			// History: readable entities only.
			id := live[r.IntN(len(live))]
			var hres protocol.EventsResult
			u.c.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "item", EntityID: id}, &hres)
			if (len(hres.Events) > 0) != slices.Contains(readable, id) {
				t.Fatalf("%s: %s reads %d events of %s; readable: %v", phase, u.sub, len(hres.Events), id, slices.Contains(readable, id))
			}
		}
	}
	check("snapshot")
	for round := range 3 {
		for range 15 {
			switch k := r.IntN(10); {
			case k < 6 && len(live) > 0: // edit
				i := r.IntN(len(live))
				v := randomValues()
				for f := range v {
					if r.IntN(2) == 0 {
						delete(v, f)
					}
				}
				if len(v) == 0 {
					continue
				}
				admin.edit("item", live[i], v)
				mirror(live[i], v, false)
			case k < 8: // create
				v := randomValues()
				id := admin.create("item", v)
				mirror(id, v, false)
				live = append(live, id)
			case len(live) > 0: // delete
				i := r.IntN(len(live))
				admin.remove("item", live[i])
				mirror(live[i], nil, true)
				live = slices.Delete(live, i, i+1)
			}
		}
		check(fmt.Sprintf("round %d", round))
	}
	// Resubscribe with known heads on a new connection: the answer plus the
	// known state gives exactly the expected rows, and removed lists the
	// known entities that left.
	for _, u := range users {
		known := map[string][]string{}
		for id, e := range u.c.set("s") {
			known[id] = e.Head
		}
		c2 := dialAs(t, env, token(t, u.sub, "user", u.claims, time.Hour))
		res, err := c2.trySubscribe("s", "item", diffQueries[u.query].query, known, args(u)...)
		if err != nil {
			t.Fatal(err)
		}
		got := entityIDs(res.Entities)
		slices.Sort(got)
		want := expected(u, true)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("resubscribe: %s gets %v, SQL says %v", u.sub, got, want)
		}
		for _, id := range res.Removed {
			if _, was := known[id]; !was || slices.Contains(want, id) {
				t.Fatalf("resubscribe: %s told to remove %s", u.sub, id)
			}
		}
	}
}

func keys(m map[string]protocol.Entity) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func entityIDs(es []protocol.Entity) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}
