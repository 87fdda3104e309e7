// Package server is Ankurah's WebSocket endpoint: protocol v1 sessions
// (docs/protocol.md) over a Backend, the fan-out that pushes every committed
// change to the live queries it affects, and the operational endpoints
// (/healthz, /readyz, /metrics, and the inspector at /inspect, which is
// package internal/inspect fed by inspect.go). It is part of the module's public API
// (docs/api.md says what is stable).
//
// Every connection has one reader, which handles its requests in order, and
// one writer draining a bounded queue. The fan-out never blocks on a client:
// a client whose queue is full, or whose oldest queued frame has waited
// longer than Config.MaxLag, is disconnected as a slow consumer, told why
// (as far as its socket lets the writer: the end is bounded by
// Config.CloseTimeout, see session.bound), and counted.
//
// # Goroutines and their owners
//
// Whoever starts a goroutine waits for it:
//
//   - Serve starts the HTTP server and Run, and returns after both.
//   - Run runs the backend's change stream, the workers that refill LIMIT
//     windows (hub.runRefills), the policy watcher and the inspector's
//     sampler, and returns after all of them; for Postgres that is after
//     the replication consumer's final acknowledgement, the release of its
//     slot and its drop (unless KeepSlot), the consumer's sweep of slots
//     left behind, and the backend's catalog sync and WAL position sampler
//     (PostgresBackend.Run).
//   - serveWS (one per connection) starts the session's reader and writer
//     and returns after both; the writer starts at most one ping at a time
//     and waits for it before returning.
//   - Shutdown waits for every connection's serveWS (Server.wg).
//
// # Locks
//
// Locks are taken in this order, never the other way round (an arrow reads
// "may be held while taking"):
//
//	LocalBackend.mu → hub.mu → Reactor.mu
//	                  hub.mu → frameQueue.mu
//	                  hub.mu → session.cutMu
//	                  hub.mu → metrics.mu
//	                  hub.mu → sessionAuth.mu
//	                  hub.mu → slowConsumers.mu
//	                  hub.mu → Server.mu (the session list: schema pushes, the inspector)
//	Server.mu → the WebSocket close (CloseNow, when Shutdown's drain times out)
//
// What each guards:
//
//   - LocalBackend.mu orders a local store's commits, their publication and
//     its snapshot reads: publish runs under it.
//   - hub.mu orders the fan-out: publish, subscribe and unsubscribe, session
//     teardown (one subscription per hold), and each step of a window
//     refill. Session.subs and session.closed are guarded by it. No
//     database I/O happens under it: reads (Backend.Read, for a
//     subscription or a refill) and commits run before it is taken, and
//     the reactor runs without a refill source (refill.go explains how a
//     refill stays consistent with the stream).
//     The only I/O under it is the log line of a rare event (a
//     subscription ended by an error); a slow consumer is only marked
//     under it (a channel closed, a deadline set on its socket, which
//     never waits for a write in progress) and logged by its own writer.
//   - Reactor.mu (internal/reactor) is a leaf under hub.mu.
//   - frameQueue.mu guards one session's outgoing queue; enqueue takes it
//     with or without hub.mu, and nothing is taken under it.
//   - session.cutMu guards the deadline that bounds a session's end
//     (session.bound); nothing is taken under it.
//   - metrics.mu guards the histograms and the inspector's per-collection
//     counts; nothing is taken under it.
//   - sessionAuth.mu guards a session's principal, grants and client
//     name; nothing is taken under it.
//   - slowConsumers.mu guards the inspector's list of recent slow
//     consumers; nothing is taken under it.
//   - Server.mu guards the session set and the closing flag. Ending a
//     session under it only closes a channel (session.end); cutting the
//     connections when a drain times out closes sockets under it.
//
// No lock is held while writing to a WebSocket: a session's writer owns its
// socket and takes no lock around a write.
package server
