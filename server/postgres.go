package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

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
	clock    walClock
}

// NewPostgres returns a backend over store, streaming with rc (its
// DatabaseURL is required; see replication.Config for the rest).
//
// When the slot loses transactions (it was dropped under the server, or
// Postgres invalidated it) the backend publishes a resync batch, and every
// live query is read again (hub.resyncLocked); rc.OnGap, if set, is called
// first.
func NewPostgres(store *postgres.Store, rc replication.Config) (*PostgresBackend, error) {
	p := &PostgresBackend{store: store, log: rc.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	onGap := rc.OnGap
	rc.OnGap = func(ctx context.Context, gap replication.Gap) error {
		if onGap != nil {
			if err := onGap(ctx, gap); err != nil {
				return err
			}
		}
		p.log.Warn("the change stream lost transactions; reading every live query again",
			"slot", gap.Slot, "reason", gap.Reason, "from", gap.From.String(), "to", gap.To.String())
		p.publish(ctx, &Batch{resync: true, lsn: uint64(gap.To), received: time.Now()})
		return nil
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

// Run streams from the slot until ctx ends. Meanwhile it keeps the catalog
// in line with the tables (see syncCatalog).
func (p *PostgresBackend) Run(ctx context.Context, publish func(context.Context, *Batch)) error {
	p.publish = publish
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.syncCatalog(sctx) })
	wg.Go(func() { p.sampleLag(sctx) })
	err := p.consumer.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// SyncInterval is how often a Postgres backend brings the catalog in line
// with the tables, in case a schema change made with SQL was not followed
// (no event trigger: the schema was installed by a role that is not a
// superuser) and no write of the table or query has shown it yet.
const SyncInterval = 30 * time.Second

// syncCatalog runs ankurah.sync_catalog when the stream starts and every
// SyncInterval until ctx ends. The changes it finds reach the hub through
// the stream, as ankurah.schema_changes rows.
func (p *PostgresBackend) syncCatalog(ctx context.Context) {
	t := time.NewTicker(SyncInterval)
	defer t.Stop()
	select {
	case <-p.consumer.Ready():
	case <-ctx.Done():
		return
	}
	for {
		if err := p.store.Sync(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("following schema changes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// Lag is how far the acknowledged position trails the server's current
// one: in WAL bytes, and in time — how long ago the oldest WAL position not
// yet acknowledged was first seen written (0 when caught up; on a server
// whose stream never started, since it first looked). Both stay true when
// nothing is written, unlike the delay of the last transaction streamed.
func (p *PostgresBackend) Lag(ctx context.Context) (bytes int64, behind time.Duration, err error) {
	lag, acked, _, err := p.lag(ctx)
	if err != nil {
		return 0, 0, err
	}
	behind = p.clock.behind(acked, time.Now())
	if lag == 0 {
		behind = 0 // a position sampled meanwhile is not this reading's
	}
	return int64(lag), behind, nil
}

func (p *PostgresBackend) lag(ctx context.Context) (lag uint64, acked, cur replication.LSN, err error) {
	var s string
	if err := p.store.Pool().QueryRow(ctx, "select pg_current_wal_lsn()::text").Scan(&s); err != nil {
		return 0, 0, 0, fmt.Errorf("reading the WAL position: %w", err)
	}
	if cur, err = replication.ParseLSN(s); err != nil {
		return 0, 0, 0, err
	}
	p.clock.observe(cur, time.Now())
	if acked = p.consumer.AckedLSN(); cur > acked {
		lag = uint64(cur - acked)
	}
	return lag, acked, cur, nil
}

// LagSampleInterval is how often a Postgres backend reads the server's WAL
// position for the lag in seconds: its resolution.
const LagSampleInterval = time.Second

// sampleLag reads the WAL position every LagSampleInterval until ctx ends.
func (p *PostgresBackend) sampleLag(ctx context.Context) {
	t := time.NewTicker(LagSampleInterval)
	defer t.Stop()
	for {
		_, _, _, _ = p.lag(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// walClock remembers when WAL positions were first seen written, to turn
// the stream's acknowledged position into a time behind (as Postgres's
// walsender does for pg_stat_replication's lags). Only positions not yet
// acknowledged are kept, at most one per sample.
type walClock struct {
	mu      sync.Mutex
	samples []walSample // increasing lsn
}

type walSample struct {
	lsn replication.LSN
	at  time.Time
}

func (c *walClock) observe(lsn replication.LSN, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.samples); n > 0 && c.samples[n-1].lsn >= lsn {
		return
	}
	if len(c.samples) >= 4096 { // far behind: keep the oldest, thin the rest
		c.samples = append(c.samples[:1], c.samples[2:]...)
	}
	c.samples = append(c.samples, walSample{lsn, at})
}

// behind forgets the positions acked covers and returns how long ago the
// oldest remaining one was seen: 0 when every position seen is
// acknowledged.
func (c *walClock) behind(acked replication.LSN, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.samples) && c.samples[i].lsn <= acked {
		i++
	}
	c.samples = append(c.samples[:0], c.samples[i:]...)
	if len(c.samples) == 0 {
		return 0
	}
	return max(now.Sub(c.samples[0].at), 0)
}

// Slots reports the database's Ankurah replication slots (this server's
// and others') and max_slot_wal_keep_size, for /metrics.
func (p *PostgresBackend) Slots(ctx context.Context) ([]replication.SlotInfo, int64, error) {
	slots, err := replication.ListSlots(ctx, p.store.Pool())
	if err != nil {
		return nil, 0, err
	}
	keep, err := replication.MaxSlotWALKeepSize(ctx, p.store.Pool())
	return slots, keep, err
}

// handle turns a replicated transaction into a batch and publishes it.
// Publishing only queues frames, so the transaction is acknowledged once
// every recipient has it queued.
func (p *PostgresBackend) handle(ctx context.Context, tx *replication.Transaction) error {
	b := &Batch{xid: tx.XID, lsn: uint64(tx.CommitLSN), commitTime: tx.CommitTime, decoding: time.Now()}
	// Tables described anew: the catalog follows them first, should no
	// event trigger have done so (their rows below have the new shape).
	for _, r := range tx.Relations {
		if rel, ok, err := p.store.Relation(ctx, r.ID); err == nil && ok {
			if err := p.store.Sync(ctx, rel.Collection); err != nil {
				p.log.Warn("following a changed table", "table", r.Schema+"."+r.Table, "err", err)
			}
		}
	}
	if n := len(tx.SchemaChanges); n > 0 {
		// The stream can deliver a commit a moment before other sessions
		// see it: wait for the catalog to show it, then read it afresh.
		p.awaitVisible(ctx, tx.SchemaChanges[n-1].ID)
	}
	for _, ch := range tx.SchemaChanges {
		p.store.Forget(ch.Collection)
	}
	for _, ch := range tx.SchemaChanges {
		sp := schemaPush{change: ch}
		if c, err := p.store.Collection(ctx, ch.Collection); err == nil {
			sp.coll = &c
		}
		b.schema = append(b.schema, sp)
	}
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
	adopted := map[string]*adoptedChanges{}
	var order []string // adopted collections, in order of first change
	for _, r := range tx.Rows {
		rel, ok, err := p.store.Relation(ctx, r.RelID)
		if err != nil {
			p.log.Warn("replicated row of a table the catalog cannot place", "table", r.Schema+"."+r.Table, "err", err)
			continue
		}
		if r.Kind != replication.CollectionRow {
			if !ok {
				continue // a published table that is no collection's
			}
			ac := adopted[rel.Collection]
			if ac == nil {
				ac = &adoptedChanges{rel: rel}
				adopted[rel.Collection] = ac
				order = append(order, rel.Collection)
			}
			if r.Kind == replication.SideRow {
				ac.side = append(ac.side, r)
			} else {
				ac.rows = append(ac.rows, r)
			}
			continue
		}
		coll := r.Table
		if ok {
			coll = rel.Collection // the table may have been renamed
		}
		if r.Op == replication.Update && r.OldHead != nil && r.OldHead.Equal(r.Head) {
			// An UPDATE that changed nothing (update album set name =
			// name): no event, nothing for the subscribers.
			continue
		}
		st := &entity.State{Collection: coll, ID: r.ID, Head: r.Head, Versions: r.Versions, Values: map[string]value.Value{}}
		vals := r.New
		if r.Op == replication.Delete {
			vals, st.Deleted = r.Old, true
			for _, e := range b.events[r.ID] {
				st.Head = st.Head.Advance(e.ID, e.Parents)
			}
		}
		c := p.schemaOf(ctx, coll, schemas)
		for f, v := range vals {
			if !v.IsNull() {
				st.Values[f] = p.typed(c, coll, f, v)
			}
		}
		b.changes = append(b.changes, reactor.Change{Collection: coll, ID: r.ID, New: st})
	}
	for _, coll := range order {
		b.changes = append(b.changes, p.adoptedStates(ctx, adopted[coll], b.events, schemas)...)
	}
	if (len(b.changes) > 0 || len(b.schema) > 0) && p.publish != nil {
		p.publish(ctx, b)
	}
	return nil
}

// awaitVisible waits, briefly, until schema change id (committed: it came
// through the stream) is visible to the server's queries. Postgres writes
// a commit's WAL record before the transaction stops counting as in
// progress, so a decoded commit can precede its visibility by a moment.
func (p *PostgresBackend) awaitVisible(ctx context.Context, id string) {
	deadline := time.Now().Add(2 * time.Second)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var ok bool
		err := p.store.Pool().QueryRow(ctx, "select exists (select 1 from ankurah.schema_changes where id = $1)", id).Scan(&ok)
		if err != nil || ok || time.Now().After(deadline) {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// adoptedChanges are one transaction's changes to an adopted collection:
// its table's rows and its side table's.
type adoptedChanges struct {
	rel  postgres.Relation
	rows []replication.RowChange
	side []replication.RowChange
}

// adoptedStates pairs an adopted collection's side table changes (an
// entity's id, head and versions, keyed by the row's primary key) with its
// table's changes (the row's values) by key: one state per entity changed.
// A change of the table without one of its side table changed no history
// (a no-op UPDATE, or a row not adopted yet) and is not passed on. A side
// row inserted without its table's row is a row the backfill adopted: its
// values are its creation event's; one updated without it had its head
// changed only (an edit that lost every field to a concurrent one): its
// values are read.
func (p *PostgresBackend) adoptedStates(ctx context.Context, ac *adoptedChanges, events map[event.ID][]event.Event, schemas map[string]*schema.Collection) []reactor.Change {
	coll := ac.rel.Collection
	c := p.schemaOf(ctx, coll, schemas)
	key := func(vals map[string]value.Value, cols []string) string {
		var b []byte
		for _, col := range cols {
			b = vals[col].AppendJSON(b)
			b = append(b, 0)
		}
		return string(b)
	}
	sideCols := make([]string, len(ac.rel.Keys))
	for i := range sideCols {
		sideCols[i] = "k" + strconv.Itoa(i+1)
	}
	written := map[string]*replication.RowChange{} // key → the table's last insert or update of it
	deleted := map[string]*replication.RowChange{} // key → the table's last delete of it
	for i := range ac.rows {
		r := &ac.rows[i]
		if r.Op == replication.Delete {
			deleted[key(r.Old, ac.rel.Keys)] = r
		} else {
			written[key(r.New, ac.rel.Keys)] = r
		}
	}
	last := map[event.ID]int{} // entity → its last side change
	var ids []event.ID
	for i, r := range ac.side {
		if _, seen := last[r.ID]; !seen {
			ids = append(ids, r.ID)
		}
		last[r.ID] = i
	}
	var out []reactor.Change
	for _, id := range ids {
		r := ac.side[last[id]]
		st := &entity.State{Collection: coll, ID: id, Head: r.Head, Versions: r.Versions, Values: map[string]value.Value{}}
		var cols map[string]value.Value
		switch {
		case r.Op == replication.Delete:
			st.Deleted = true
			for _, e := range events[id] {
				st.Head = st.Head.Advance(e.ID, e.Parents)
			}
			if row := deleted[key(r.Old, sideCols)]; row != nil {
				cols = row.Old
			}
		case written[key(r.New, sideCols)] != nil:
			cols = written[key(r.New, sideCols)].New
		case r.Op == replication.Insert:
			for _, e := range events[id] {
				if e.IsCreation() {
					for f, v := range e.Ops {
						st.Values[f] = v
					}
				}
			}
		default:
			got, err := p.store.Get(ctx, coll, []event.ID{id})
			if err != nil || len(got) == 0 {
				p.log.Warn("replicated head change of an adopted row that cannot be read", "collection", coll, "id", id, "err", err)
				continue
			}
			st.Values = got[0].Values
		}
		for col, v := range cols {
			if f, ok := ac.rel.Columns[col]; ok && !v.IsNull() {
				st.Values[f] = p.typed(c, coll, f, v)
			}
		}
		out = append(out, reactor.Change{Collection: coll, ID: id, New: st})
	}
	return out
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
