package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/memory"
)

// A client subscribes to a live query, commits through its own node, and
// sees a write made on the server. The server runs in this process, on the
// in-memory store, so that the example is self-contained; a real program
// dials its server's URL. Album is a plain struct { Name string; Year int64 }.
func Example() {
	ctx := context.Background()
	url, serverNode, stop := startServer()
	defer stop()

	c, err := client.Dial(ctx, url, client.Options{ClientName: "example/1.0"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		panic(err)
	}

	changes := make(chan client.ChangeSet[Album], 16)
	lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) { changes <- cs }, "year >= ? ORDER BY year", 2000)
	if err != nil {
		panic(err)
	}
	defer lq.Close()
	show := func(cs client.ChangeSet[Album]) {
		for _, it := range cs.Items {
			fmt.Println(it.Kind, it.Entity.Value().Name, it.Entity.Value().Year)
		}
		if cs.Initial && len(cs.Items) == 0 {
			fmt.Println("initial: empty")
		}
	}
	show(<-changes)

	// A local commit: applied at once (the live query reports it), and
	// confirmed by the server because of client.Confirmed.
	tx := c.Begin()
	if _, err := albums.Create(tx, Album{Name: "Origin of Symmetry", Year: 2001}); err != nil {
		panic(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		panic(err)
	}
	show(<-changes)

	// A write on the server reaches the client's live query.
	srvAlbums, err := node.Register[Album](ctx, serverNode)
	if err != nil {
		panic(err)
	}
	tx = serverNode.Begin()
	if _, err := srvAlbums.Create(tx, Album{Name: "Absolution", Year: 2003}); err != nil {
		panic(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		panic(err)
	}
	show(<-changes)
	for _, v := range lq.Results() {
		fmt.Println("holds", v.Value().Name)
	}
	// Output:
	// initial: empty
	// add Origin of Symmetry 2001
	// add Absolution 2003
	// holds Origin of Symmetry
	// holds Absolution
}

// startServer serves the in-memory store on a loopback port (see package
// server) and returns its WebSocket URL, a node inside the server, and a
// function that stops it.
func startServer() (url string, n *node.Node, stop func()) {
	backend := server.NewLocal(memory.New())
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)}, backend)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	<-backend.Ready()
	return "ws://" + ln.Addr().String() + "/ws", node.New(backend.Store()), func() { cancel(); <-served }
}

// An entity watch: the album's typed view at once, after a local edit
// (pending until the server confirms it), and nil once it is deleted. With
// a nil callback the values arrive on a channel that holds the latest one.
func ExampleCollection_WatchEntity() {
	ctx := context.Background()
	url, _, stop := startServer()
	defer stop()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	albums, err := client.Register[Album](ctx, c)
	if err != nil {
		panic(err)
	}
	tx := c.Begin()
	m, err := albums.Create(tx, Album{Name: "Drones", Year: 2015})
	if err != nil {
		panic(err)
	}
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		panic(err)
	}

	w, err := albums.WatchEntity(ctx, m.ID(), nil)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	s := <-w.C()
	fmt.Println(s.View.Value().Name, s.View.Value().Year, "synced:", s.Synced)

	tx = c.Begin()
	e, err := albums.Edit(ctx, tx, m.ID())
	if err != nil {
		panic(err)
	}
	e.Value().Year = 2016
	if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
		panic(err)
	}
	for s = range w.C() { // the latest value: the pending one may be skipped
		if s.View.Value().Year == 2016 && !s.Pending {
			break
		}
	}
	fmt.Println(s.View.Value().Name, s.View.Value().Year, "pending:", s.Pending)

	tx = c.Begin()
	if err := albums.Delete(ctx, tx, m.ID()); err != nil {
		panic(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		panic(err)
	}
	for s = range w.C() {
		if s.View == nil {
			break
		}
	}
	fmt.Println("deleted:", s.Deleted)
	// Output:
	// Drones 2015 synced: true
	// Drones 2016 pending: false
	// deleted: true
}
