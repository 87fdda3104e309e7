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
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package client
