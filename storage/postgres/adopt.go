package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/storage"
)

// Default adoption settings.
const (
	// DefaultAdoptBatch is how many rows one backfill transaction gives
	// creation events.
	DefaultAdoptBatch = 1000
	// DefaultAdoptLockTimeout bounds each attempt to take the locks that
	// creating the triggers and changing the replica identity need; the
	// app's writes to the table queue behind an attempt at most this long.
	DefaultAdoptLockTimeout = 200 * time.Millisecond
)

// AdoptOptions say which table to adopt and how.
type AdoptOptions struct {
	// Table is the table, as SQL names it: [schema.]table, with double
	// quotes around mixed-case or unusual names ("Orders", sales."Q1").
	Table string
	// As is the collection's name. Default: the table's name when it is in
	// schema public, else schema.table.
	As string
	// Renames give columns fields of other names (column → field). A
	// column's field is named like it, except column id (field sql_id:
	// id is the entity id); a column whose name starts with _ needs one.
	Renames map[string]string
	// Batch is the number of rows per backfill transaction. Default
	// DefaultAdoptBatch.
	Batch int
	// LockTimeout bounds each attempt at a lock on the table. Default
	// DefaultAdoptLockTimeout.
	LockTimeout time.Duration
	// Progress, when set, is called after each step and each batch.
	Progress func(AdoptProgress)
}

// AdoptProgress is where an adoption stands.
type AdoptProgress struct {
	Collection string
	// Step is "start", "triggers", "publish", "backfill" or "done".
	Step string
	// Rows is how many rows the backfill has to give creation events,
	// counted when it starts (rows adopted before an interruption are not
	// counted again); Done is how many it has given them so far.
	Rows, Done int64
	// Waits counts the attempts that gave up a lock to the app's writers.
	Waits int
}

// AdoptResult is what an adoption did.
type AdoptResult struct {
	Collection string
	Created    int64 // rows given a creation event by this run
	Resumed    bool  // an earlier, interrupted adoption was continued
	Skipped    []Problem
}

// Problem is a reason a table cannot be adopted (Blocking), or a note on
// how it will be (a column left out).
type Problem struct {
	Blocking bool
	Problem  string
	Fix      string
}

// Adopt makes an existing table a collection in place (see
// sql/functions.sql, "Adopted tables"): nothing in the table changes but
// its triggers and replica identity. Each step runs in a short transaction
// of its own; one that must lock the table gives up after LockTimeout and
// tries again, so the app's writes are never held for long. Interrupted at
// any point (even by kill -9), Adopt called again continues.
func Adopt(ctx context.Context, pool *pgxpool.Pool, opts AdoptOptions) (AdoptResult, error) {
	if opts.Batch <= 0 {
		opts.Batch = DefaultAdoptBatch
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultAdoptLockTimeout
	}
	progress := func(p AdoptProgress) {
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	var res AdoptResult
	rel, err := resolveTable(ctx, pool, opts.Table)
	if err != nil {
		return res, err
	}
	renames, _ := json.Marshal(opts.Renames)
	if opts.Renames == nil {
		renames = []byte("{}")
	}
	var as any
	if opts.As != "" {
		as = opts.As
	}
	// Started before and interrupted?
	var coll string
	err = pool.QueryRow(ctx, "select name from ankurah.collections where relid = $1::oid::regclass and state = 'adopting'", rel).Scan(&coll)
	if err == nil {
		res.Resumed = true
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return res, pgError(err)
	}
	probs, err := AdoptionProblems(ctx, pool, opts.Table, opts.As, opts.Renames)
	if err != nil {
		return res, err
	}
	for _, p := range probs {
		if !p.Blocking {
			res.Skipped = append(res.Skipped, p)
		}
	}
	p := AdoptProgress{}
	step := func(name string, fn func(tx pgx.Tx) error) error {
		for {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "select set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", opts.LockTimeout.Milliseconds())); err != nil {
					return err
				}
				return fn(tx)
			})
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available: the app is writing
				p.Waits++
				progress(p)
				t := time.NewTimer(opts.LockTimeout / 4)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
				continue
			}
			if err != nil {
				return pgError(err)
			}
			p.Step = name
			progress(p)
			return nil
		}
	}
	if err := step("start", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select ankurah.adopt_start($1::oid::regclass, $2, $3::jsonb)", rel, as, string(renames)).Scan(&coll)
	}); err != nil {
		return res, err
	}
	res.Collection, p.Collection = coll, coll
	if err := step("triggers", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select ankurah.adopt_triggers($1)", coll)
		return err
	}); err != nil {
		return res, err
	}
	if err := step("publish", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select ankurah.adopt_publish($1)", coll)
		return err
	}); err != nil {
		return res, err
	}
	if err := pool.QueryRow(ctx, "select ankurah.adopt_missing($1)", coll).Scan(&p.Rows); err != nil {
		return res, pgError(err)
	}
	p.Step = "backfill"
	progress(p)
	var after []byte // the last key looked at (a JSON array), nil: from the start
	for {
		var created, scanned int64
		var last []byte
		if err := pool.QueryRow(ctx, "select created, scanned, last from ankurah.adopt_backfill($1, $2, $3::jsonb)",
			coll, opts.Batch, nullJSON(after)).Scan(&created, &scanned, &last); err != nil {
			return res, pgError(err)
		}
		res.Created += created
		p.Done += created
		if created > 0 {
			progress(p)
		}
		after = last
		if last != nil {
			continue
		}
		var missing int64
		if err := pool.QueryRow(ctx, "select ankurah.adopt_finish($1)", coll).Scan(&missing); err != nil {
			return res, pgError(err)
		}
		if missing == 0 {
			break
		}
		// Rows inserted before the triggers that the pass missed (none
		// should be): another pass from the start.
	}
	p.Step = "done"
	progress(p)
	return res, nil
}

func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// resolveTable finds a table by its SQL name and returns its relation.
func resolveTable(ctx context.Context, pool *pgxpool.Pool, name string) (uint32, error) {
	var rel *uint32
	err := pool.QueryRow(ctx, "select to_regclass($1)::oid", name).Scan(&rel)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42602" || pe.Code == "3F000") { // invalid name, no such schema
		rel = nil
	} else if err != nil {
		return 0, pgError(err)
	}
	if rel == nil {
		return 0, storage.Errorf(storage.CodeNotFound, "no table %s (names are written as in SQL: double quotes around mixed case, e.g. '\"Orders\"' or 'sales.\"Q1\"')", name)
	}
	return *rel, nil
}

// AdoptionProblems says what stands in the way of adopting a table (and,
// not blocking, what adoption would leave out).
func AdoptionProblems(ctx context.Context, pool *pgxpool.Pool, tableName, as string, renames map[string]string) ([]Problem, error) {
	rel, err := resolveTable(ctx, pool, tableName)
	if err != nil {
		return nil, err
	}
	rj := []byte("{}")
	if renames != nil {
		rj, _ = json.Marshal(renames)
	}
	var asArg any
	if as != "" {
		asArg = as
	}
	rows, err := pool.Query(ctx, "select blocking, problem, fix from ankurah.adoption_problems($1::oid::regclass, $2, $3::jsonb)", rel, asArg, string(rj))
	if err != nil {
		return nil, pgError(err)
	}
	var out []Problem
	var p Problem
	_, err = pgx.ForEachRow(rows, []any{&p.Blocking, &p.Problem, &p.Fix}, func() error {
		out = append(out, p)
		return nil
	})
	return out, pgError(err)
}

// TableStatus is a table of the database as adoption sees it.
type TableStatus struct {
	Table      string // schema.table, quoted as SQL needs
	Collection string // its collection (adopted or created by Ankurah), or the name adoption would give it
	Kind       string // "collection" (created by Ankurah), "adopted", "adopting", "adoptable" or "not adoptable"
	Problems   []Problem
}

// Tables lists the database's tables outside Ankurah's and the system's
// schemas: collections, tables adoption can take, and those it cannot,
// with why.
func Tables(ctx context.Context, pool *pgxpool.Pool) ([]TableStatus, error) {
	rows, err := pool.Query(ctx, `select c.oid::regclass::text, c.oid, coalesce(cl.name, ''), coalesce(cl.adopted, false), coalesce(cl.state, '')
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		left join ankurah.collections cl on cl.relid = c.oid
		where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('ankurah', 'pg_catalog', 'information_schema')
		  and n.nspname not like 'pg\_%'
		order by n.nspname, c.relname`)
	if err != nil {
		return nil, pgError(err)
	}
	type row struct {
		name    string
		rel     uint32
		coll    string
		adopted bool
		state   string
	}
	var rs []row
	var r row
	if _, err := pgx.ForEachRow(rows, []any{&r.name, &r.rel, &r.coll, &r.adopted, &r.state}, func() error {
		rs = append(rs, r)
		return nil
	}); err != nil {
		return nil, pgError(err)
	}
	out := make([]TableStatus, 0, len(rs))
	for _, r := range rs {
		ts := TableStatus{Table: r.name, Collection: r.coll}
		switch {
		case r.coll != "" && !r.adopted:
			ts.Kind = "collection"
		case r.coll != "" && r.state == "adopting":
			ts.Kind = "adopting"
		case r.coll != "":
			ts.Kind = "adopted"
		default:
			if err := pool.QueryRow(ctx, "select ankurah.adopted_name($1::oid::regclass)", r.rel).Scan(&ts.Collection); err != nil {
				return nil, pgError(err)
			}
			rows, err := pool.Query(ctx, "select blocking, problem, fix from ankurah.adoption_problems($1::oid::regclass)", r.rel)
			if err != nil {
				return nil, pgError(err)
			}
			var p Problem
			if _, err := pgx.ForEachRow(rows, []any{&p.Blocking, &p.Problem, &p.Fix}, func() error {
				ts.Problems = append(ts.Problems, p)
				return nil
			}); err != nil {
				return nil, pgError(err)
			}
			ts.Kind = "adoptable"
			for _, p := range ts.Problems {
				if p.Blocking {
					ts.Kind = "not adoptable"
				}
			}
		}
		out = append(out, ts)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}
