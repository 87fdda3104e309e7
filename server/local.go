package server

import (
	"context"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// LocalBackend serves a store that has no change stream of its own (the
// embedded file store, the in-memory store): every commit made through it —
// by a client, or by an in-process node over Store() — is published to the
// live queries before the commit returns, in commit order.
type LocalBackend struct {
	store   storage.Store
	mu      sync.Mutex // orders commits, their publication and snapshot reads
	seq     uint64     // commits published so far
	publish func(context.Context, *Batch)
	ready   chan struct{}
	once    sync.Once
}

// NewLocal returns a backend over store.
func NewLocal(store storage.Store) *LocalBackend {
	return &LocalBackend{store: store, ready: make(chan struct{})}
}

// Store returns the store wrapped so that commits made through it reach the
// live queries: give it to node.New for a server-side node.
func (l *LocalBackend) Store() storage.Store { return localStore{l.store, l} }

type localStore struct {
	storage.Store
	l *LocalBackend
}

func (s localStore) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	return s.l.Commit(ctx, events)
}

// Fetch keeps the adapter's own query execution, when it has one.
func (s localStore) Fetch(ctx context.Context, collection string, q *query.Query) ([]*entity.State, error) {
	return storage.Fetch(ctx, s.Store, collection, q)
}

// Commit stores the events and publishes the entities they changed.
func (l *LocalBackend) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]event.ID, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	stored, err := l.store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	states, err := l.store.Commit(ctx, events)
	if err != nil || l.publish == nil {
		return states, err
	}
	known := make(map[event.ID]bool, len(stored))
	for _, e := range stored {
		known[e.ID] = true
	}
	b := &Batch{events: map[event.ID][]event.Event{}, commitTime: time.Now(), received: time.Now()}
	for _, e := range events {
		if !known[e.ID] {
			b.events[e.Entity] = append(b.events[e.Entity], e)
		}
	}
	for _, st := range states {
		if len(b.events[st.ID]) > 0 { // a redelivered event changes nothing
			b.changes = append(b.changes, reactor.Change{Collection: st.Collection, ID: st.ID, New: st})
		}
	}
	if len(b.changes) > 0 {
		l.seq++
		b.seq = l.seq
		l.publish(ctx, b)
	}
	return states, nil
}

// Read runs the query between two commits.
func (l *LocalBackend) Read(ctx context.Context, collection string, q *query.Query) ([]*entity.State, Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	states, err := storage.Fetch(ctx, l.store, collection, q)
	return states, localSnapshot(l.seq), err
}

// Run attaches the live queries and waits for ctx.
func (l *LocalBackend) Run(ctx context.Context, publish func(context.Context, *Batch)) error {
	l.mu.Lock()
	l.publish = publish
	l.mu.Unlock()
	l.once.Do(func() { close(l.ready) })
	<-ctx.Done()
	l.mu.Lock()
	l.publish = nil
	l.mu.Unlock()
	return nil
}

// Ready is closed once Run has attached the live queries.
func (l *LocalBackend) Ready() <-chan struct{} { return l.ready }

// CaughtUp: a local store is always caught up once running.
func (l *LocalBackend) CaughtUp(context.Context) error {
	select {
	case <-l.ready:
		return nil
	default:
		return errNotStarted
	}
}

// localSnapshot: the read saw every commit up to this sequence number.
type localSnapshot uint64

func (s localSnapshot) Includes(b *Batch) bool { return b.seq <= uint64(s) }
func (s localSnapshot) Precedes(b *Batch) bool { return b.seq > uint64(s) }
