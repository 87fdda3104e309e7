package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/sqlite"
)

// drainTimeout is how long a stopping server gives sessions to receive what
// is queued for them.
const drainTimeout = 10 * time.Second

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ankurah serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", getenv("ANKURAH_DATABASE_URL"), "Postgres connection URL (env ANKURAH_DATABASE_URL); none: the embedded store")
	listen := fs.String("listen", envOr(getenv, "ANKURAH_LISTEN", server.DefaultListen), "address to serve on (env ANKURAH_LISTEN)")
	dataDir := fs.String("data-dir", envOr(getenv, "ANKURAH_DATA_DIR", "ankurah-data"), "directory of the embedded store, used without --database-url (env ANKURAH_DATA_DIR)")
	slot := fs.String("slot", getenv("ANKURAH_SLOT"), "replication slot name (env ANKURAH_SLOT; default ankurah_<host>_<database>)")
	logLevel := fs.String("log-level", envOr(getenv, "ANKURAH_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ankurah serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "ankurah serve: bad --log-level %q\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := server.Config{Listen: *listen, Logger: log}
	if err := cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintf(stderr, "ankurah serve: %v\n", err)
		return 2
	}

	var backend server.Backend
	if *dbURL != "" {
		b, closeFn, code := postgresBackend(ctx, *dbURL, *slot, log, stdout, stderr)
		if b == nil {
			return code
		}
		defer closeFn()
		backend = b
	} else {
		dir, err := filepath.Abs(*dataDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ankurah serve: data directory: %v\n", err)
			return 1
		}
		path := filepath.Join(dir, "ankurah.db")
		st, err := sqlite.Open(path, sqlite.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "ankurah serve: %v\n", err)
			return 1
		}
		defer st.Close()
		log.Info("no database URL: using the embedded store", "file", path)
		fmt.Fprintf(stderr, "ankurah: storing data in %s (pass --database-url to use Postgres)\n", path)
		backend = server.NewLocal(st)
	}
	srv, err := server.New(cfg, backend)
	if err != nil {
		fmt.Fprintf(stderr, "ankurah serve: %v\n", err)
		return 2
	}
	if err := srv.ListenAndServe(ctx, drainTimeout); err != nil {
		fmt.Fprintf(stderr, "ankurah serve: %v\n", err)
		return 1
	}
	return 0
}

// postgresBackend migrates and checks the database, then opens the store
// and its replication stream.
func postgresBackend(ctx context.Context, url, slot string, log *slog.Logger, stdout, stderr io.Writer) (server.Backend, func(), int) {
	if _, err := pgx.ParseConfig(url); err != nil {
		fmt.Fprintf(stderr, "ankurah serve: bad database URL: %v\n", err)
		return nil, nil, 2
	}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var report strings.Builder
	if code := check(mctx, url, &report, stderr); code != 0 {
		// Say what is wrong, with the fixes, exactly as `check` does.
		fmt.Fprintf(stderr, "ankurah serve: this Postgres cannot feed Ankurah yet:\n%s", onlyProblems(report.String()))
		return nil, nil, 1
	}
	if err := migrations.Apply(mctx, url, log); err != nil {
		fmt.Fprintf(stderr, "ankurah serve: migrate: %v\n", err)
		return nil, nil, 1
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintf(stderr, "ankurah serve: %v\n", err)
		return nil, nil, 1
	}
	store := postgres.New(pool, postgres.Options{})
	b, err := server.NewPostgres(store, replication.Config{DatabaseURL: url, SlotName: slot, Logger: log})
	if err != nil {
		pool.Close()
		fmt.Fprintf(stderr, "ankurah serve: replication: %v\n", err)
		return nil, nil, 2
	}
	return b, pool.Close, 0
}

// onlyProblems keeps the failing lines of a check report and their fixes.
func onlyProblems(report string) string {
	var b strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(report, "\n") {
		switch {
		case strings.HasPrefix(line, "FAIL"):
			keep = true
		case strings.HasPrefix(line, "     "):
		default:
			keep = false
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
