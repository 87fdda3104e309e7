package inspect

import (
	"encoding/json"
	"net/http"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// QueryResult is /api/query: a query's rows now, and the SQL it becomes.
type QueryResult struct {
	Collection string `json:"collection"`
	// Query is the query as parsed (normalised).
	Query string `json:"query"`
	// SQL is the statement the Postgres store runs for it, with Args its
	// parameters ($1, $2, …). On another store it is the statement the
	// query would become on Postgres (SQLOn says which).
	SQL   string `json:"sql"`
	Args  []any  `json:"args"`
	SQLOn string `json:"sql_on"`
	// Rows are the first rows (?limit=, default 100, at most 1,000) in the
	// query's order; Truncated is set when there are more.
	Rows      []Row `json:"rows"`
	Truncated bool  `json:"truncated,omitempty"`
}

// Row is one entity of a query's result.
type Row struct {
	ID     string                     `json:"id"`
	Values map[string]json.RawMessage `json:"values"`
	Head   []string                   `json:"head"`
}

func (in *Inspector) query(r *http.Request) (any, error) {
	qs := r.URL.Query()
	coll := qs.Get("collection")
	if err := event.ValidCollectionName(coll); err != nil {
		return nil, bad("collection: %v", err)
	}
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		return nil, err
	}
	text := qs.Get("q")
	q, err := query.Parse(text)
	if err != nil {
		return nil, bad("%v", err)
	}
	ctx := r.Context()
	c, err := in.o.Store.Collection(ctx, coll)
	if err != nil {
		return nil, err
	}
	if _, err := q.Compile(); err != nil {
		return nil, bad("%v", err)
	}
	out := QueryResult{Collection: coll, Query: q.String(), Rows: []Row{}}
	if in.o.Postgres != nil {
		out.SQLOn = "postgres"
		out.SQL, out.Args, err = in.o.Postgres.Statement(ctx, coll, q)
	} else {
		out.SQLOn = "postgres (this server runs the " + in.o.Backend + " store; this is the statement the query becomes on Postgres)"
		out.SQL, out.Args, err = q.Select(c, "public")
	}
	if err != nil {
		return nil, err
	}
	if out.Args == nil {
		out.Args = []any{}
	}
	// Run it with a limit of one more than shown, to tell whether there
	// are more rows.
	run := q
	if q.Limit == nil || q.Limit.Value.Int() > int64(limit) {
		lim := *q
		lim.Limit = &query.Operand{Value: value.IntOf(int64(limit + 1))}
		run = &lim
	}
	states, err := storage.Fetch(ctx, in.o.Store, coll, run)
	if err != nil {
		return nil, err
	}
	if len(states) > limit {
		states, out.Truncated = states[:limit], true
	}
	for _, st := range states {
		out.Rows = append(out.Rows, rowOf(st))
	}
	return out, nil
}

func rowOf(st *entity.State) Row {
	r := Row{ID: st.ID.String(), Values: make(map[string]json.RawMessage, len(st.Values)), Head: ids(st.Head)}
	for f, v := range st.Values {
		r.Values[f] = raw(v)
	}
	return r
}
