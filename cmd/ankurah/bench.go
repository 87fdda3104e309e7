package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ankurah/ankurah-go/internal/load"
)

const benchUsage = `usage: ankurah bench [--database-url URL] [flags]

Load test of live queries over WebSocket (docs/benchmarks.md). On the
Postgres server at URL (wal_level=logical; the role needs CREATEDB and
REPLICATION) it creates a scratch database, starts an Ankurah server in this
process, opens --conns connections with --subs equality subscriptions each
(key = ?) over --keys keys from a client process (this binary, re-executed),
writes --rate plain SQL INSERT/UPDATEs per second for --duration, and prints:
the latency from each write's COMMIT to the WebSocket clients and, for the same
writes, to a bare replication consumer (the floor); and the server's memory
per idle connection and per subscription. The scratch database is dropped.

With --mode throughput it commits a --backlog of writes while the server's
stream is held back, releases it, and prints how fast the server decoded,
matched and queued the changes, how fast the clients had them all, and how
fast a bare replication consumer decodes the same backlog.

Flags:
`

// bench runs the load tool (package internal/load).
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ankurah bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var cfg load.Config
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("ANKURAH_DATABASE_URL"), "Postgres server to create the scratch database on (env ANKURAH_DATABASE_URL)")
	fs.IntVar(&cfg.Conns, "conns", 1000, "WebSocket connections")
	fs.IntVar(&cfg.Subs, "subs", 10, "subscriptions per connection")
	fs.StringVar(&cfg.Mode, "mode", load.ModeLatency, `"latency": writes at --rate, the latency of each; "throughput": a --backlog of writes drained at full speed`)
	fs.IntVar(&cfg.Backlog, "backlog", 50_000, "throughput mode: the number of writes")
	fs.IntVar(&cfg.Keys, "keys", 0, "distinct keys the subscriptions and writes use (default 1000; in throughput mode conns×subs, one subscription per key)")
	fs.IntVar(&cfg.Rate, "rate", 1000, "writes per second")
	fs.DurationVar(&cfg.Duration, "duration", 20e9, "how long to write (measured)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2e9, "writes before the measured ones (delivered, not counted)")
	fs.IntVar(&cfg.Writers, "writers", 4, "writer connections")
	fs.Float64Var(&cfg.Inserts, "inserts", 0.2, "fraction of writes that INSERT a row (the rest UPDATE one)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the writes' keys and kinds (0: random)")
	fs.StringVar(&cfg.Clients, "clients", load.ClientsProcess, `where the client connections live: "process" (a child process) or "inproc" (this process; memory figures then include the clients)`)
	fs.BoolVar(&cfg.KeepDatabase, "keep-database", false, "keep the scratch database")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's process during the measured phase to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "print progress and the server's warnings to stderr")
	worker := fs.Bool("worker", false, "internal: serve as the client process (commands on stdin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ankurah bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *worker {
		if err := load.Worker(ctx, os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "ankurah bench --worker: %v\n", err)
			return 1
		}
		return 0
	}
	if cfg.DatabaseURL == "" {
		fmt.Fprintln(stderr, "ankurah bench: no database: pass --database-url or set ANKURAH_DATABASE_URL")
		return 2
	}
	if cfg.Clients == load.ClientsProcess {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "ankurah bench: cannot re-execute myself as the client process: %v (use --clients inproc)\n", err)
			return 1
		}
		cfg.WorkerCmd = []string{exe, "bench", "--worker"}
	}
	if *verbose {
		cfg.Log = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "ankurah bench: %v\n", err)
			return 1
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintf(stderr, "ankurah bench: %v\n", err)
		return 2
	}
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ankurah bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "ankurah bench: %v\n", err)
			return 1
		}
		return 0
	}
	rep.Print(stdout)
	return 0
}
