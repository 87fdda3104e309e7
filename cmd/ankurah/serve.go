package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/lockfile"
	"github.com/ankurah/ankurah-go/internal/tracing"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/sqlite"
)

// drainTimeout is how long a stopping server gives sessions to receive what
// is queued for them.
const drainTimeout = 10 * time.Second

const defaultListen = server.DefaultListen

// lockName is the file in an embedded data folder that keeps it for one
// server at a time.
const lockName = "ankurah.lock"

func serveCommand() *command {
	return &command{
		name: "serve", args: []string{""}, summary: "serve live queries over WebSocket, on PostgreSQL or the embedded store",
		doc: `Serves live queries over WebSocket at ws://LISTEN/ws, with /healthz, /readyz
and /metrics beside it, until Ctrl-C (or SIGTERM), then stops gracefully.

With --database-url it serves that PostgreSQL: it first checks that the
server can feed it (as ` + "`ankurah check`" + ` does, and stops with the fix if not),
installs or upgrades Ankurah's schema, and streams from a replication slot
of its own, which it drops when it stops (--keep-slot keeps a --slot for a
fast resume). Any number of servers may share a database; each one drops
the slots others left inactive for longer than --slot-max-inactive
(` + "`ankurah slots`" + ` lists them). Without --database-url, data is kept in one
file in the data folder (--data-dir); one server at a time may use a data
folder.

Without --policy anyone who reaches the server may do anything, so it
serves only on loopback (--insecure-allow-anonymous overrides). To turn auth
on: give token keys (--jwt-secret-file, --jwt-public-keys, --jwks-file or
--jwks-url) and a policy file (--policy); docs/security.md has examples.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			dbURL := databaseFlag(fs, e, "the PostgreSQL to serve; without it, the embedded store in --data-dir is served")
			listen := fs.String("listen", envOr(e.getenv, "ANKURAH_LISTEN", defaultListen), "`address` to serve on (env ANKURAH_LISTEN)")
			dataDir := fs.String("data-dir", envOr(e.getenv, "ANKURAH_DATA_DIR", "ankurah-data"), "`folder` of the embedded store, used without --database-url (env ANKURAH_DATA_DIR)")
			slot := fs.String("slot", e.getenv("ANKURAH_SLOT"), "replication slot `name` (env ANKURAH_SLOT; default: a new ankurah_<host>_<database>_<random> for each server, so that servers sharing a database never share a slot)")
			sl := slotOptions{}
			fs.BoolVar(&sl.keep, "keep-slot", e.getenv("ANKURAH_KEEP_SLOT") == "1", "keep the replication slot when the server stops, for a fast resume by the next start with the same --slot (env ANKURAH_KEEP_SLOT=1; default: dropped on a clean stop)")
			fs.StringVar(&sl.maxInactive, "slot-max-inactive", envOr(e.getenv, "ANKURAH_SLOT_MAX_INACTIVE", replication.DefaultSlotMaxInactive.String()), "drop other servers' Ankurah slots inactive for longer than this `duration`; -1 never (env ANKURAH_SLOT_MAX_INACTIVE)")
			fs.StringVar(&sl.maxRetained, "slot-max-retained", envOr(e.getenv, "ANKURAH_SLOT_MAX_RETAINED", "1GiB"), "drop other servers' inactive Ankurah slots retaining more WAL than this `size` (e.g. 512MB, 1GiB); -1 never (env ANKURAH_SLOT_MAX_RETAINED)")
			fs.StringVar(&sl.checkInterval, "slot-check-interval", envOr(e.getenv, "ANKURAH_SLOT_CHECK_INTERVAL", replication.DefaultSlotCheckInterval.String()), "how often to look for slots to drop, as a `duration` (env ANKURAH_SLOT_CHECK_INTERVAL)")
			logLevel := fs.String("log-level", envOr(e.getenv, "ANKURAH_LOG_LEVEL", "info"), "`level` of the logs: debug, info, warn or error (env ANKURAH_LOG_LEVEL)")
			logFormat := fs.String("log-format", envOr(e.getenv, "ANKURAH_LOG_FORMAT", "text"), "`format` of the logs: text (key=value) or json, one object a line (env ANKURAH_LOG_FORMAT)")
			pprofAddr := fs.String("pprof-addr", e.getenv("ANKURAH_PPROF_ADDR"), "`address` of a second listener serving Go's profiler at /debug/pprof/, to administrators only (loopback only without a policy); off by default (env ANKURAH_PPROF_ADDR)")
			otlp := fs.String("otlp-endpoint", envOr(e.getenv, "ANKURAH_OTLP_ENDPOINT", e.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")), "`URL` of an OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318) to send traces to: each request, and each change's way through decode, match, queue and write; off by default (env ANKURAH_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)")
			a := declareAuthFlags(fs, e)
			return func(ctx context.Context, _ []string) error {
				sl.name = *slot
				return serve(ctx, e, serveOptions{dbURL: *dbURL, listen: *listen, dataDir: *dataDir, slot: sl, logLevel: *logLevel,
					logFormat: *logFormat, pprofAddr: *pprofAddr, otlpEndpoint: *otlp, auth: a})
			}
		},
	}
}

type serveOptions struct {
	dbURL, listen, dataDir, logLevel   string
	logFormat, pprofAddr, otlpEndpoint string
	slot                               slotOptions
	auth                               *authFlags
}

// slotOptions are serve's replication slot flags, as given.
type slotOptions struct {
	name                                    string
	keep                                    bool
	maxInactive, maxRetained, checkInterval string
}

// config turns the flags into a replication.Config, or says which one is
// wrong.
func (o slotOptions) config(dbURL string, log *slog.Logger) (replication.Config, error) {
	rc := replication.Config{DatabaseURL: dbURL, SlotName: o.name, KeepSlot: o.keep, Logger: log}
	if o.keep && o.name == "" {
		return rc, usageError("--keep-slot needs --slot: without it each start makes a slot of its own, so a kept slot would never be resumed").
			withFix("pass --slot NAME --keep-slot, with a NAME used by this server alone")
	}
	var err error
	if rc.SlotMaxInactive, err = durationOrNever(o.maxInactive); err != nil {
		return rc, usageError("--slot-max-inactive: %v", err).withFix("use a duration such as 10m or 1h, or -1 for never")
	}
	if rc.SlotMaxRetained, err = parseSize(o.maxRetained); err != nil {
		return rc, usageError("--slot-max-retained: %v", err).withFix("use a size such as 512MB or 1GiB, or -1 for no limit")
	}
	if rc.SlotCheckInterval, err = time.ParseDuration(o.checkInterval); err != nil || rc.SlotCheckInterval <= 0 {
		return rc, usageError("--slot-check-interval %q is not a positive duration", o.checkInterval).withFix("use a duration such as 30s or 1m")
	}
	if rc.SlotMaxInactive == 0 || rc.SlotMaxRetained == 0 {
		return rc, usageError("--slot-max-inactive and --slot-max-retained must not be 0: that would drop a server's slot the moment its connection blinks").
			withFix("use -1 to turn a rule off")
	}
	return rc, nil
}

func durationOrNever(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func serve(ctx context.Context, e *env, o serveOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageError("--log-level %q is not a level", o.logLevel).withFix("use debug, info, warn or error")
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usageError("--listen %q is not an address", o.listen).withFix("use HOST:PORT, e.g. 127.0.0.1:9797 (0.0.0.0:9797 for every interface)")
	}
	if o.pprofAddr != "" {
		if _, _, err := net.SplitHostPort(o.pprofAddr); err != nil {
			return usageError("--pprof-addr %q is not an address", o.pprofAddr).withFix("use HOST:PORT, e.g. 127.0.0.1:6060")
		}
	}
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	default:
		return usageError("--log-format %q is not a format", o.logFormat).withFix("use text or json")
	}
	if o.otlpEndpoint != "" {
		if _, err := tracing.TracesURL(o.otlpEndpoint); err != nil {
			return usageError("--otlp-endpoint: %v", err).withFix("use the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
		}
	}
	// Records logged within a traced request carry its trace and span ids.
	log := slog.New(tracing.LogHandler(handler))
	cfg := server.Config{Listen: o.listen, Logger: log}
	var warning string
	if o.auth != nil {
		var err error
		if warning, err = o.auth.configure(ctx, &cfg, log); err != nil {
			return err
		}
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		if errors.Is(err, server.ErrExposedWithoutPolicy) {
			return usageError("no policy, so this server serves only on a loopback address, not %s: anyone who reaches it could read, write and change everything", o.listen).
				withFix("give a policy (--policy FILE, docs/security.md), or --insecure-allow-anonymous to serve anonymously anyway")
		}
		return usageError("%s", oneLine(err.Error()))
	}
	if o.pprofAddr != "" && cfg.Policy == nil && !loopback(o.pprofAddr) {
		return usageError("no policy, so the profiler serves only on a loopback address, not %s", o.pprofAddr).
			withFix("give a policy (--policy FILE) with a role marked \"admin\": true, or --pprof-addr 127.0.0.1:PORT")
	}

	var backend server.Backend
	var lock *lockfile.Lock
	if o.dbURL != "" {
		if err := checkDatabaseURL(o.dbURL); err != nil {
			return err
		}
		rc, err := o.slot.config(o.dbURL, log)
		if err != nil {
			return err
		}
		b, closeFn, err := postgresBackend(ctx, e, rc)
		if err != nil {
			return err
		}
		defer closeFn()
		backend = b
	} else {
		dir, err := filepath.Abs(o.dataDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return failed("cannot use the data folder: %v", pathError(err)).withFix("pass --data-dir with a folder you may write to")
		}
		lock, err = lockfile.Acquire(filepath.Join(dir, lockName))
		var held *lockfile.HeldError
		switch {
		case errors.As(err, &held):
			who := held.Holder
			if who == "" {
				who = "another ankurah serve"
			}
			return failed("the data folder %s is in use by %s", dir, who).withFix("stop that server, or pass --data-dir to serve another folder")
		case err != nil:
			return failed("cannot lock the data folder: %v", pathError(err)).withFix("pass --data-dir with a folder you may write to")
		}
		defer lock.Release()
		path := filepath.Join(dir, "ankurah.db")
		st, err := sqlite.Open(path, sqlite.Options{})
		if err != nil {
			return failed("cannot open %s: %v", path, err)
		}
		defer st.Close()
		fmt.Fprintf(e.stderr, "ankurah: storing data in %s (pass --database-url to use Postgres)\n", path)
		backend = server.NewLocal(st)
	}
	if o.otlpEndpoint != "" {
		tp, shutdown, err := tracing.Setup(ctx, tracing.Options{Endpoint: o.otlpEndpoint, ServiceName: "ankurah", Version: server.ServerName})
		if err != nil {
			return failed("cannot set up tracing: %v", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(sctx); err != nil {
				log.Warn("the last spans were not sent", "err", err)
			}
		}()
		cfg.TracerProvider = tp
		u, _ := tracing.TracesURL(o.otlpEndpoint)
		log.Info("tracing", "otlp", u)
	}
	srv, err := server.New(cfg, backend)
	if err != nil {
		return usageError("%v", err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return failed("cannot listen on %s: the address is in use", o.listen).withFix("stop the program using it (perhaps another ankurah serve), or pass --listen HOST:PORT")
		}
		return failed("cannot listen on %s: %v", o.listen, innermost(err)).withFix("pass --listen HOST:PORT with an address of this machine")
	}
	if lock != nil {
		_ = lock.Describe(fmt.Sprintf("ankurah serve (pid %d, ws://%s/ws)", os.Getpid(), ln.Addr()))
	}
	if warning != "" {
		fmt.Fprintln(e.stderr, "ankurah: "+warning)
	}
	if o.pprofAddr != "" {
		stop, err := servePprof(o.pprofAddr, srv, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	if err := srv.Serve(ctx, ln, drainTimeout); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var inUse *replication.SlotInUseError
		if errors.As(err, &inUse) {
			return slotInUse(inUse)
		}
		return failed("the server stopped: %s", oneLine(err.Error()))
	}
	return nil
}

// postgresBackend checks and migrates the database, then opens the store
// and its replication stream, saying what it does on a first start.
func postgresBackend(ctx context.Context, e *env, rc replication.Config) (server.Backend, func(), error) {
	dbURL := rc.DatabaseURL
	mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := replication.Preflight(mctx, dbURL); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, notReady(err)
	}
	msg, changed, err := migrate(mctx, dbURL, nil)
	if err != nil {
		return nil, nil, err
	}
	if changed { // a first start, or a new version: say so; otherwise nothing
		fmt.Fprintln(e.stderr, "ankurah: "+msg)
	}
	configured := rc.SlotName != ""
	rc = rc.WithDefaults()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, failed("%v", err)
	}
	if configured {
		// Refused now, before "ankurah serving", rather than by a stream
		// that never starts. A holder that is going away (a server just
		// stopped) is given a moment.
		err := replication.CheckSlotFree(mctx, pool, rc.SlotName, slotFreeWait)
		var inUse *replication.SlotInUseError
		if errors.As(err, &inUse) {
			pool.Close()
			return nil, nil, slotInUse(inUse)
		}
		if exists, err := slotExists(mctx, pool, rc.SlotName); err == nil && !exists {
			keep := "it is dropped when this server stops"
			if rc.KeepSlot {
				keep = "--keep-slot: it holds WAL for this server while it is away; `ankurah slots drop " + rc.SlotName + "` when you retire the server, or running servers drop it once inactive for --slot-max-inactive"
			}
			fmt.Fprintf(e.stderr, "ankurah: creating replication slot %s (%s)\n", rc.SlotName, keep)
		}
	}
	store := postgres.New(pool, postgres.Options{})
	b, err := server.NewPostgres(store, rc)
	if err != nil {
		pool.Close()
		return nil, nil, usageError("%s", oneLine(err.Error()))
	}
	return b, pool.Close, nil
}

// slotFreeWait is how long serve waits for a configured slot's holder to
// let go before refusing to start.
const slotFreeWait = 3 * time.Second

// slotInUse is the refusal for a configured slot that another process
// streams from.
func slotInUse(err *replication.SlotInUseError) error {
	return failed("replication slot %s is in use by another process (walsender pid %d): another server streams from it, and a slot serves one server at a time", err.Slot, err.PID).
		withFix("give this server a slot of its own (another --slot NAME, or no --slot: each server then gets a new one), or stop the other server first")
}

func slotExists(ctx context.Context, pool *pgxpool.Pool, slot string) (bool, error) {
	var exists bool
	err := pool.QueryRow(ctx, "select exists (select from pg_replication_slots where slot_name = $1)", slot).Scan(&exists)
	return exists, err
}

// pathError drops the operation and path a *PathError repeats.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
