package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ankurah/ankurah-go/codegen"
	"github.com/ankurah/ankurah-go/internal/load"
	"github.com/ankurah/ankurah-go/replication"
)

const benchDoc = `Load test of live queries over WebSocket (docs/benchmarks.md). On the
PostgreSQL server at --database-url (wal_level=logical; the role needs
CREATEDB and REPLICATION) it creates a scratch database, starts an Ankurah
server in this process, opens --conns connections with --subs equality
subscriptions each (key = ?) over --keys keys from a client process (this
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
		name: "gen", args: []string{"ts [--package DIR] [--out FILE] [--var Models] [--import MODULE] [--check]"},
		summary: "TypeScript model types from Go models (docs/web.md)",
		doc: `Writes TypeScript types for @ankurah/client from the Go models of a package
(its exported var Models = []any{Album{}, …}). ` + "`ankurah gen ts --help`" + ` lists
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
	return codegen.RunGenTS(ctx, args, e.stdout, e.stderr)
}
