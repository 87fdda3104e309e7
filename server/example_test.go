package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/memory"
)

// The server as a library: a Backend (here the in-memory store; on
// Postgres, server.NewPostgres with a replication.Config), a Server over it,
// and Serve on a listener until the context ends. A node inside the same
// process commits through the backend's store, so its writes reach every
// live query like a client's.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	backend := server.NewLocal(memory.New())
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)}, backend)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // or srv.ListenAndServe, on Config.Listen
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	<-backend.Ready()

	type Album struct {
		Name string
		Year int64
	}
	n := node.New(backend.Store())
	albums, err := node.Register[Album](ctx, n)
	if err != nil {
		panic(err)
	}
	tx := n.Begin()
	if _, err := albums.Create(tx, Album{Name: "Showbiz", Year: 1999}); err != nil {
		panic(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		panic(err)
	}

	// Beside /ws: /healthz, /readyz and /metrics.
	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))

	// Serve returns once the sessions are drained and the change stream
	// has ended.
	stop()
	fmt.Println("stopped:", <-served)
	// Output:
	// ready
	// stopped: <nil>
}
