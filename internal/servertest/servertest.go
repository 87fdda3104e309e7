// Package servertest starts real Ankurah servers for tests: on the
// in-memory store, the embedded file store, or a throwaway Postgres database
// fed by logical replication — the same server, the same protocol, a real
// WebSocket on a loopback port.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/sqlite"
)

// Backend kinds.
const (
	Memory   = "memory"
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Kinds lists every backend kind.
var Kinds = []string{Memory, SQLite, Postgres}

// Env is a running server.
type Env struct {
	Kind string
	// URL is the WebSocket endpoint, ws://127.0.0.1:PORT/ws.
	URL string
	// Addr is the listening address (kept across Restart).
	Addr string
	// Server and Backend are the running instance.
	Server  *server.Server
	Backend server.Backend
	// Store is the backend's store for in-process writes (a node over it
	// publishes to the live queries like a client's commit).
	Store storage.Store
	// DatabaseURL and DB are the Postgres database (Postgres kind only).
	DatabaseURL string
	DB          *pgxpool.Pool
	// Dir is the data directory (SQLite kind only).
	Dir string

	t       testing.TB
	stop    func()
	mem     storage.Store // the memory store survives a Restart
	Options Options
}

// Options adjust Start.
type Options struct {
	Config server.Config
	// Logs receives the server's logs (default: the test's output at warn).
	Logs io.Writer
	// Wrap, when set, wraps the backend the server is given (e.g. to
	// interleave its reads with its stream in a test). Env.Backend stays
	// the unwrapped one.
	Wrap func(server.Backend) server.Backend
	// DatabaseURL (Postgres kind) serves that database rather than a new
	// one: several servers on one database.
	DatabaseURL string
	// Replication (Postgres kind), when set, adjusts the replication
	// config before the backend is made.
	Replication func(*replication.Config)
}

// Start starts a server of the given kind and stops it when the test ends.
func Start(t testing.TB, kind string, opts Options) *Env {
	t.Helper()
	e := &Env{Kind: kind, t: t, Options: opts}
	switch kind {
	case Memory:
		e.mem = memory.New()
	case SQLite:
		e.Dir = t.TempDir()
	case Postgres:
		e.DatabaseURL = opts.DatabaseURL
		if e.DatabaseURL == "" {
			e.DatabaseURL = pgtest.NewDatabase(t)
		}
		e.DB = pgtest.Pool(t, e.DatabaseURL)
	default:
		t.Fatalf("servertest: unknown kind %q", kind)
	}
	e.start("127.0.0.1:0")
	t.Cleanup(e.Stop)
	return e
}

func (e *Env) logger() *slog.Logger {
	w := e.Options.Logs
	if w == nil {
		w = e.t.Output()
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (e *Env) start(addr string) {
	t := e.t
	t.Helper()
	log := e.logger()
	var closeStore func() error
	switch e.Kind {
	case Memory:
		e.Backend = server.NewLocal(e.mem)
	case SQLite:
		st, err := sqlite.Open(filepath.Join(e.Dir, "ankurah.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		closeStore = st.Close
		e.Backend = server.NewLocal(st)
	case Postgres:
		st := postgres.New(e.DB, postgres.Options{})
		rc := replication.Config{
			DatabaseURL:    e.DatabaseURL,
			StandbyTimeout: 100 * time.Millisecond,
			BackoffMin:     10 * time.Millisecond,
			BackoffMax:     200 * time.Millisecond,
			Logger:         log,
		}
		if e.Options.Replication != nil {
			e.Options.Replication(&rc)
		}
		b, err := server.NewPostgres(st, rc)
		if err != nil {
			t.Fatal(err)
		}
		e.Backend = b
	}
	if l, ok := e.Backend.(*server.LocalBackend); ok {
		e.Store = l.Store()
	} else {
		e.Store = e.Backend.Store()
	}
	cfg := e.Options.Config
	cfg.Logger = log
	backend := e.Backend
	if e.Options.Wrap != nil {
		backend = e.Options.Wrap(backend)
	}
	srv, err := server.New(cfg, backend)
	if err != nil {
		t.Fatal(err)
	}
	e.Server = srv
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for { // after a Restart the old socket may linger for a moment
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.Addr = ln.Addr().String()
	e.URL = "ws://" + e.Addr + "/ws"

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	select {
	case <-e.Backend.Ready():
	case err := <-served:
		cancel()
		t.Fatalf("servertest: the server stopped before its change stream started: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		<-served
		t.Fatal("servertest: the change stream did not start within 30s")
	}
	e.stop = func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("servertest: the server ended with %v", err)
		}
		if closeStore != nil {
			_ = closeStore()
		}
	}
}

// Stop stops the server (idempotent).
func (e *Env) Stop() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// Restart stops the server and starts a new one on the same address and
// data: clients see their connections close and can reconnect to the same
// URL. On Postgres the new server makes a slot of its own, as serve does
// (the old one dropped its slot when it stopped), unless Options.Replication
// names a slot and keeps it.
func (e *Env) Restart() {
	e.t.Helper()
	addr := e.Addr
	e.Stop()
	e.start(addr)
}
