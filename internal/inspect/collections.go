package inspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/schema"
)

// maxScanCount bounds the rows counted by scanning (a store without SQL):
// past it the count says "at least".
const maxScanCount = 100_000

// Collection is one collection (/api/collections).
type Collection struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
	// Rows is how many entities it holds; RowsExact is false when Rows is
	// a lower bound (the embedded store stops counting at 100,000) or
	// Postgres's estimate (a count that took longer than a second).
	Rows      int64 `json:"rows"`
	RowsExact bool  `json:"rows_exact"`
	// Origin is "adopted" for an app's own table made a collection in
	// place (ankurah adopt), "created" for one Ankurah created.
	Origin string `json:"origin"`
	// Table is where it lives on Postgres ("schema"."table").
	Table string `json:"table,omitempty"`
	// State is an adopted table's: "adopting" while its rows are given
	// their creation events, then "ready".
	State string `json:"state,omitempty"`
	// WritesPerSecond is its changes per second over the last minute, and
	// Changes its changes since the server started (entities changed, by
	// the API or by SQL, as the change stream delivered them).
	WritesPerSecond float64 `json:"writes_per_second"`
	Changes         int64   `json:"changes"`
}

// Field is one field of a collection.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Refers names the collection a foreign key between adopted tables
	// points to.
	Refers string `json:"refers,omitempty"`
}

// pgCollection is a collection's row of the Postgres catalog.
type pgCollection struct {
	schema, table, state string
	adopted              bool
}

func (in *Inspector) collections(r *http.Request) (any, error) {
	ctx := r.Context()
	cs, err := in.o.Store.Collections(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(cs, func(a, b schema.Collection) int { return strings.Compare(a.Name, b.Name) })
	catalog := map[string]pgCollection{}
	if in.o.Postgres != nil {
		if catalog, err = in.pgCatalog(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Collection, 0, len(cs))
	for _, c := range cs {
		col := Collection{Name: c.Name, Fields: make([]Field, 0, len(c.Fields)), Origin: "created"}
		for _, f := range c.Fields {
			col.Fields = append(col.Fields, Field{Name: f.Name, Type: f.Type.String(), Refers: f.Refers})
		}
		if pc, ok := catalog[c.Name]; ok {
			col.Table = quoteIdent(pc.schema) + "." + quoteIdent(pc.table)
			if pc.adopted {
				col.Origin, col.State = "adopted", pc.state
			}
			col.Rows, col.RowsExact, err = in.pgCount(ctx, col.Table)
		} else {
			col.Rows, col.RowsExact, err = in.scanCount(ctx, c.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("counting the rows of %s: %w", c.Name, err)
		}
		col.WritesPerSecond, col.Changes = in.writeRate(c.Name)
		col.WritesPerSecond = round3(col.WritesPerSecond)
		out = append(out, col)
	}
	return map[string]any{"backend": in.o.Backend, "collections": out}, nil
}

func (in *Inspector) pgCatalog(ctx context.Context) (map[string]pgCollection, error) {
	rows, err := in.o.Postgres.Pool().Query(ctx, "select name, table_schema, table_name, adopted, state from ankurah.collections")
	if err != nil {
		return nil, err
	}
	out := map[string]pgCollection{}
	for rows.Next() {
		var name string
		var pc pgCollection
		if err := rows.Scan(&name, &pc.schema, &pc.table, &pc.adopted, &pc.state); err != nil {
			return nil, err
		}
		out[name] = pc
	}
	return out, rows.Err()
}

// pgCount counts a table's rows exactly, within a second; past that it
// answers Postgres's estimate.
func (in *Inspector) pgCount(ctx context.Context, table string) (int64, bool, error) {
	var n int64
	err := pgx.BeginFunc(ctx, in.o.Postgres.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local statement_timeout = 1000"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "select count(*) from "+table).Scan(&n)
	})
	if err == nil {
		return n, true, nil
	}
	if ctx.Err() != nil {
		return 0, false, ctx.Err()
	}
	var est float64
	if err2 := in.o.Postgres.Pool().QueryRow(ctx, "select greatest(reltuples, 0) from pg_class where oid = $1::regclass", table).Scan(&est); err2 != nil {
		return 0, false, errors.Join(err, err2)
	}
	return int64(est), false, nil
}

func (in *Inspector) scanCount(ctx context.Context, coll string) (int64, bool, error) {
	var n int64
	err := in.o.Store.Scan(ctx, coll, func(*entity.State) bool {
		n++
		return n < maxScanCount
	})
	return n, n < maxScanCount, err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
