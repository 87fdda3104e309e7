package server

import (
	"context"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// Backend is where a server's data lives and how its committed
// transactions reach the live queries: Postgres with logical replication
// (PostgresBackend), or a store whose own commits feed them (LocalBackend).
type Backend interface {
	// Store serves reads and schema changes.
	Store() storage.Store
	// Commit persists a client transaction's events atomically. The
	// change reaches live queries through Run's stream, not from here.
	Commit(ctx context.Context, events []event.Event) ([]*entity.State, error)
	// Read returns a query's result set and the snapshot it was read in,
	// so that the fan-out can tell which streamed transactions the result
	// already reflects. It serves new subscriptions and the refills of
	// LIMIT windows, always outside the fan-out's lock and concurrently
	// with Run's stream: the snapshot may be behind the stream or ahead of
	// it.
	Read(ctx context.Context, collection string, q *query.Query) ([]*entity.State, Snapshot, error)
	// Run streams committed transactions to publish, one at a time and in
	// commit order, until ctx ends (then it returns nil) or the stream
	// fails for good. A transaction is not acknowledged to its source
	// until publish has returned.
	Run(ctx context.Context, publish func(context.Context, *Batch)) error
	// Ready is closed once every transaction committed from then on will
	// be streamed: reads taken after it combine with the stream.
	Ready() <-chan struct{}
	// CaughtUp reports whether the stream is connected and close to the
	// source's current position (for /readyz), and if not, why.
	CaughtUp(ctx context.Context) error
}

// Batch is one committed transaction as the fan-out sees it. Its contents
// are the server's own; a wrapper around a Backend passes it on as it is.
type Batch struct {
	// xid and lsn place a Postgres transaction (its id, and where its
	// commit record starts); seq places a LocalBackend commit.
	xid uint32
	lsn uint64
	seq uint64
	// changes are the entity transitions, one per entity.
	changes []reactor.Change
	// events are the transaction's events by entity id, when known.
	events map[event.ID][]event.Event
	// schema are the transaction's schema changes (see schema.go).
	schema []schemaPush
	// commitTime is when the source committed it; received when the
	// server got it; decoding when the server began reading it from the
	// WAL (Postgres; zero otherwise), for the trace.
	commitTime, received, decoding time.Time
	// resync says that the stream lost transactions before this point (its
	// replication slot was dropped or invalidated and made anew): the hub
	// reads every live query again (see hub.resyncLocked). It carries no
	// changes.
	resync bool

	hubSeq uint64 // position in the hub's ring
}

// Changed returns how many entities of collection the transaction changed.
func (b *Batch) Changed(collection string) int {
	n := 0
	for _, ch := range b.changes {
		if ch.Collection == collection {
			n++
		}
	}
	return n
}

// Snapshot is the point in the stream at which a Read was taken.
type Snapshot interface {
	// Includes reports whether the read already reflects b.
	Includes(b *Batch) bool
	// Precedes reports whether b committed after the snapshot was taken
	// such that no later batch can be included either.
	Precedes(b *Batch) bool
}
