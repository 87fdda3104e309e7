package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

func adoptCommand() *command {
	return &command{
		name: "adopt", args: []string{"[SCHEMA.]TABLE …"}, minArgs: 1, maxArgs: -1,
		summary: "make existing tables collections, in place, with a history for every row",
		doc: `Makes each table a collection without rewriting, renaming or retyping it:
its primary key stays the app's, and only triggers (which record every
write as an event) and the replica identity are added. Each row gets its
creation event, in batches of short transactions; the app keeps writing
meanwhile (a step that must lock the table waits at most a moment, then
tries again). Interrupted, even by kill -9, it continues when run again.

Tables are named as in SQL: sales.orders, or '"Orders"' (in single quotes,
so that the shell keeps the double quotes) for mixed case. The collection
is the table's name in schema public, schema.table elsewhere. Each column
is a field of its name, except id (field sql_id: id is the entity id).
` + "`ankurah check`" + ` lists the tables that can be adopted and why others cannot.
The schema is installed first if it is not yet.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			dbURL := databaseFlag(fs, e, "the PostgreSQL whose tables to adopt")
			as := fs.String("as", "", "collection `name` (one table only; default: the table's name, or schema.table outside schema public)")
			renames := renameFlag{}
			fs.Var(renames, "rename", "`column=field`: name a column's field otherwise (repeatable; one table only)")
			batch := fs.Int("batch", postgres.DefaultAdoptBatch, "`rows` per backfill transaction")
			return func(ctx context.Context, tables []string) error {
				if err := needDatabase(*dbURL); err != nil {
					return err
				}
				if len(tables) > 1 && (*as != "" || len(renames) > 0) {
					return usageError("--as and --rename apply to one table; %d were given", len(tables)).withFix("adopt the table that needs them on its own")
				}
				if *batch < 1 {
					return usageError("--batch %d is not a number of rows", *batch).withFix("use a positive number, e.g. --batch 1000")
				}
				return adopt(ctx, e, *dbURL, tables, *as, renames, *batch)
			}
		},
	}
}

// renameFlag collects --rename column=field.
type renameFlag map[string]string

func (r renameFlag) String() string { return "" }

func (r renameFlag) Set(s string) error {
	col, field, ok := strings.Cut(s, "=")
	if !ok || col == "" || field == "" {
		return fmt.Errorf("want column=field")
	}
	r[col] = field
	return nil
}

func adopt(ctx context.Context, e *env, dbURL string, tables []string, as string, renames map[string]string, batch int) error {
	msg, changed, err := migrate(ctx, dbURL, nil)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintln(e.stderr, "ankurah adopt: "+msg)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return failed("connecting: %v", err)
	}
	defer pool.Close()
	for _, table := range tables {
		p := newProgress(e.stderr, table)
		res, err := postgres.Adopt(ctx, pool, postgres.AdoptOptions{Table: table, As: as, Renames: renames, Batch: batch, Progress: p.update})
		p.end()
		if err != nil {
			return adoptFailure(table, err)
		}
		for _, s := range res.Skipped {
			fmt.Fprintf(e.stderr, "ankurah adopt: note: %s (%s)\n", s.Problem, s.Fix)
		}
		resumed := ""
		if res.Resumed {
			resumed = ", continuing an adoption that was interrupted"
		}
		fmt.Fprintf(e.stdout, "adopted %s as collection %s: %s given their creation events%s\n", table, res.Collection, rowsText(res.Created), resumed)
	}
	return nil
}

func rowsText(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return thousands(n) + " rows"
}

// adoptFailure says why a table was not adopted, and what to do.
func adoptFailure(table string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Hint != "" {
		return failed("%s", pe.Message).withFix("%s", pe.Hint)
	}
	if storage.CodeOf(err) == storage.CodeNotFound {
		return failed("%s", strings.TrimPrefix(err.Error(), storage.CodeNotFound+": ")).withFix("`ankurah check` lists the database's tables")
	}
	return failed("adopting %s: %s", table, oneLine(err.Error()))
}

// progress shows an adoption's progress: a bar redrawn in place on a
// terminal; otherwise a plain line at most every few seconds.
type progress struct {
	w        io.Writer
	table    string
	terminal bool
	start    time.Time // of the backfill
	last     time.Time // of the last line
	drawn    bool
	p        postgres.AdoptProgress
}

func newProgress(w io.Writer, table string) *progress {
	return &progress{w: w, table: table, terminal: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(ap postgres.AdoptProgress) {
	prev := p.p
	p.p = ap
	now := time.Now()
	switch {
	case ap.Step == "backfill" && prev.Step != "backfill":
		p.start = now
		if !p.terminal {
			fmt.Fprintf(p.w, "ankurah adopt: %s: triggers in place; giving %s their creation events\n", p.table, rowsText(ap.Rows))
			p.last = now
		}
		return
	case ap.Waits > prev.Waits && !p.terminal:
		if ap.Waits == 1 || now.Sub(p.last) >= 5*time.Second {
			fmt.Fprintf(p.w, "ankurah adopt: %s: waiting for the app's transactions on the table (%d attempts so far)\n", p.table, ap.Waits)
			p.last = now
		}
		return
	case ap.Step != "backfill" || ap.Done == prev.Done:
		return
	}
	if p.terminal {
		p.draw(now)
		return
	}
	if now.Sub(p.last) >= 2*time.Second {
		fmt.Fprintf(p.w, "ankurah adopt: %s: %s\n", p.table, p.status(now))
		p.last = now
	}
}

// status is "4,000 of 25,000 rows (16%), 8,123 rows/s, 3s left".
func (p *progress) status(now time.Time) string {
	s := fmt.Sprintf("%s of %s rows", thousands(p.p.Done), thousands(max(p.p.Rows, p.p.Done)))
	if p.p.Rows > 0 {
		s += fmt.Sprintf(" (%d%%)", min(100, p.p.Done*100/p.p.Rows))
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 && p.p.Done > 0 {
		rate := float64(p.p.Done) / secs
		s += fmt.Sprintf(", %s rows/s", thousands(int64(rate)))
		if left := p.p.Rows - p.p.Done; left > 0 {
			s += ", " + (time.Duration(float64(left) / rate * float64(time.Second))).Round(time.Second).String() + " left"
		}
	}
	return s
}

func (p *progress) draw(now time.Time) {
	const width = 30
	filled := width
	if p.p.Rows > 0 {
		filled = int(min(p.p.Done, p.p.Rows) * width / p.p.Rows)
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %s\x1b[K", p.table, strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.status(now))
	p.drawn = true
}

func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// thousands writes n with commas: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
