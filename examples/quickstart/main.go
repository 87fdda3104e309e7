// Command quickstart is the seed's quick example in Go: a server node and a
// client node, connected over a real WebSocket, in one program. The client
// subscribes to name = 'Origin of Symmetry'; the server creates the album in
// a transaction and commits; the client's callback prints what it received.
//
//	go run ./examples/quickstart                       # in-memory store
//	go run ./examples/quickstart -data-dir ./qs-data   # the embedded file store
//	ANKURAH_DATABASE_URL=postgres://… go run ./examples/quickstart
//
// With ANKURAH_DATABASE_URL it runs on that Postgres (installing Ankurah's
// schema, as `ankurah migrate` does, and checking wal_level=logical as
// `ankurah check` does), and the change reaches the client through logical
// replication.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/storage/sqlite"
)

// Album is the model: collection "album", fields name (text) and year (bigint).
type Album struct {
	Name string
	Year int64
}

func main() {
	dataDir := flag.String("data-dir", "", "use the embedded file store in this directory (default: in memory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Stdout, os.Getenv("ANKURAH_DATABASE_URL"), *dataDir)
	stop()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, databaseURL, dataDir string) error {
	out := &lockedWriter{w: w} // the client's callback prints from its own goroutine
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// ---- The server: a backend, the WebSocket endpoint, a server-side node.
	backend, store, closeStore, err := openBackend(ctx, databaseURL, dataDir, log)
	if err != nil {
		return err
	}
	defer closeStore()
	srv, err := server.New(server.Config{Logger: log}, backend)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// Serve runs the change stream and the HTTP endpoint, and returns once
	// both have ended (on Postgres: after the final acknowledgement and the
	// slot's release), before the store closes.
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln, time.Second) }()
	serving := true // Serve has not returned (its result is still in served)
	defer func() {
		stopServe()
		if serving {
			<-served
		}
	}()
	select {
	case <-backend.Ready():
	case err := <-served: // Serve returns early when its change stream fails
		serving = false
		return fmt.Errorf("the change stream stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	serverNode := node.New(store)
	serverAlbums, err := node.Register[Album](ctx, serverNode)
	if err != nil {
		return err
	}

	// ---- The client: the same API, over WebSocket.
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", client.Options{ClientName: "quickstart"})
	if err != nil {
		return err
	}
	defer c.Close()
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		return err
	}
	// The callback runs on the client's own goroutine; it hands each change
	// set over, and this function prints them, so that the lines come out
	// in the order things happen.
	received := make(chan client.ChangeSet[Album], 16)
	subscription, err := albums.Subscribe(ctx, func(changes client.ChangeSet[Album]) {
		received <- changes
	}, "name = 'Origin of Symmetry'")
	if err != nil {
		return err
	}
	defer subscription.Close()
	next := func() (client.ChangeSet[Album], error) {
		select {
		case cs := <-received:
			fmt.Fprintf(out, "Received changes: %s\n", cs)
			return cs, nil
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return client.ChangeSet[Album]{}, errors.New("the client did not receive the album in time")
			}
			return client.ChangeSet[Album]{}, ctx.Err()
		}
	}
	if _, err := next(); err != nil { // the initial result set
		return err
	}

	// ---- The server creates the album in a transaction and commits.
	tx := serverNode.Begin()
	album, err := serverAlbums.Create(tx, Album{Name: "Origin of Symmetry", Year: 2001})
	if err != nil {
		return err
	}
	if _, err := tx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "Server created album %s\n", album.ID())

	for {
		cs, err := next()
		if err != nil {
			return err
		}
		for _, it := range cs.Items {
			if it.Kind == client.Add && it.Entity.ID() == album.ID() {
				fmt.Fprintf(out, "The client's live query now holds %q\n", it.Entity.Value().Name)
				return nil
			}
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// openBackend picks the server's storage: Postgres (with logical
// replication) when a database URL is given, else the embedded file store
// in dataDir, else memory. store is what a server-side node commits
// through (so that its commits reach the live queries).
func openBackend(ctx context.Context, databaseURL, dataDir string, log *slog.Logger) (server.Backend, storage.Store, func(), error) {
	switch {
	case databaseURL != "":
		// What `ankurah check` checks: a server without logical
		// replication (wal_level) could never stream the change to the
		// client, so say so, with the fix, before anything else.
		if _, err := replication.Preflight(ctx, databaseURL); err != nil {
			return nil, nil, nil, err
		}
		if err := migrations.Apply(ctx, databaseURL, log); err != nil {
			return nil, nil, nil, fmt.Errorf("installing Ankurah's schema (ankurah migrate): %w", err)
		}
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return nil, nil, nil, err
		}
		const slot = "ankurah_quickstart"
		b, err := server.NewPostgres(postgres.New(pool, postgres.Options{}), replication.Config{DatabaseURL: databaseURL, SlotName: slot, Logger: log})
		if err != nil {
			pool.Close()
			return nil, nil, nil, fmt.Errorf("%w (run `ankurah check` for what the database needs)", err)
		}
		// The slot keeps WAL while it exists; the consumer drops it when
		// Serve returns (replication.Config.KeepSlot is not set).
		return b, b.Store(), pool.Close, nil
	case dataDir != "":
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, nil, nil, err
		}
		st, err := sqlite.Open(filepath.Join(dataDir, "ankurah.db"), sqlite.Options{})
		if err != nil {
			return nil, nil, nil, err
		}
		b := server.NewLocal(st)
		return b, b.Store(), func() { st.Close() }, nil
	default:
		b := server.NewLocal(memory.New())
		return b, b.Store(), func() {}, nil
	}
}
