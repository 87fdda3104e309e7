// Package client is Ankurah's Go client: an ephemeral node with the same API
// as a server-side node (node.Node — Begin, Create, Get, Edit, Delete,
// Commit, Rollback, Fetch, typed collections), plus live queries, over a
// WebSocket connection (protocol v1, docs/protocol.md) that it keeps open,
// reconnecting with backoff and jitter.
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:9797/ws", client.Options{})
//	albums, err := client.Register[Album](ctx, c)
//	lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) { fmt.Println(cs) },
//		"name = ?", "Origin of Symmetry")
//	tx := c.Begin()
//	albums.Create(tx, Album{Name: "Showbiz", Year: 1999})
//	tx.Commit(ctx)
//
// A query that names a field the model T lacks is an error at call time
// (Subscribe, Update, Fetch, WatchQuery: query.CodeUnknownField, with the
// field and the model's fields). A live query's result can be watched as
// a whole (LiveQuery.Watch, Collection.WatchQuery: a Snapshot after each
// change) and one entity by id (Collection.WatchEntity), with the
// semantics of the TypeScript client's signals: the latest value, to a
// callback or on a channel that never holds the client back.
//
// The client keeps the entities its live queries watch. A local commit is
// applied at once (optimistically: reads, transactions and the client's own
// live queries see it) and queued for the server, which confirms it or
// rejects it (the change is then rolled back). Commits made while
// disconnected stay queued and are sent in order after reconnecting; with
// Options.CacheFile the queue and the cache survive a restart. On reconnect
// every live query resubscribes with the heads it holds, so that only what
// changed comes back.
//
// See docs/go-client.md.
//
// # Goroutines and locks
//
// A Client owns the goroutines it starts: the connection loop (dial, serve
// a connection, back off, again) and the outbox's sender, and the
// resubscriptions each connection starts; Close waits for all of them. Each
// connection's reader belongs to internal/wire and ends with the
// connection. A live query's change sets, each watch (watch.go) and
// Options.OnRejected are delivered on a goroutine each (so that a slow
// callback delays only itself), counted in the client's delivery group:
// Close stops them and waits for them too, except for one running a
// callback of the application, which may be the one calling Close — it
// ends as soon as the callback returns.
//
// Client.mu guards the core (every entity, live query and queued commit),
// the connection state and the live queries' lists of watches. Under it
// the client may take a delivery queue's lock (to hand a change set
// over), the delivery group's lock (to count a new goroutine), wake a
// watch (a non-blocking send) and write the cache file (a local commit is
// fsynced before Commit returns); nothing takes Client.mu under any of
// them. A watch reads its live query under Client.mu and makes its views
// after releasing it, under its own view cache's lock. No request is sent
// with Client.mu held: answers and pushes arrive on the connection's reader
// goroutine, which takes it to apply them.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package client
