package query

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/schema"
)

var (
	seedFlag  = flag.Uint64("query.seed", 0, "seed of the differential test (0: from QUERY_SEED, else random)")
	casesFlag = flag.Int("query.cases", 10_000, "query×table cases the differential test runs")
)

const (
	diffTables    = 5
	diffRows      = 60
	diffBatchSize = 500
)

// diffSeed returns the seed to use: the flag, QUERY_SEED, or the clock.
func diffSeed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("QUERY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("QUERY_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestDifferential runs random queries over random tables both in memory
// and in Postgres and requires the same ids in the same order. A failure
// prints the seed; rerun with -query.seed=N (or QUERY_SEED=N) to replay it.
func TestDifferential(t *testing.T) {
	t.Parallel()
	seed := diffSeed(t)
	t.Logf("seed %d: replay with ./test/with-postgres.sh go test ./query/ -run TestDifferential -query.seed=%d", seed, seed)
	pool := openDB(t)
	perTable := (*casesFlag + diffTables - 1) / diffTables
	var cases, partial atomic.Int64
	t.Run("tables", func(t *testing.T) {
		for ti := range diffTables {
			t.Run(fmt.Sprintf("t%d", ti), func(t *testing.T) {
				t.Parallel()
				g := &gen{r: newRand(seed, uint64(ti))}
				c := testSchema
				c.Name = fmt.Sprintf("diff%d", ti)
				rows := g.rows(diffRows)
				createTable(t, pool, c, rows)
				n, p := runDiff(t, seed, g, pool, c, rows, perTable)
				cases.Add(n)
				partial.Add(p)
			})
		}
	})
	t.Logf("%d query×table cases; %d%% selected some but not all rows", cases.Load(), 100*partial.Load()/max(cases.Load(), 1))
	if !t.Failed() && cases.Load() < int64(*casesFlag) {
		t.Fatalf("ran %d cases, want %d", cases.Load(), *casesFlag)
	}
	// A generator whose queries all select nothing (or everything) would
	// make agreement meaningless.
	if !t.Failed() && 100*partial.Load() < 20*cases.Load() {
		t.Fatalf("only %d of %d cases selected a proper subset: the generator is degenerate", partial.Load(), cases.Load())
	}
}

type diffCase struct {
	src     string
	args    []any
	sql     string
	sqlArgs []any
	want    []string // from the evaluator
}

// runDiff generates n queries for one table and compares both executions,
// sending the SQL to Postgres in batches. It returns how many cases ran and
// how many selected a proper, non-empty subset (a check on the generator).
func runDiff(t *testing.T, seed uint64, g *gen, pool *pgxpool.Pool, c schema.Collection, rows []rec, n int) (ran, partial int64) {
	ctx := context.Background()
	failures := 0
	for done := 0; done < n; {
		batch := &pgx.Batch{}
		var cs []diffCase
		for ; done < n && len(cs) < diffBatchSize; done++ {
			src, args := g.query()
			dc := diffCase{src: src, args: args}
			q, err := Parse(src, args...)
			if err != nil {
				t.Fatalf("seed %d: generated query does not parse: %q %v: %v", seed, src, args, err)
			}
			checkRoundTrip(t, src)
			m, err := q.Compile()
			if err != nil {
				t.Fatalf("seed %d: %s: %v", seed, src, err)
			}
			dc.want = evalIDs(m, rows)
			dc.sql, dc.sqlArgs, err = selectIDs(q, c)
			if err != nil {
				t.Fatalf("seed %d: %s: %v", seed, src, err)
			}
			batch.Queue(dc.sql, dc.sqlArgs...)
			cs = append(cs, dc)
		}
		br := pool.SendBatch(ctx, batch)
		for _, dc := range cs {
			r, err := br.Query()
			var got []string
			if err == nil {
				got, err = readIDs(r)
			}
			ran++
			if len(dc.want) > 0 && len(dc.want) < len(rows) {
				partial++
			}
			if err == nil && slices.Equal(got, dc.want) {
				continue
			}
			failures++
			t.Errorf("seed %d, table %s: evaluator and Postgres disagree\nquery: %s\nargs:  %#v\nsql:   %s\nsql args: %#v\nevaluator: %v\npostgres:  %v (error: %v)\nrows that differ:\n%s",
				seed, c.Name, dc.src, dc.args, dc.sql, dc.sqlArgs, dc.want, got, err, diffRowsText(rows, dc.want, got))
			if failures >= 5 || err != nil {
				br.Close()
				t.FailNow()
			}
		}
		if err := br.Close(); err != nil {
			t.Fatalf("batch: %v", err)
		}
	}
	return ran, partial
}

// checkRoundTrip: the generated text, unbound, prints canonically and parses
// back to the same tree.
func checkRoundTrip(t *testing.T, src string) {
	q, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	q2, err := Parse(q.String())
	if err != nil || dump(q2) != dump(q) {
		t.Fatalf("round trip of %q via %q: %v\n%s\n%s", src, q.String(), err, dump(q), dump(q2))
	}
}

// diffRowsText prints the rows that are in one result and not the other,
// or all rows of both when only the order differs.
func diffRowsText(rows []rec, a, b []string) string {
	in := func(xs []string, x string) bool { return slices.Contains(xs, x) }
	var sb strings.Builder
	for _, r := range rows {
		id := r["id"].Text()
		if in(a, id) != in(b, id) || slices.Equal(sortedCopy(a), sortedCopy(b)) && in(a, id) {
			fmt.Fprintf(&sb, "  %s", id)
			for _, f := range testSchema.Fields {
				if v, ok := r[f.Name]; ok {
					fmt.Fprintf(&sb, " %s=%s", f.Name, v)
				}
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func sortedCopy(xs []string) []string {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	return ys
}
