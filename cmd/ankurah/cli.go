package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/codegen"
	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/replication"
)

const usage = `ankurah — real-time sync with Postgres at its centre

Usage:
  ankurah serve   [--database-url URL] [--listen ADDR] [--data-dir DIR]
                  serve live queries over WebSocket at ws://ADDR/ws: on Postgres
                  (migrated and checked on start) or, with no database URL, on
                  the embedded store in DIR (default ./ankurah-data)
  ankurah migrate --database-url URL   install or upgrade Ankurah's schema (idempotent)
  ankurah check   --database-url URL   preflight: can this Postgres feed Ankurah? says how to fix what is missing
  ankurah gen ts  [--package DIR] [--out FILE] [--var Models] [--import MODULE] [--check]
                  TypeScript model types from Go models (see docs/web.md)
  ankurah bench   --database-url URL [--conns N] [--subs N] [--rate N] …
                  load test: write→client latency, the replication floor, memory (docs/benchmarks.md)

Client tools (talk to a running server; --url ws://127.0.0.1:9797/ws by default):
  ankurah subscribe COLLECTION 'QUERY' [ARG…]   print the result set, then every change, one JSON object per line
  ankurah query     COLLECTION 'QUERY' [ARG…]   print the matching entities, in order
  ankurah get       COLLECTION ID
  ankurah put       COLLECTION '{JSON}'         create an entity; prints its id
  ankurah put       COLLECTION ID '{JSON}'      set those fields of an entity
  ankurah delete    COLLECTION ID
  ARGs bind the query's ? placeholders: JSON values (2001, true, "x") or else text.

Environment:
  ANKURAH_DATABASE_URL   default for --database-url
  ANKURAH_LISTEN         default for --listen (127.0.0.1:9797)
  ANKURAH_DATA_DIR       default for --data-dir (./ankurah-data)
  ANKURAH_SLOT           the replication slot's name (default: ankurah_<host>_<database>)
  ANKURAH_URL            default for the client tools' --url

Exit status: 0 ok, 1 failure (check: a problem was found), 2 usage error.
`

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "migrate", "check":
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "subscribe", "query", "get", "put", "delete":
		return tool(ctx, cmd, rest, getenv, stdout, stderr)
	case "bench":
		return bench(ctx, rest, getenv, stdout, stderr)
	case "gen":
		if len(rest) == 0 || rest[0] != "ts" {
			fmt.Fprintf(stderr, "usage: ankurah gen ts [--package DIR] [--out FILE] [--var Models] [--import MODULE] [--check]\n")
			return 2
		}
		return codegen.RunGenTS(ctx, rest[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ankurah: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("ankurah "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", getenv("ANKURAH_DATABASE_URL"), "Postgres connection URL (env ANKURAH_DATABASE_URL)")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ankurah %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	if *dbURL == "" {
		fmt.Fprintf(stderr, "ankurah %s: no database: pass --database-url or set ANKURAH_DATABASE_URL\n", cmd)
		return 2
	}
	if _, err := pgx.ParseConfig(*dbURL); err != nil {
		fmt.Fprintf(stderr, "ankurah %s: bad database URL: %v\n", cmd, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	switch cmd {
	case "migrate":
		if err := migrations.Apply(ctx, *dbURL, log); err != nil {
			fmt.Fprintf(stderr, "ankurah migrate: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "ankurah migrate: schema is up to date")
		return 0
	default:
		return check(ctx, *dbURL, stdout, stderr)
	}
}

func check(ctx context.Context, url string, stdout, stderr io.Writer) int {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL connect: %v\n     fix: check the URL, that the server runs and accepts connections (listen_addresses, pg_hba.conf)\n", errors.Unwrap(err))
		return 1
	}
	defer conn.Close(context.Background())
	facts, err := replication.Gather(ctx, conn)
	if err != nil {
		fmt.Fprintf(stderr, "ankurah check: %v\n", err)
		return 1
	}
	findings := replication.Evaluate(facts)
	for _, f := range findings {
		fmt.Fprintf(stdout, "%-4s %s: %s\n", f.Severity, f.Check, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(stdout, "     fix: %s\n", f.Fix)
		}
	}
	if replication.Failed(findings) {
		return 1
	}
	return 0
}
