package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// testSchema is the collection the semantic and differential tests use:
// one field of every type.
var testSchema = schema.FromMap("t", map[string]value.Type{
	"name":  value.Text,
	"year":  value.Int,
	"score": value.Float,
	"ok":    value.Bool,
	"blob":  value.Bytes,
	"at":    value.Time,
	"data":  value.JSON,
	"owner": value.Ref,
	// The types beyond the first eight.
	"num":   value.Numeric,
	"price": mustType("numeric(10,2)"),
	"small": mustType("smallint"),
	"i32":   mustType("integer"),
	"r":     value.Real,
	"vc":    mustType("varchar(5)"),
	"ch":    mustType("char(3)"),
	"u":     value.UUID,
	"d":     value.Date,
	"tod":   value.TimeOfDay,
	"ts":    value.Timestamp,
	"iv":    value.Interval,
	"js":    mustType("json"),
	"mood":  mustType("enum('sad', 'ok', 'happy')"),
	"tags":  mustType("text[]"),
	"nums":  mustType("integer[]"),
	"moods": mustType("enum('sad', 'ok', 'happy')[]"),
})

func mustType(name string) value.Type {
	t, err := value.ParseType(name)
	if err != nil {
		panic(err)
	}
	return t
}

// oldKind reports the eight first kinds, which createTable binds typed.
func oldKind(t value.Type) bool {
	switch t {
	case value.Text, value.Int, value.Float, value.Bool, value.Bytes, value.Time, value.JSON, value.Ref:
		return true
	}
	return false
}

// openDB returns a pool on a fresh database, or skips the test without Postgres.
func openDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, pgtest.NewDatabase(t))
}

// createTable creates collection c (its table in public) and inserts rows,
// whose "id" values must be ULIDs.
func createTable(t *testing.T, pool *pgxpool.Pool, c schema.Collection, rows []rec) {
	t.Helper()
	ctx := context.Background()
	fields, _ := json.Marshal(c.Map())
	if _, err := pool.Exec(ctx, `select ankurah.create_collection($1, $2)`, c.Name, string(fields)); err != nil {
		t.Fatalf("create_collection %s: %v", c.Name, err)
	}
	cols := []string{`"id"`}
	casts := []string{"::text"}
	for _, f := range c.Fields {
		cols = append(cols, sqlIdent(f.Name))
		cast := ""
		if oldKind(f.Type) {
			cast = "::" + f.Type.Column()
		}
		casts = append(casts, cast) // the others: text, typed by the column
	}
	const chunk = 100
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		var tuples []string
		var args []any
		for _, r := range rows[start:end] {
			ph := make([]string, len(cols))
			for i := range cols {
				ph[i] = fmt.Sprintf("$%d%s", len(args)+1, casts[i])
				field := "id"
				if i > 0 {
					field = c.Fields[i-1].Name
				}
				args = append(args, pgArg(r[field]))
			}
			tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
		}
		stmt := fmt.Sprintf("insert into public.%s (%s) values %s", sqlIdent(c.Name), strings.Join(cols, ", "), strings.Join(tuples, ", "))
		if _, err := pool.Exec(ctx, stmt, args...); err != nil {
			t.Fatalf("insert into %s: %v", c.Name, err)
		}
	}
}

// pgArg is the Go value pgx sends for a value: the first kinds as
// themselves, the others as their Postgres text.
func pgArg(v value.Value) any {
	switch v.Type() {
	case value.Null:
		return nil
	case value.JSON:
		return v.JSONText()
	case value.Ref:
		return v.Text()
	case value.Text, value.Int, value.Float, value.Bool, value.Bytes, value.Time:
		return v.Go()
	}
	return v.PGText()
}

// selectIDs builds the statement that returns the ids a query selects.
func selectIDs(q *Query, c schema.Collection) (string, []any, error) {
	s, err := q.SQL(c, 1)
	if err != nil {
		return "", nil, err
	}
	stmt := fmt.Sprintf("SELECT id FROM public.%s WHERE %s ORDER BY %s %s", sqlIdent(c.Name), s.Where, s.OrderBy, s.Limit)
	return stmt, s.Args, nil
}

// readIDs reads the id column of a result.
func readIDs(rows pgx.Rows) ([]string, error) {
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// evalIDs runs a query in memory.
func evalIDs(m *Matcher, rows []rec) []string {
	ids := []string{}
	for _, r := range Apply(m, rows) {
		ids = append(ids, r["id"].Text())
	}
	return ids
}
