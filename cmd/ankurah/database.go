package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// databaseFlag declares --database-url (default ANKURAH_DATABASE_URL).
func databaseFlag(fs *flag.FlagSet, e *env, usage string) *string {
	return fs.String("database-url", e.getenv("ANKURAH_DATABASE_URL"), "`URL` of "+usage+" (env ANKURAH_DATABASE_URL)")
}

// needDatabase checks that a database URL was given and is a PostgreSQL
// one, without ever echoing it (it may hold a password).
func needDatabase(raw string) error {
	if raw == "" {
		return usageError("no database given").withFix("pass --database-url postgres://USER:PASSWORD@HOST:5432/DATABASE or set ANKURAH_DATABASE_URL")
	}
	return checkDatabaseURL(raw)
}

// checkDatabaseURL accepts postgres:// and postgresql:// URLs and libpq's
// keyword=value strings, as pgx does, and says plainly what else was given.
func checkDatabaseURL(raw string) error {
	fix := "use a URL like postgres://USER:PASSWORD@HOST:5432/DATABASE"
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		if scheme != "postgres" && scheme != "postgresql" {
			return usageError("the database URL is a %s:// URL; Ankurah needs PostgreSQL", clipScheme(scheme)).withFix("%s", fix)
		}
		if _, err := url.Parse(raw); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return usageError("the database URL is not valid: %v", err).withFix("%s (special characters in the password are %%-encoded)", fix)
		}
	} else if !strings.Contains(raw, "=") {
		return usageError("the database URL is not a URL").withFix("%s", fix)
	}
	if _, err := pgx.ParseConfig(raw); err != nil {
		return usageError("the database URL is not valid: %s", pgxParseCause(err)).withFix("%s", fix)
	}
	return nil
}

func clipScheme(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// pgxParseCause keeps the reason of a pgx parse error, not the URL it
// quotes.
func pgxParseCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "cannot parse") {
				msg = msg[i+2:]
			}
			return msg
		}
		err = next
	}
}

// connectFailure is a failed connection, in check's terms.
func connectFailure(err error) *failure {
	f := replication.ConnectFinding(err)
	return failed("%s", f.Detail).withFix("%s", f.Fix)
}

// notReady turns a preflight's failures into the message every command
// that needs the change stream prints: the first problem and its fix (the
// others, if any, are named so that `ankurah check` is worth running).
func notReady(err error) error {
	var nr *replication.NotReadyError
	if !errors.As(err, &nr) || len(nr.Findings) == 0 {
		return err
	}
	first := nr.Findings[0]
	if first.Check == "connect" {
		return failed("%s", first.Detail).withFix("%s", first.Fix)
	}
	msg := "this PostgreSQL cannot feed Ankurah: " + first.Detail
	if n := len(nr.Findings) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problem%s: `ankurah check` lists them)", n, map[bool]string{true: "", false: "s"}[n == 1])
	}
	return failed("%s", msg).withFix("%s", first.Fix)
}

func checkCommand() *command {
	return &command{
		name: "check", args: []string{""}, summary: "preflight: can this PostgreSQL feed Ankurah? says how to fix what is missing",
		doc: `Connects to the database and checks what the server needs: PostgreSQL 14 or
later, wal_level = logical, a free replication slot and WAL sender, the
replication and create privileges, and (once the schema is installed) that
its role may mark the API's writes. Prints one line per check ("ok", "warn"
or "FAIL") and, under each problem, the fix. Exit status 1 when a check
failed. ` + "`ankurah serve`" + ` runs the same checks when it starts.

Then it lists the database's tables: collections, tables adopted
(` + "`ankurah adopt`" + `), tables that can be adopted, and those that cannot, with
the reason and what to do.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			dbURL := databaseFlag(fs, e, "the PostgreSQL to check")
			return func(ctx context.Context, _ []string) error {
				if err := needDatabase(*dbURL); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				findings, err := replication.Preflight(ctx, *dbURL)
				var nr *replication.NotReadyError
				if err != nil && !errors.As(err, &nr) {
					return err
				}
				connected := true
				for _, f := range findings {
					if f.Check == "connect" && f.Severity == "FAIL" {
						connected = false
					}
				}
				var tables []postgres.TableStatus
				if connected {
					var more []replication.Finding
					var terr error
					more, tables, terr = checkTables(ctx, *dbURL)
					findings = append(findings, more...)
					if terr != nil {
						fmt.Fprintf(e.stderr, "ankurah check: listing the tables: %s\n", oneLine(terr.Error()))
					}
				}
				printFindings(e.stdout, findings)
				printTables(e.stdout, tables)
				if err != nil {
					return errSilent
				}
				for _, f := range findings {
					if f.Severity == "FAIL" {
						return errSilent
					}
				}
				return nil
			}
		},
	}
}

// checkTables checks, once Ankurah's schema is installed, that the role
// may mark the API's writes (role ankurah_writer), and lists the tables.
func checkTables(ctx context.Context, dbURL string) ([]replication.Finding, []postgres.TableStatus, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	defer pool.Close()
	var installed bool
	if err := pool.QueryRow(ctx, "select exists (select 1 from pg_attribute where attrelid = to_regclass('ankurah.collections') and attname = 'adopted')").Scan(&installed); err != nil {
		return nil, nil, err
	}
	if !installed {
		return nil, nil, nil
	}
	var role string
	var member, exists bool
	if err := pool.QueryRow(ctx, `select current_user, exists (select 1 from pg_roles where rolname = 'ankurah_writer'),
		exists (select 1 from pg_roles where rolname = 'ankurah_writer') and pg_has_role(current_user, 'ankurah_writer', 'MEMBER')`).Scan(&role, &exists, &member); err != nil {
		return nil, nil, err
	}
	f := replication.Finding{Check: "api writes", Severity: "ok",
		Detail: fmt.Sprintf("role %s may mark the API's writes (a member of ankurah_writer, or a superuser)", role)}
	switch {
	case !exists:
		f.Severity, f.Detail = "FAIL", "role ankurah_writer does not exist: the server's writes would be refused"
		f.Fix = fmt.Sprintf("as a superuser: create role ankurah_writer nologin; grant ankurah_writer to %s", role)
	case !member:
		f.Severity, f.Detail = "FAIL", fmt.Sprintf("role %s is not a member of ankurah_writer: the server's writes would be refused", role)
		f.Fix = fmt.Sprintf("as a superuser (or a role with admin option on it): grant ankurah_writer to %s", role)
	}
	tables, err := postgres.Tables(ctx, pool)
	return []replication.Finding{f}, tables, err
}

// printTables lists the tables as adoption sees them.
func printTables(w io.Writer, tables []postgres.TableStatus) {
	if len(tables) == 0 {
		return
	}
	width := 0
	for _, t := range tables {
		width = max(width, len(t.Table))
	}
	fmt.Fprintln(w, "tables (`ankurah adopt TABLE` makes one a collection):")
	for _, t := range tables {
		var what string
		switch t.Kind {
		case "collection":
			what = "collection " + t.Collection
		case "adopted":
			what = "adopted: collection " + t.Collection
		case "adopting":
			what = "being adopted as collection " + t.Collection + " (run `ankurah adopt` again if it was interrupted)"
		case "adoptable":
			what = "adoptable, as collection " + t.Collection
		default:
			what = "not adoptable"
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, t.Table, what)
		for _, p := range t.Problems {
			if p.Blocking || t.Kind == "adoptable" {
				fmt.Fprintf(w, "  %-*s    %s\n", width, "", p.Problem)
				if p.Fix != "" {
					fmt.Fprintf(w, "  %-*s    fix: %s\n", width, "", p.Fix)
				}
			}
		}
	}
}

func printFindings(w io.Writer, findings []replication.Finding) {
	for _, f := range findings {
		fmt.Fprintf(w, "%-4s %s: %s\n", f.Severity, f.Check, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(w, "     fix: %s\n", f.Fix)
		}
	}
}

func migrateCommand() *command {
	return &command{
		name: "migrate", args: []string{""}, summary: "install or upgrade Ankurah's schema, without serving",
		doc: `Installs Ankurah's schema (schema ankurah: the event history, the catalog,
the functions and triggers) in the database, or upgrades it, and says which
it did. It is idempotent and safe to run while servers run.
` + "`ankurah serve`" + ` does the same when it starts, so this is only needed to
prepare a database ahead of time.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			dbURL := databaseFlag(fs, e, "the PostgreSQL to migrate")
			return func(ctx context.Context, _ []string) error {
				if err := needDatabase(*dbURL); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				defer cancel()
				msg, _, err := migrate(ctx, *dbURL, nil)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, msg)
				// The schema works without logical replication, but no
				// server can stream from here yet: say so now.
				if _, err := replication.Preflight(ctx, *dbURL); err != nil {
					if f, ok := notReady(err).(*failure); ok {
						fmt.Fprintf(e.stderr, "ankurah migrate: note: %s\nfix: %s\n", f.msg, f.fix)
					}
				}
				return nil
			}
		},
	}
}

// migrate applies the migrations and says what it did: "installed", "upgraded"
// or "already up to date", with the schema version; changed is false for the
// last.
func migrate(ctx context.Context, dbURL string, log *slog.Logger) (msg string, changed bool, err error) {
	before, err := schemaVersion(ctx, dbURL)
	if err != nil {
		return "", false, err
	}
	if err := migrations.Apply(ctx, dbURL, log); err != nil {
		return "", false, migrateFailure(err)
	}
	after, err := schemaVersion(ctx, dbURL)
	if err != nil {
		return "", false, err
	}
	switch {
	case before == 0:
		return fmt.Sprintf("installed Ankurah's schema (version %d)", after), true, nil
	case before < after:
		return fmt.Sprintf("upgraded Ankurah's schema from version %d to %d", before, after), true, nil
	default:
		return fmt.Sprintf("Ankurah's schema is already up to date (version %d)", after), false, nil
	}
}

// schemaVersion is the highest migration applied (0: none).
func schemaVersion(ctx context.Context, dbURL string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, connectFailure(err)
	}
	defer conn.Close(context.Background())
	var installed bool
	if err := conn.QueryRow(ctx, "select to_regclass($1) is not null", migrations.VersionTable).Scan(&installed); err != nil || !installed {
		return 0, err
	}
	var v int64
	if err := conn.QueryRow(ctx, "select coalesce(max(version_id), 0) from "+migrations.VersionTable+" where is_applied").Scan(&v); err != nil {
		return 0, failed("reading the schema version: %v", err)
	}
	return v, nil
}

func migrateFailure(err error) error {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "42501" {
		return failed("installing the schema: permission denied: %s", oneLine(err.Error())).withFix("connect as a role that may create schemas in this database (`ankurah check` says which privilege is missing)")
	}
	return failed("installing the schema: %s", oneLine(err.Error()))
}
