package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/codegen"
	"github.com/ankurah/ankurah-go/internal/load"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

const benchDoc = `Load test of live queries over WebSocket (docs/benchmarks.md). On the
PostgreSQL server at --database-url (wal_level=logical; the role needs
CREATEDB and REPLICATION) it creates a scratch database, starts an Ankurah
server in this process, opens --conns connections with --subs
subscriptions each (key = ?, or the --predicate shape) over --keys keys from a client process (this
binary, re-executed), writes --rate plain SQL INSERT/UPDATEs per second for
--duration, and prints: the latency from each write's COMMIT to the
WebSocket clients and, for the same writes, to a bare replication consumer
(the floor); and the server's memory per idle connection and per
subscription. The scratch database is dropped.

With --mode throughput it commits a --backlog of writes while the server's
stream is held back, releases it, and prints how fast the server decoded,
matched and queued the changes, how fast the clients had them all, and how
fast a bare replication consumer decodes the same backlog.`

// benchCommand runs the load tool (package internal/load).
func benchCommand() *command {
	return &command{
		name: "bench", args: []string{""}, summary: "load test: write→client latency, the replication floor, memory (docs/benchmarks.md)",
		doc: benchDoc,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			var cfg load.Config
			fs.StringVar(&cfg.DatabaseURL, "database-url", e.getenv("ANKURAH_DATABASE_URL"), "`URL` of the PostgreSQL server to create the scratch database on (env ANKURAH_DATABASE_URL)")
			fs.IntVar(&cfg.Conns, "conns", 1000, "WebSocket connections")
			fs.IntVar(&cfg.Subs, "subs", 10, "subscriptions per connection")
			fs.StringVar(&cfg.Mode, "mode", load.ModeLatency, `"latency": writes at --rate, the latency of each; "throughput": a --backlog of writes drained at full speed`)
			fs.IntVar(&cfg.Backlog, "backlog", 50_000, "throughput mode: the number of writes")
			fs.IntVar(&cfg.Keys, "keys", 0, "distinct keys the subscriptions and writes use (default 1000; in throughput mode conns×subs, one subscription per key)")
			fs.IntVar(&cfg.Rate, "rate", 1000, "writes per second")
			fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to write (measured)")
			fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "writes before the measured ones (delivered, not counted)")
			fs.IntVar(&cfg.Writers, "writers", 4, "writer connections")
			fs.Float64Var(&cfg.Inserts, "inserts", 0.2, "fraction of writes that INSERT a row (the rest UPDATE one)")
			fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the writes' keys and kinds (0: random)")
			fs.StringVar(&cfg.Clients, "clients", load.ClientsProcess, `where the client connections live: "process" (a child process) or "inproc" (this process; memory figures then include the clients)`)
			fs.BoolVar(&cfg.KeepDatabase, "keep-database", false, "keep the scratch database")
			fs.StringVar(&cfg.Predicate, "predicate", load.PredicateEq, `the subscriptions' shape, each matching exactly its key's rows: "eq" (key = k), "in" (key IN (k, -1-k)), "range" (key >= k AND key < k+1), "prefix" (tag LIKE 'k<8 digits>-%'), "like" (tag LIKE '%<8 digits>-%'), "mixed" (the five in turn)`)
			fs.BoolVar(&cfg.Policy, "policy", false, "throughput mode: serve with token checks and the per-user read rule owner = $jwt.sub (the baseline is the same run without it)")
			cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's process during the measured phase to this `file`")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			verbose := fs.Bool("v", false, "print progress and the server's warnings to stderr")
			worker := fs.Bool("worker", false, "internal: serve as the client process (commands on stdin)")
			return func(ctx context.Context, _ []string) error {
				if *worker {
					if err := load.Worker(ctx, os.Stdin, e.stdout); err != nil {
						return failed("client process: %v", err)
					}
					return nil
				}
				if err := needDatabase(cfg.DatabaseURL); err != nil {
					return err
				}
				if cfg.Clients == load.ClientsProcess {
					exe, err := os.Executable()
					if err != nil {
						return failed("cannot re-execute myself as the client process: %v", err).withFix("pass --clients inproc")
					}
					cfg.WorkerCmd = []string{exe, "bench", "--worker"}
				}
				if *verbose {
					cfg.Log = e.stderr
				}
				if err := cfg.WithDefaults().Validate(); err != nil {
					return usageError("%s", oneLine(err.Error()))
				}
				if _, err := replication.Preflight(ctx, cfg.DatabaseURL); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return notReady(err)
				}
				if *cpuProfile != "" {
					f, err := os.Create(*cpuProfile)
					if err != nil {
						return failed("%v", pathError(err))
					}
					defer f.Close()
					cfg.CPUProfile = f
				}
				rep, err := load.Run(ctx, cfg)
				if err != nil {
					return failed("%s", oneLine(err.Error()))
				}
				if *asJSON {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				}
				rep.Print(e.stdout)
				return nil
			}
		},
	}
}

// genCommand is `ankurah gen ts`, which parses its own flags (package
// codegen).
func genCommand() *command {
	return &command{
		name: "gen", args: []string{"ts [--package DIR] [--out FILE] [--var Models] [--import MODULE] [--check]", "ts --database-url URL [--out FILE] [--import MODULE] [--check]"},
		summary: "TypeScript model types from Go models or a database's collections (docs/web.md)",
		doc: `Writes TypeScript types for @ankurah/client from the Go models of a package
(its exported var Models = []any{Album{}, …}), or with --database-url from
the collections of a database — adopted tables included, their foreign keys
to other adopted tables marked as references. ` + "`ankurah gen ts --help`" + ` lists
its flags.`,
		raw: func(ctx context.Context, e *env, args []string) int {
			c := lookup("gen")
			if len(args) == 0 || args[0] != "ts" {
				if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
					fmt.Fprint(e.stdout, c.help())
					return exitOK
				}
				return report(e, "gen", usageError("say what to generate: ts (the only generator so far)").withFix("%s", c.synopsis()))
			}
			return runGenTS(ctx, args[1:], e)
		},
	}
}

func runGenTS(ctx context.Context, args []string, e *env) int {
	for _, a := range args {
		if a == "--database-url" || a == "-database-url" || strings.HasPrefix(a, "--database-url=") || strings.HasPrefix(a, "-database-url=") {
			return genTSFromDatabase(ctx, args, e)
		}
	}
	return codegen.RunGenTS(ctx, args, e.stdout, e.stderr)
}

// genTSFromDatabase is `ankurah gen ts --database-url URL`: types for the
// database's collections (adopted tables included), not for Go models.
func genTSFromDatabase(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("ankurah gen ts", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := fs.String("database-url", "", "")
	out := fs.String("out", "-", "")
	imp := fs.String("import", "@ankurah/client", "")
	check := fs.Bool("check", false, "")
	if err := fs.Parse(args); err != nil {
		return report(e, "gen ts", usageError("%s", flagError(err)).withFix("`ankurah gen ts --help` lists its flags"))
	}
	if fs.NArg() > 0 {
		return report(e, "gen ts", usageError("unexpected argument %q", fs.Arg(0)))
	}
	if err := needDatabase(*dbURL); err != nil {
		return report(e, "gen ts", err)
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return report(e, "gen ts", connectFailure(err))
	}
	defer pool.Close()
	cs, err := postgres.New(pool, postgres.Options{}).Collections(ctx)
	if err != nil {
		return report(e, "gen ts", failed("reading the collections: %s", oneLine(err.Error())))
	}
	src, err := codegen.TSCollections(cs, codegen.TSOptions{Import: *imp})
	if err != nil {
		return report(e, "gen ts", failed("%v", err))
	}
	switch {
	case *check:
		have, err := os.ReadFile(*out)
		if err != nil || !bytes.Equal(have, src) {
			return report(e, "gen ts", failed("%s differs from the database's collections", *out).withFix("run ankurah gen ts --database-url … --out %s", *out))
		}
	case *out == "" || *out == "-":
		e.stdout.Write(src)
	default:
		if err := os.WriteFile(*out, src, 0o644); err != nil {
			return report(e, "gen ts", failed("%v", err))
		}
	}
	return exitOK
}
