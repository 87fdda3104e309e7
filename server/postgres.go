package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// maxReadyLag is how far (in WAL bytes) the stream may trail the server's
// current position for /readyz to call it caught up.
const maxReadyLag = 16 << 20

// PostgresBackend serves a Postgres database. Every committed write — made
// through the protocol, an in-process node, or plain SQL — reaches the live
// queries through the logical replication slot this backend owns, so they
// all arrive in Postgres's commit order, one transaction at a time.
type PostgresBackend struct {
	store    *postgres.Store
	consumer *replication.Consumer
	log      *slog.Logger
	publish  func(context.Context, *Batch)
}

// NewPostgres returns a backend over store, streaming with rc (its
// DatabaseURL is required; see replication.Config for the rest).
func NewPostgres(store *postgres.Store, rc replication.Config) (*PostgresBackend, error) {
	p := &PostgresBackend{store: store, log: rc.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	c, err := replication.New(rc, p.handle)
	if err != nil {
		return nil, err
	}
	p.consumer = c
	return p, nil
}

// Consumer returns the replication consumer (its slot, its position).
func (p *PostgresBackend) Consumer() *replication.Consumer { return p.consumer }

// Store returns the Postgres store.
func (p *PostgresBackend) Store() storage.Store { return p.store }

// Commit writes the events in one Postgres transaction.
func (p *PostgresBackend) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	return p.store.Commit(ctx, events)
}

// Read runs the query in a snapshot whose xid list filters the stream.
func (p *PostgresBackend) Read(ctx context.Context, collection string, q *query.Query) ([]*entity.State, Snapshot, error) {
	states, snap, err := p.store.FetchSnapshot(ctx, collection, q)
	if err != nil {
		return nil, nil, err
	}
	return states, pgSnapshot(snap), nil
}

// Run streams from the slot until ctx ends.
func (p *PostgresBackend) Run(ctx context.Context, publish func(context.Context, *Batch)) error {
	p.publish = publish
	return p.consumer.Run(ctx)
}

// Ready is closed once the slot streams.
func (p *PostgresBackend) Ready() <-chan struct{} { return p.consumer.Ready() }

// CaughtUp compares the acknowledged position with the server's WAL.
func (p *PostgresBackend) CaughtUp(ctx context.Context) error {
	select {
	case <-p.consumer.Ready():
	default:
		return errNotStarted
	}
	lag, acked, cur, err := p.lag(ctx)
	if err != nil {
		return err
	}
	if lag > maxReadyLag {
		return fmt.Errorf("replication is %d bytes behind (acknowledged %s, server at %s)", lag, acked, cur)
	}
	return nil
}

// LagBytes is how far (in WAL bytes) the acknowledged position trails the
// server's current one: unlike the last transaction's delay, it keeps
// telling the truth when nothing is being written.
func (p *PostgresBackend) LagBytes(ctx context.Context) (int64, error) {
	lag, _, _, err := p.lag(ctx)
	return int64(lag), err
}

func (p *PostgresBackend) lag(ctx context.Context) (lag uint64, acked, cur replication.LSN, err error) {
	var s string
	if err := p.store.Pool().QueryRow(ctx, "select pg_current_wal_lsn()::text").Scan(&s); err != nil {
		return 0, 0, 0, fmt.Errorf("reading the WAL position: %w", err)
	}
	if cur, err = replication.ParseLSN(s); err != nil {
		return 0, 0, 0, err
	}
	if acked = p.consumer.AckedLSN(); cur > acked {
		lag = uint64(cur - acked)
	}
	return lag, acked, cur, nil
}

// handle turns a replicated transaction into a batch and publishes it.
// Publishing only queues frames, so the transaction is acknowledged once
// every recipient has it queued.
func (p *PostgresBackend) handle(ctx context.Context, tx *replication.Transaction) error {
	b := &Batch{xid: tx.XID, lsn: uint64(tx.CommitLSN), commitTime: tx.CommitTime}
	if len(tx.Events) > 0 {
		b.events = make(map[event.ID][]event.Event, len(tx.Events))
		schemas := map[string]*schema.Collection{}
		for _, row := range tx.Events {
			e, err := p.eventOf(ctx, row, schemas)
			if err != nil {
				// An event the server cannot read still changed its row:
				// the row change goes out, without the event.
				p.log.Warn("replicated event not decodable", "event", row.ID, "err", err)
				continue
			}
			b.events[e.Entity] = append(b.events[e.Entity], e)
		}
	}
	schemas := map[string]*schema.Collection{}
	for _, r := range tx.Rows {
		st := &entity.State{Collection: r.Table, ID: r.ID, Head: r.Head, Versions: r.Versions, Values: map[string]value.Value{}}
		vals := r.New
		if r.Op == replication.Delete {
			vals, st.Deleted = r.Old, true
			for _, e := range b.events[r.ID] {
				st.Head = st.Head.Advance(e.ID, e.Parents)
			}
		}
		c := p.schemaOf(ctx, r.Table, schemas)
		for f, v := range vals {
			if !v.IsNull() {
				st.Values[f] = p.typed(c, r.Table, f, v)
			}
		}
		b.changes = append(b.changes, reactor.Change{Collection: r.Table, ID: r.ID, New: st})
	}
	if len(b.changes) > 0 && p.publish != nil {
		p.publish(ctx, b)
	}
	return nil
}

// schemaOf returns a collection's schema (nil if it cannot be read), once
// per transaction.
func (p *PostgresBackend) schemaOf(ctx context.Context, name string, cache map[string]*schema.Collection) *schema.Collection {
	if c, ok := cache[name]; ok {
		return c
	}
	var c *schema.Collection
	if got, err := p.store.Collection(ctx, name); err == nil {
		c = &got
	}
	cache[name] = c
	return c
}

// typed gives a replicated value its field's type. The consumer decodes by
// column type OID; an enum, a domain or an array arrives as the text
// Postgres printed, and a real as a real: the field's type decides.
func (p *PostgresBackend) typed(c *schema.Collection, coll, field string, v value.Value) value.Value {
	if c == nil {
		return v
	}
	f, ok := c.Field(field)
	if !ok || v.Type() == f.Type.ValueType() || f.Type == value.Ref {
		return v
	}
	var w value.Value
	var err error
	if v.Type() == value.Text {
		w, err = value.ParsePGText(v.Text(), f.Type)
	} else {
		w, err = value.Convert(v, f.Type)
	}
	if err != nil {
		p.log.Warn("replicated value does not read as its field's type; passed on as decoded",
			"collection", coll, "field", field, "type", f.Type.String(), "err", err)
		return v
	}
	return w
}

func (p *PostgresBackend) eventOf(ctx context.Context, row replication.EventRow, schemas map[string]*schema.Collection) (event.Event, error) {
	e := event.Event{ID: row.ID, Collection: row.Collection, Entity: row.Entity, Parents: row.Parents, Delete: row.Tombstone, Author: row.Author}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(row.Operations, &ops); err != nil {
		return e, err
	}
	c := schemas[row.Collection]
	if c == nil {
		got, err := p.store.Collection(ctx, row.Collection)
		if err != nil {
			return e, err
		}
		c = &got
		schemas[row.Collection] = c
	}
	if len(ops) > 0 {
		e.Ops = make(map[string]value.Value, len(ops))
	}
	for f, raw := range ops {
		var v value.Value
		var err error
		if fd, ok := c.Field(f); ok {
			v, err = value.Decode(raw, fd.Type)
		} else {
			v, err = value.Infer(raw)
		}
		if err != nil {
			return e, fmt.Errorf("field %q: %w", f, err)
		}
		e.Ops[f] = v
	}
	return e, nil
}

// pgSnapshot filters the stream by a read's MVCC snapshot: a transaction
// the snapshot saw committed is in the read; one that commits at or after
// the WAL position read just after the snapshot cannot be, nor can any
// later one.
type pgSnapshot postgres.Snapshot

func (s pgSnapshot) Includes(b *Batch) bool { return postgres.Snapshot(s).Visible(b.xid) }
func (s pgSnapshot) Precedes(b *Batch) bool { return b.lsn >= s.LSN }
