package client

// A deterministic simulation of the merge protocol: several client cores
// (the real client's state machine) and a server replica (the real
// in-memory store, merge code and reactor) exchange real protocol frames
// through queues that a seeded scheduler delivers — reordering commit
// results against the change stream (delayed fan-out), duplicating frames
// and commits, dropping connections (and with them everything in flight,
// which the clients redeliver), partitioning clients that keep editing
// offline, and healing. At quiescence it checks convergence, that no
// write was lost, that heads are antichains, and that every live query's
// change sets add up to the right result set.
//
// Field t is collaborative text (ytext): clients and the server (its
// writes stand for SQL UPDATEs of the column) edit it with Yjs updates —
// inserts of text of every width, deletions, whole replacements — from
// whatever state they hold, so concurrent and offline edits meet. As the
// real server does, the stream sends the documents of ytext fields only
// with entities that enter a result set (never, reading like Postgres) and
// changes without events, and a commit's result only when the commit was
// merged with others' events; clients keep their documents up to date
// from the events' updates, and a client that holds a text without its
// document does not edit it (the real client fetches it first). At
// quiescence every replica's document holds exactly the server's: the
// same text and the same state vector (no update lost).
//
// The server replica reads in one of two modes (-sim.backend): "local"
// reads subscriptions and LIMIT refills exactly at the stream's position,
// as server.LocalBackend does; "postgres" reads them from the store's
// present, ahead of a lagging stream, as the Postgres backend does, and
// skips the stream's older changes for them with the snapshot filters of
// server/hub.go. In both, a LIMIT window that needs rows from storage is
// frozen, read again and swapped in as separate steps, as server/refill.go
// does (modelled here: the hub itself is not importable).
//
// Replay a failure with the seed it prints:
//
//	go test ./clients/go/client -run TestSimulation -sim.seed=N -sim.trace -v

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/internal/yjs"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/memory"
	"github.com/ankurah/ankurah-go/value"
)

var (
	simSeed    = flag.Uint64("sim.seed", 0, "run the simulation with this seed only (replay a failure)")
	simSeeds   = flag.Int("sim.seeds", 300, "how many seeds TestSimulation runs")
	simSteps   = flag.Int("sim.steps", 100, "scheduler steps per simulated run (before quiescence)")
	simTrace   = flag.Bool("sim.trace", false, "log every step of the simulation")
	simBackend = flag.String("sim.backend", "both", `how the server replica reads subscriptions and LIMIT refills: "local" (at the stream's position), "postgres" (ahead of it, with the hub's snapshot filters), or "both" (by the seed's parity)`)
)

// simPostgresLike says in which mode a seed's server replica reads.
func simPostgresLike(seed uint64) bool {
	switch *simBackend {
	case "local":
		return false
	case "postgres":
		return true
	case "both":
		return seed%2 == 1
	}
	panic("-sim.backend: want local, postgres or both, not " + *simBackend)
}

func TestSimulation(t *testing.T) {
	t.Parallel()
	if *simSeed != 0 {
		if err := runSim(*simSeed, *simSteps, t.Logf, *simTrace); err != nil {
			t.Fatalf("seed %d (-sim.backend=%s -sim.steps=%d): %v", *simSeed, *simBackend, *simSteps, err)
		}
		return
	}
	seeds := *simSeeds
	switch {
	case testing.Short():
		seeds /= 5
	case raceEnabled: // the race detector slows each seed down several times
		seeds /= 3
	}
	// Two workers: the seeds are independent.
	var mu sync.Mutex
	failures := 0
	next := uint64(0)
	var wg sync.WaitGroup
	for range min(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				next++
				seed := next
				stop := failures >= 3 || seed > uint64(seeds)
				mu.Unlock()
				if stop {
					return
				}
				if err := runSim(seed, *simSteps, t.Logf, false); err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
					t.Errorf("seed %d: %v\n    replay: go test ./clients/go/client -run TestSimulation -sim.seed=%d -sim.backend=%s -sim.steps=%d -sim.trace -v", seed, err, seed, *simBackend, *simSteps)
				}
			}
		}()
	}
	wg.Wait()
	if failures == 0 {
		t.Logf("%d seeds × %d steps (-sim.backend=%s), all converged", seeds, *simSteps, *simBackend)
	}
}

// ---- the simulated world ----

type sim struct {
	rng     *rand.Rand
	now     time.Time
	logf    func(string, ...any)
	trace   bool
	srv     *simServer
	clients []*simClient
	made    map[event.ID]event.Event // every event a client made
	acked   map[event.ID]bool        // events in commits the server confirmed
	failure error
}

type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func (s *sim) tracef(format string, args ...any) {
	if s.trace {
		s.logf("%s "+format, append([]any{s.now.Format("15:04:05.000")}, args...)...)
	}
}

func (s *sim) fail(format string, args ...any) {
	if s.failure == nil {
		s.failure = fmt.Errorf(format, args...)
	}
}

var simSchema = schema.Collection{Name: "doc", Fields: []schema.Field{{Name: "a", Type: value.Int}, {Name: "b", Type: value.Int}, {Name: "c", Type: value.Text}, {Name: "t", Type: value.YText}}}

// The live queries every client holds: the whole collection, and a LIMIT
// window whose selection the scheduler changes.
const (
	simAll     = ""
	simWindowQ = "a >= ? ORDER BY b DESC, c LIMIT ?"
)

func runSim(seed uint64, steps int, logf func(string, ...any), trace bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	s := &sim{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		logf: logf, trace: trace, made: map[event.ID]event.Event{}, acked: map[event.ID]bool{}}
	s.srv = newSimServer(s, simPostgresLike(seed))
	s.tracef("server reads like the %s backend", map[bool]string{false: "local", true: "postgres"}[s.srv.ahead])
	for range 3 {
		s.srv.write(true)
	}
	nClients := 3 + s.rng.IntN(2)
	for i := range nClients {
		s.clients = append(s.clients, s.newClient(i))
	}
	for _, c := range s.clients {
		s.connect(c)
	}
	for step := 0; step < steps && s.failure == nil; step++ {
		s.step(true)
	}
	// Heal everything and run to quiescence.
	for _, c := range s.clients {
		c.partitioned = false
	}
	for i := 0; s.failure == nil; i++ {
		if i > 50_000 {
			return fmt.Errorf("no quiescence after %d steps", i)
		}
		if !s.step(false) {
			break
		}
	}
	if s.failure != nil {
		return s.failure
	}
	return s.check()
}

// step performs one random enabled action; during the run (live) clients
// also edit, disconnect and partition. It reports whether anything was
// enabled.
func (s *sim) step(live bool) bool {
	s.now = s.now.Add(time.Duration(1+s.rng.IntN(20)) * time.Millisecond)
	type action struct {
		w  int
		fn func()
	}
	var acts []action
	add := func(w int, fn func()) { acts = append(acts, action{w, fn}) }
	for _, c := range s.clients {
		if c.conn != nil {
			if len(c.conn.up) > 0 {
				add(20, func() { s.deliverUp(c.conn) })
			}
			if len(c.conn.down) > 0 {
				add(25, func() { s.deliverDown(c) })
			}
			if c.inflight == 0 && c.core.next() != nil {
				add(15, func() { s.send(c) })
			}
		} else if !c.partitioned {
			add(5, func() { s.connect(c) })
		}
		if live {
			add(25, func() { s.edit(c) })
			add(2, func() { s.changeWindow(c) })
			if c.conn != nil {
				add(2, func() { s.drop(c, "drop") })
				add(1, func() { s.drop(c, "partition"); c.partitioned = true })
				if c.inflight != 0 {
					add(2, func() { s.resend(c) })
				}
			} else if c.partitioned {
				add(3, func() { c.partitioned = false; s.tracef("c%d: heal", c.id) })
			}
		}
	}
	if len(s.srv.repl) > 0 {
		add(15, s.srv.fanout)
	}
	if slices.ContainsFunc(s.srv.refills, func(r *simRefill) bool { return !r.read }) {
		add(10, s.srv.readRefill)
	}
	if slices.ContainsFunc(s.srv.refills, func(r *simRefill) bool { return r.read }) {
		add(10, s.srv.swapRefill)
	}
	if live {
		add(4, func() { s.srv.write(false) })
	}
	if len(acts) == 0 {
		return false
	}
	total := 0
	for _, a := range acts {
		total += a.w
	}
	n := s.rng.IntN(total)
	for _, a := range acts {
		if n < a.w {
			a.fn()
			break
		}
		n -= a.w
	}
	s.checkVisible()
	return true
}

// checkVisible: every client's visible state of every entity is its base
// with its pending events applied (kept incrementally by local commits).
func (s *sim) checkVisible() {
	for _, c := range s.clients {
		for _, e := range c.core.entries {
			if want := c.core.replayed(e); !sameState(e.visible, want) {
				s.fail("c%d: visible state of %s is %v, its base and pending events give %v", c.id, e.id, e.visible, want)
			}
		}
	}
}

// ---- the server replica ----

type simServer struct {
	s       *sim
	store   *memory.Store
	react   *reactor.Reactor
	ids     *event.Generator
	conns   []*simConn
	owner   map[*reactor.Subscription]*simConn
	names   map[*reactor.Subscription]string
	repl    []simBatch // committed, not yet fanned out (replication lag)
	fanned  []simBatch // fanned out, in order (the hub's ring)
	entropy rngReader

	// ahead: subscriptions and refills read the store's present, ahead of
	// the stream (the Postgres backend), filtered as server/hub.go does;
	// otherwise they read at the stream's position (the local backends).
	// A snapshot is the sequence number of the last committed batch it
	// includes.
	ahead     bool
	seq       uint64                           // batches committed
	subFilter map[*reactor.Subscription]uint64 // hub.filters
	// LIMIT windows are refilled as server/refill.go does: frozen by the
	// batch that found them short (hub.stale), read again later, then
	// brought up to the stream and swapped in — the read and the swap are
	// separate steps, with the stream moving in between.
	stale   map[*reactor.Subscription]uint64 // hub.stale
	refills []*simRefill                     // hub.refills, with their reads
}

// simRefill is a stale window waiting to be read again (read false) or to be
// swapped in (read true).
type simRefill struct {
	rs     *reactor.Subscription
	read   bool
	states []*entity.State
	snap   uint64
}

type simBatch struct {
	seq     uint64
	changes []reactor.Change
	events  map[event.ID][]event.Event
}

type simConn struct {
	c     *simClient
	alive bool
	up    [][]byte // client → server frames, in order
	down  [][]byte // server → client frames, in order
	subs  map[string]*reactor.Subscription
}

func newSimServer(s *sim, ahead bool) *simServer {
	st := memory.New()
	if _, err := st.EnsureCollection(context.Background(), simSchema); err != nil {
		panic(err)
	}
	srv := &simServer{s: s, store: st, owner: map[*reactor.Subscription]*simConn{}, names: map[*reactor.Subscription]string{},
		entropy: rngReader{s.rng}, ahead: ahead, subFilter: map[*reactor.Subscription]uint64{}, stale: map[*reactor.Subscription]uint64{}}
	srv.react = reactor.New(nil) // as the hub's: windows that need rows go stale
	srv.ids = event.NewGeneratorWith(func() time.Time { return s.now }, srv.entropy)
	return srv
}

func (srv *simServer) types(coll, field string) (value.Type, bool) {
	sc, err := srv.store.Collection(context.Background(), coll)
	if err != nil {
		return 0, false
	}
	f, ok := sc.Field(field)
	return f.Type, ok
}

// commit stores events and queues the transaction for the fan-out.
func (srv *simServer) commit(evs []event.Event) ([]*entity.State, error) {
	ctx := context.Background()
	ids := make([]event.ID, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	stored, err := srv.store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	states, err := srv.store.Commit(ctx, evs)
	if err != nil {
		return nil, err
	}
	known := map[event.ID]bool{}
	for _, e := range stored {
		known[e.ID] = true
	}
	b := simBatch{events: map[event.ID][]event.Event{}}
	for _, e := range evs {
		if !known[e.ID] {
			b.events[e.Entity] = append(b.events[e.Entity], e)
		}
	}
	for _, st := range states {
		if len(b.events[st.ID]) > 0 {
			b.changes = append(b.changes, reactor.Change{Collection: st.Collection, ID: st.ID, New: st})
		}
	}
	if len(b.changes) > 0 {
		srv.seq++
		b.seq = srv.seq
		srv.repl = append(srv.repl, b)
	}
	return states, nil
}

// streamedSeq is the stream's position: the last batch fanned out.
func (srv *simServer) streamedSeq() uint64 {
	if len(srv.repl) > 0 {
		return srv.repl[0].seq - 1
	}
	return srv.seq
}

// skip is hub.skip: the change is in the snapshot the subscription's
// result set was read from, or the subscription is a frozen window.
func (srv *simServer) skip(b simBatch) func(*reactor.Subscription, *reactor.Change) bool {
	return func(rs *reactor.Subscription, ch *reactor.Change) bool {
		if _, frozen := srv.stale[rs]; frozen {
			return true
		}
		if snap, ok := srv.subFilter[rs]; ok && b.seq <= snap {
			srv.s.tracef("server: #%d skipped for %s (%s): its result set was read at #%d", b.seq, srv.names[rs], rs.Query(), snap)
			return true
		}
		return false
	}
}

// freeze is hub.freezeLocked: a window the reactor found short stays as it
// was before batch seq until it is read again.
func (srv *simServer) freeze(rs *reactor.Subscription, seq uint64) {
	if _, ok := srv.stale[rs]; ok || srv.owner[rs] == nil {
		return
	}
	srv.s.tracef("server: %s (%s) is short after #%d: frozen until refilled", srv.names[rs], rs.Query(), seq)
	srv.stale[rs] = seq
	srv.refills = append(srv.refills, &simRefill{rs: rs})
}

// readRefill is the first half of hub.refill: the oldest stale window is
// read again, outside the lock — ahead of the stream, or (local) at its
// position.
func (srv *simServer) readRefill() {
	for i, r := range srv.refills {
		if r.read {
			continue
		}
		if _, ok := srv.stale[r.rs]; !ok {
			srv.refills = slices.Delete(srv.refills, i, i+1) // dropped meanwhile
			return
		}
		if !srv.ahead {
			for len(srv.repl) > 0 {
				srv.fanout()
			}
		}
		states, err := storage.Fetch(context.Background(), srv.store, r.rs.Collection(), r.rs.Query())
		if err != nil {
			srv.s.fail("server: refill read: %v", err)
			return
		}
		r.read, r.states, r.snap = true, states, srv.seq
		srv.s.tracef("server: refill of %s read at #%d (stream at #%d)", srv.names[r.rs], r.snap, srv.streamedSeq())
		return
	}
}

// swapRefill is the second half of hub.refill (catchUpLocked and
// swapLocked): the rows read start a new subscription, which the fanned-out
// batches the read does not include bring up to the stream; the client gets
// the difference from the frozen window in one frame.
func (srv *simServer) swapRefill() {
	i := slices.IndexFunc(srv.refills, func(r *simRefill) bool { return r.read })
	r := srv.refills[i]
	srv.refills = slices.Delete(srv.refills, i, i+1)
	old := r.rs
	frozenAt, ok := srv.stale[old]
	if !ok {
		return // dropped or replaced meanwhile
	}
	next, err := srv.react.Subscribe(old.Collection(), old.Query(), r.states)
	if err != nil {
		srv.s.fail("server: refill: %v", err)
		return
	}
	var staleAt uint64
	for _, b := range srv.fanned {
		if b.seq <= r.snap {
			continue
		}
		if _, err := srv.react.ApplyTo(context.Background(), next, b.changes, nil); errors.Is(err, reactor.ErrStale) {
			staleAt = b.seq
			break
		} else if err != nil {
			srv.s.fail("server: refill catch-up: %v", err)
			return
		}
	}
	if r.snap > srv.streamedSeq() {
		srv.subFilter[next] = r.snap
	}
	before, after := srv.react.Members(old), srv.react.Members(next)
	was := map[event.ID]*entity.State{}
	for _, st := range before {
		was[st.ID] = st
	}
	is := map[event.ID]bool{}
	for _, st := range after {
		is[st.ID] = true
	}
	now := map[event.ID]*entity.State{}
	for _, st := range before {
		if !is[st.ID] {
			now[st.ID] = st
		}
	}
	for _, b := range srv.fanned {
		if b.seq < frozenAt {
			continue
		}
		for _, ch := range b.changes {
			if st, ok := now[ch.ID]; ok {
				if ch.New == nil {
					c := *st
					c.Deleted = true
					now[ch.ID] = &c
				} else {
					now[ch.ID] = ch.New
				}
			}
		}
	}
	conn, name := srv.owner[old], srv.names[old]
	var items [][]byte
	item := func(kind reactor.Kind, st *entity.State) {
		f := fmt.Appendf(nil, `{"sub":%q,"kind":%q,"entity":`, name, kind.String())
		items = append(items, append(protocol.AppendEntity(f, st), '}'))
	}
	for _, st := range before {
		if !is[st.ID] {
			item(reactor.Remove, now[st.ID])
		}
	}
	for _, st := range after {
		if o := was[st.ID]; o != nil && !o.Head.Equal(st.Head) {
			item(reactor.Update, st)
		}
	}
	for _, st := range after {
		if was[st.ID] == nil {
			item(reactor.Add, st)
		}
	}
	srv.unsubscribe(old)
	conn.subs[name] = next
	srv.owner[next], srv.names[next] = conn, name
	srv.s.tracef("server: refill of %s swapped in: %d item(s), stale again at #%d", name, len(items), staleAt)
	if len(items) > 0 && conn.alive {
		f := []byte(`{"type":"changes","items":[`)
		for j, it := range items {
			if j > 0 {
				f = append(f, ',')
			}
			f = append(f, it...)
		}
		conn.down = append(conn.down, append(f, "]}"...))
	}
	if staleAt != 0 {
		srv.freeze(next, staleAt)
	}
}

// unsubscribe drops a reactor subscription and everything kept for it.
func (srv *simServer) unsubscribe(rs *reactor.Subscription) {
	srv.react.Unsubscribe(rs)
	delete(srv.owner, rs)
	delete(srv.names, rs)
	delete(srv.subFilter, rs)
	delete(srv.stale, rs)
}

// write is a server-side write (think: a plain SQL UPDATE): an edit of an
// existing entity, or a creation.
func (srv *simServer) write(create bool) {
	s := srv.s
	var list []*entity.State
	srv.store.Scan(context.Background(), "doc", func(st *entity.State) bool { list = append(list, st); return true })
	var ev event.Event
	if create || len(list) == 0 {
		id := srv.ids.New()
		ev = event.Event{ID: id, Collection: "doc", Entity: id, Ops: s.randomOps(true)}
		s.textOp(ev.Ops, nil, true)
	} else {
		st := list[s.rng.IntN(len(list))]
		ev = event.Event{ID: srv.ids.New(st.Head...), Collection: "doc", Entity: st.ID, Parents: slices.Clone(st.Head), Ops: s.randomOps(false)}
		s.textOp(ev.Ops, st, true)
	}
	if _, err := srv.commit([]event.Event{ev}); err != nil {
		s.fail("server write: %v", err)
	}
	s.tracef("server: write %s on %s %v", ev.ID, ev.Entity, ev.Ops)
}

func (s *sim) randomOps(create bool) map[string]value.Value {
	ops := map[string]value.Value{}
	fields := []string{"a", "b", "c"}
	n := 1 + s.rng.IntN(2)
	if create {
		n = 3
	}
	for _, i := range s.rng.Perm(3)[:n] {
		f := fields[i]
		switch {
		case !create && s.rng.IntN(10) == 0:
			ops[f] = value.NullValue
		case f == "c":
			ops[f] = value.TextOf([]string{"x", "y", "z", "é"}[s.rng.IntN(4)])
		default:
			ops[f] = value.IntOf(int64(s.rng.IntN(6)))
		}
	}
	return ops
}

// simPieces are the texts edits insert: every UTF-8 width, surrogate pairs
// in UTF-16 (whose halves a position must not split), combining marks.
var simPieces = []string{"a", "bc", "é", "中", "😀", "👩‍👧", " ", "e\u0301", "xyz"}

// textOp adds to ops, sometimes (always when sure is set and it can), an
// edit of text field t made on st's document (nil: a new entity) by a
// replica with a client id of its own, as each Yjs session has. A state
// holding the text without its document cannot be edited.
func (s *sim) textOp(ops map[string]value.Value, st *entity.State, sure bool) {
	if !sure && s.rng.IntN(2) == 0 {
		return
	}
	var state []byte
	if st != nil {
		if state = st.Docs["t"]; state == nil && !st.Values["t"].IsNull() {
			return
		}
	}
	d, err := yjs.Load(state, yjs.Options{ClientID: 1 + uint64(s.rng.Uint32N(1<<32-1))})
	if len(state) == 0 {
		d, err = yjs.NewDoc(yjs.Options{ClientID: 1 + uint64(s.rng.Uint32N(1<<32-1))}), nil
	}
	if err != nil {
		s.fail("loading a document: %v", err)
		return
	}
	text := []rune(d.Text())
	pos := s.rng.IntN(len(text) + 1)
	at := yjs.UTF16Len(string(text[:pos]))
	var u []byte
	switch k := s.rng.IntN(10); {
	case k < 6 || len(text) == 0:
		u, err = d.Insert(at, simPieces[s.rng.IntN(len(simPieces))])
	case k < 9:
		n := min(len(text)-pos, 1+s.rng.IntN(3))
		u, err = d.Delete(at, yjs.UTF16Len(string(text[pos:pos+n])))
	default:
		u, err = d.ReplaceText(string(text[:pos]) + simPieces[s.rng.IntN(len(simPieces))])
	}
	if err != nil {
		s.fail("text edit: %v", err)
		return
	}
	if u != nil {
		ops["t"] = value.YUpdateOf(u)
	}
}

func (srv *simServer) reply(conn *simConn, id uint64, result []byte) {
	f := fmt.Appendf(nil, `{"type":"result","id":%d,"result":`, id)
	conn.down = append(conn.down, append(append(f, result...), '}'))
}

func (srv *simServer) replyError(conn *simConn, id uint64, err error) {
	f, _ := json.Marshal(protocol.ServerFrame{Type: protocol.TypeError, ID: id, Error: protocol.ErrorFrom(err)})
	conn.down = append(conn.down, f)
}

// appendEntities appends a JSON array of entities as the server writes them.
func appendEntities(b []byte, states []*entity.State, unchanged func(*entity.State) bool) []byte {
	b = append(b, '[')
	for i, st := range states {
		if i > 0 {
			b = append(b, ',')
		}
		if unchanged != nil && unchanged(st) {
			b = protocol.AppendUnchanged(b, st)
		} else {
			b = protocol.AppendEntity(b, st)
		}
	}
	return append(b, ']')
}

// handle serves one request of a connection.
func (srv *simServer) handle(conn *simConn, frame []byte) {
	s := srv.s
	req, id, perr := protocol.Decode(frame)
	if perr != nil {
		srv.replyError(conn, id, perr)
		return
	}
	ctx := context.Background()
	switch req.Type {
	case protocol.TypeSubscribe, protocol.TypeUpdateSubscription:
		if !srv.ahead {
			// A snapshot at the stream's position: fan out what is pending first.
			for len(srv.repl) > 0 {
				srv.fanout()
			}
		}
		args, perr := protocol.ParseArgs(req.Args)
		if perr != nil {
			srv.replyError(conn, id, perr)
			return
		}
		q, err := query.Parse(req.Query, args...)
		if err != nil {
			srv.replyError(conn, id, err)
			return
		}
		coll := req.Collection
		known, _ := protocol.ParseKnown(req.Known)
		if known == nil {
			known = map[event.ID]event.Head{}
		}
		old := conn.subs[req.Sub]
		if req.Type == protocol.TypeUpdateSubscription {
			if old == nil {
				srv.replyError(conn, id, protocol.Errorf(protocol.CodeUnknownSubscription, "no %s", req.Sub))
				return
			}
			coll = old.Collection()
			for _, st := range srv.react.Members(old) {
				known[st.ID] = st.Head
			}
		} else if old != nil {
			srv.replyError(conn, id, protocol.Errorf(protocol.CodeDuplicateSubscription, "%s", req.Sub))
			return
		}
		states, err := storage.Fetch(ctx, srv.store, coll, q)
		if err != nil {
			srv.replyError(conn, id, err)
			return
		}
		rs, err := srv.react.Subscribe(coll, q, states)
		if err != nil {
			srv.replyError(conn, id, err)
			return
		}
		if srv.seq > srv.streamedSeq() {
			// Read ahead of the stream: its changes up to here are in
			// the result (hub.filters).
			srv.subFilter[rs] = srv.seq
		}
		if old != nil {
			srv.unsubscribe(old)
		}
		conn.subs[req.Sub] = rs
		srv.owner[rs] = conn
		srv.names[rs] = req.Sub
		members := srv.react.Members(rs)
		in := map[event.ID]bool{}
		for _, st := range members {
			in[st.ID] = true
		}
		removed := []string{}
		for _, k := range slices.SortedFunc(maps.Keys(known), event.ID.Compare) {
			if !in[k] {
				removed = append(removed, k.String())
			}
		}
		b := fmt.Appendf(nil, `{"sub":%q,"entities":`, req.Sub)
		b = appendEntities(b, members, func(st *entity.State) bool { h, ok := known[st.ID]; return ok && h.Equal(st.Head) })
		rm, _ := json.Marshal(removed)
		b = append(append(append(b, `,"removed":`...), rm...), '}')
		srv.reply(conn, id, b)
	case protocol.TypeUnsubscribe:
		if rs := conn.subs[req.Sub]; rs != nil {
			srv.unsubscribe(rs)
			delete(conn.subs, req.Sub)
		}
		srv.reply(conn, id, []byte("{}"))
	case protocol.TypeCommit:
		evs := make([]event.Event, len(req.Events))
		for i, w := range req.Events {
			e, perr := protocol.EventFromWire(w, srv.types, s.now)
			if perr != nil {
				srv.replyError(conn, id, perr)
				return
			}
			evs[i] = e
		}
		states, err := srv.commit(evs)
		if err != nil {
			srv.replyError(conn, id, err)
			return
		}
		// As server.commitResult: without the documents of an entity whose
		// head is the commit's own events.
		own := map[event.ID]bool{}
		for _, e := range evs {
			own[e.ID] = true
		}
		b := []byte(`{"entities":[`)
		for i, st := range states {
			if i > 0 {
				b = append(b, ',')
			}
			mine := true
			for _, h := range st.Head {
				mine = mine && own[h]
			}
			if mine {
				b = protocol.AppendEntityValues(b, st)
			} else {
				b = protocol.AppendEntity(b, st)
			}
		}
		srv.reply(conn, id, append(b, "]}"...))
	default:
		srv.replyError(conn, id, protocol.Errorf(protocol.CodeUnknownType, "%s", req.Type))
	}
}

// fanout streams the oldest committed transaction to the live queries.
func (srv *simServer) fanout() {
	b := srv.repl[0]
	srv.repl = srv.repl[1:]
	srv.fanned = append(srv.fanned, b)
	result := srv.react.ApplyBatch(context.Background(), b.changes, srv.skip(b))
	for _, err := range result.Failed {
		srv.s.fail("reactor: %v", err)
		return
	}
	for rs, snap := range srv.subFilter {
		if snap < b.seq {
			delete(srv.subFilter, rs)
		}
	}
	for _, rs := range result.Stale {
		srv.freeze(rs, b.seq)
	}
	res := result.Items
	deleted := map[event.ID]bool{}
	for _, ch := range b.changes {
		if ch.New == nil || ch.New.Deleted {
			deleted[ch.ID] = true
		}
	}
	subs := slices.SortedFunc(maps.Keys(res), func(a, b *reactor.Subscription) int { return int(a.ID()) - int(b.ID()) })
	frames := map[*simConn][]byte{}
	for _, rs := range subs {
		conn := srv.owner[rs]
		if conn == nil {
			continue
		}
		for _, it := range res[rs] {
			st := it.State
			if it.Kind == reactor.Remove && deleted[it.ID] && !st.Deleted {
				c := *st
				c.Deleted = true
				st = &c
			}
			f := frames[conn]
			if f == nil {
				f = []byte(`{"type":"changes","items":[`)
			} else {
				f = append(f, ',')
			}
			f = fmt.Appendf(f, `{"sub":%q,"kind":%q,"entity":`, srv.names[rs], it.Kind.String())
			// As server/hub.go: documents only with an entity entering the
			// result set — and never from the Postgres backend's stream,
			// which does not carry them.
			if it.Kind == reactor.Add && !srv.ahead {
				f = protocol.AppendEntity(f, st)
			} else {
				f = protocol.AppendEntityValues(f, st)
			}
			f = append(f, `,"events":[`...)
			for i := range b.events[it.ID] {
				if i > 0 {
					f = append(f, ',')
				}
				f = protocol.AppendEvent(f, &b.events[it.ID][i])
			}
			frames[conn] = append(f, "]}"...)
		}
	}
	for _, conn := range srv.conns {
		if f := frames[conn]; conn.alive && f != nil {
			conn.down = append(conn.down, append(f, "]}"...))
		}
	}
	if srv.s.trace {
		var chs []string
		for _, ch := range b.changes {
			chs = append(chs, fmt.Sprintf("%s%v%v", ch.ID.String()[20:], ch.New.Values, ch.New.Deleted))
		}
		srv.s.tracef("server: fan-out %v to %d connection(s)", chs, len(frames))
	}
}

// ---- the clients ----

type simClient struct {
	s           *sim
	id          int
	core        *core
	ids         *event.Generator
	conn        *simConn
	partitioned bool
	inflight    uint64
	nextReq     uint64
	handlers    map[uint64]func(protocol.ServerFrame)
	mirrors     map[string]*mirror
	window      []json.RawMessage // the window's current arguments
}

// mirror applies a live query's change sets as an application would.
type mirror struct {
	started bool
	members map[event.ID]*entity.State
}

func (s *sim) newClient(i int) *simClient {
	skew := time.Duration(s.rng.IntN(10_000)-5_000) * time.Millisecond
	c := &simClient{s: s, id: i, core: newCore(), handlers: map[uint64]func(protocol.ServerFrame){}, mirrors: map[string]*mirror{}}
	c.ids = event.NewGeneratorWith(func() time.Time { return s.now.Add(skew) }, rngReader{s.rng})
	if _, err := c.core.mergeSchema(simSchema); err != nil {
		panic(err)
	}
	c.window, _ = EncodeArgs(2, 3)
	for name, text := range map[string]string{"all": simAll, "win": simWindowQ} {
		var args []json.RawMessage
		if name == "win" {
			args = c.window
		}
		q, m, err := compileSub(text, args)
		if err != nil {
			panic(err)
		}
		sb := c.core.addSub(name, "doc", text, args, q, m)
		c.mirrors[name] = &mirror{members: map[event.ID]*entity.State{}}
		sb.owner = c.mirrors[name]
	}
	return c
}

// notes applies the core's change sets to the mirrors, checking that each
// one makes sense against what the application was told before.
func (c *simClient) notes() {
	for _, n := range c.core.takeNotes() {
		m := n.sub.owner.(*mirror)
		if n.cs.initial {
			if m.started {
				c.s.fail("c%d/%s: a second initial change set", c.id, n.sub.name)
			}
			m.started = true
			for _, it := range n.cs.items {
				m.members[it.state.ID] = it.state
			}
			continue
		}
		if !m.started {
			c.s.fail("c%d/%s: a change set before the initial one", c.id, n.sub.name)
		}
		for _, it := range n.cs.items {
			_, was := m.members[it.state.ID]
			switch it.kind {
			case Add:
				if was {
					c.s.fail("c%d/%s: add of %s, already a member", c.id, n.sub.name, it.state.ID)
				}
				m.members[it.state.ID] = it.state
			case Update:
				if !was {
					c.s.fail("c%d/%s: update of %s, not a member", c.id, n.sub.name, it.state.ID)
				}
				m.members[it.state.ID] = it.state
			case Remove:
				if !was {
					c.s.fail("c%d/%s: remove of %s, not a member", c.id, n.sub.name, it.state.ID)
				}
				delete(m.members, it.state.ID)
			default:
				c.s.fail("c%d/%s: item of kind %s", c.id, n.sub.name, it.kind)
			}
		}
	}
}

func (c *simClient) request(req *protocol.Request, fn func(protocol.ServerFrame)) {
	c.nextReq++
	req.ID = c.nextReq
	data, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	c.handlers[req.ID] = fn
	c.conn.up = append(c.conn.up, data)
}

func (s *sim) connect(c *simClient) {
	conn := &simConn{c: c, alive: true, subs: map[string]*reactor.Subscription{}}
	c.conn = conn
	s.srv.conns = append(s.srv.conns, conn)
	s.tracef("c%d: connect", c.id)
	for _, name := range slices.Sorted(maps.Keys(c.core.subs)) {
		s.subscribe(c, c.core.subs[name], protocol.TypeSubscribe)
	}
}

// subscribe (re)subscribes a live query with its current selection.
func (s *sim) subscribe(c *simClient, sb *sub, typ string) {
	text, args := sb.text, sb.args
	if sb.name == "win" {
		args = c.window
	}
	q, m, err := compileSub(text, args)
	if err != nil {
		panic(err)
	}
	req := &protocol.Request{Type: typ, Sub: sb.name, Query: text, Args: args}
	if typ == protocol.TypeSubscribe {
		req.Collection, req.Known = sb.coll, c.core.known(sb)
	}
	c.request(req, func(f protocol.ServerFrame) {
		if f.Type == protocol.TypeError {
			s.fail("c%d: %s %s: %v", c.id, typ, sb.name, f.Error)
			return
		}
		var res protocol.SubscribeResult
		if err := json.Unmarshal(f.Result, &res); err != nil {
			s.fail("c%d: %v", c.id, err)
			return
		}
		if err := c.core.subscribed(sb, res, text, args, q, m); err != nil {
			s.fail("c%d: applying %s result: %v", c.id, typ, err)
		}
		c.notes()
	})
}

func (s *sim) drop(c *simClient, why string) {
	conn := c.conn
	conn.alive = false
	conn.up, conn.down = nil, nil
	for _, rs := range conn.subs {
		s.srv.unsubscribe(rs)
	}
	s.srv.conns = slices.DeleteFunc(s.srv.conns, func(x *simConn) bool { return x == conn })
	c.conn = nil
	c.inflight = 0
	clear(c.handlers)
	c.core.disconnected()
	s.tracef("c%d: %s", c.id, why)
}

func (s *sim) deliverUp(conn *simConn) {
	f := conn.up[0]
	conn.up = conn.up[1:]
	s.srv.handle(conn, f)
}

func (s *sim) deliverDown(c *simClient) {
	f := c.conn.down[0]
	c.conn.down = c.conn.down[1:]
	times := 1
	if s.rng.IntN(20) == 0 {
		times = 2 // a duplicated frame
	}
	for range times {
		var sf protocol.ServerFrame
		if err := json.Unmarshal(f, &sf); err != nil {
			s.fail("c%d: undecodable frame: %v", c.id, err)
			return
		}
		switch {
		case sf.Type == protocol.TypeChanges:
			s.tracef("c%d: changes %s", c.id, summarize(sf.Items))
			if err := c.core.pushed(sf.Items); err != nil {
				s.fail("c%d: applying changes: %v", c.id, err)
			}
			c.notes()
		case sf.ID != 0:
			fn := c.handlers[sf.ID]
			delete(c.handlers, sf.ID)
			if fn != nil {
				s.tracef("c%d: answer #%d", c.id, sf.ID)
				fn(sf)
			}
		}
	}
}

func summarize(items []protocol.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%s:%s %s%v; ", it.Sub, it.Kind, it.Entity.ID[20:], it.Entity.Head)
	}
	return b.String()
}

// send sends the first queued transaction (one in flight at a time).
func (s *sim) send(c *simClient) {
	item := c.core.next()
	c.inflight = item.seq
	s.sendItem(c, item)
}

// resend sends the in-flight transaction again (a duplicate commit).
func (s *sim) resend(c *simClient) {
	if item := c.core.next(); item != nil && item.seq == c.inflight {
		s.tracef("c%d: resend #%d", c.id, item.seq)
		s.sendItem(c, item)
	}
}

func (s *sim) sendItem(c *simClient, item *outItem) {
	seq := item.seq
	evs := item.events
	c.request(&protocol.Request{Type: protocol.TypeCommit, Events: wireEvents(evs)}, func(f protocol.ServerFrame) {
		if f.Type == protocol.TypeError {
			s.fail("c%d: commit #%d rejected: %v", c.id, seq, f.Error)
			return
		}
		var res protocol.EntitiesResult
		if err := json.Unmarshal(f.Result, &res); err != nil {
			s.fail("c%d: %v", c.id, err)
			return
		}
		for _, e := range evs {
			s.acked[e.ID] = true
		}
		if err := c.core.confirmed(seq, res.Entities, nil); err != nil {
			s.fail("c%d: confirming #%d: %v", c.id, seq, err)
		}
		if c.inflight == seq {
			c.inflight = 0
		}
		c.notes()
	})
	s.tracef("c%d: commit #%d (%d events)", c.id, seq, len(evs))
}

// edit makes a local transaction: edits, a creation, sometimes a deletion,
// sometimes two entities at once.
func (s *sim) edit(c *simClient) {
	var live []*entry
	for _, e := range sortedEntries(c.core.byColl["doc"]) {
		if e.exists() {
			live = append(live, e)
		}
	}
	var evs []event.Event
	n := 1
	if s.rng.IntN(5) == 0 {
		n = 2
	}
	used := map[event.ID]bool{}
	for range n {
		if len(live) == 0 || s.rng.IntN(8) == 0 {
			id := c.ids.New()
			evs = append(evs, event.Event{ID: id, Collection: "doc", Entity: id, Ops: s.randomOps(true)})
			s.textOp(evs[len(evs)-1].Ops, nil, false)
			continue
		}
		e := live[s.rng.IntN(len(live))]
		if used[e.id] {
			continue
		}
		used[e.id] = true
		head := e.visible.Head
		ev := event.Event{ID: c.ids.New(head...), Collection: "doc", Entity: e.id, Parents: slices.Clone(head)}
		if s.rng.IntN(30) == 0 {
			ev.Delete = true
		} else {
			ev.Ops = s.randomOps(false)
			s.textOp(ev.Ops, e.visible, false)
		}
		evs = append(evs, ev)
	}
	if _, _, err := c.core.commit(evs); err != nil {
		s.fail("c%d: local commit: %v", c.id, err)
		return
	}
	for _, e := range evs {
		s.made[e.ID] = e
	}
	s.tracef("c%d: local commit of %d event(s): %v", c.id, len(evs), evs)
	c.notes()
}

// changeWindow changes the LIMIT window's selection (pagination).
func (s *sim) changeWindow(c *simClient) {
	c.window, _ = EncodeArgs(s.rng.IntN(4), 1+s.rng.IntN(5))
	sb := c.core.subs["win"]
	s.tracef("c%d: window → %s", c.id, c.window)
	if c.conn != nil {
		s.subscribe(c, sb, protocol.TypeUpdateSubscription)
		return
	}
	q, m, err := compileSub(sb.text, c.window)
	if err != nil {
		panic(err)
	}
	c.core.updateOffline(sb, sb.text, c.window, q, m)
	c.notes()
}

// ---- invariants at quiescence ----

func (s *sim) check() error {
	ctx := context.Background()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// The server: each state is the replay of its history; heads are antichains.
	var server []*entity.State
	all := map[event.ID]*entity.State{}
	s.srv.store.Scan(ctx, "doc", func(st *entity.State) bool { server = append(server, st); return true })
	var ids []event.ID
	for id := range s.made {
		ids = append(ids, id)
	}
	stored, _ := s.srv.store.Events(ctx, ids)
	if len(stored) != len(ids) {
		bad("lost writes: %d of %d events made by clients are not on the server", len(ids)-len(stored), len(ids))
	}
	for id := range s.acked {
		if got, _ := s.srv.store.Events(ctx, []event.ID{id}); len(got) != 1 {
			bad("acknowledged event %s is not on the server", id)
		}
	}
	entities := map[event.ID]bool{}
	for _, e := range stored {
		entities[e.Entity] = true
	}
	for _, st := range server {
		entities[st.ID] = true
	}
	for id := range entities {
		hist, _ := s.srv.store.History(ctx, "doc", id)
		replayed, _, err := entity.Replay("doc", id, hist)
		if err != nil {
			bad("replaying %s: %v", id, err)
			continue
		}
		all[id] = replayed
		if cur, _ := s.srv.store.Get(ctx, "doc", []event.ID{id}); len(cur) == 1 && !sameState(cur[0], replayed) {
			bad("server state of %s differs from the replay of its history", id)
		}
		byID := map[event.ID]*event.Event{}
		for i := range hist {
			byID[hist[i].ID] = &hist[i]
		}
		for _, a := range replayed.Head {
			for _, b := range replayed.Head {
				if a != b && ancestor(byID, a, b) {
					bad("head of %s is not an antichain: %s descends from %s", id, a, b)
				}
			}
		}
	}
	// Every client: identical visible states, nothing pending, and live
	// queries whose change sets add up to the server's result sets.
	for _, c := range s.clients {
		if n := len(c.core.outbox); n > 0 {
			bad("c%d: %d transactions still queued", c.id, n)
		}
		got := map[event.ID]*entity.State{}
		for _, st := range c.core.scan("doc") {
			if e := c.core.entries[st.ID]; e.members > 0 {
				got[st.ID] = st // entities no live query watches may be stale: reads refresh them
			}
		}
		for _, st := range server {
			g := got[st.ID]
			switch {
			case g == nil:
				bad("c%d: missing %s", c.id, st.ID)
			case !sameState(g, st):
				bad("c%d: %s is %v %v, server has %v %v", c.id, st.ID, g.Head, g.Values, st.Head, st.Values)
			default:
				if err := sameDocs(g, st); err != nil {
					bad("c%d: %s: %v", c.id, st.ID, err)
				}
			}
			delete(got, st.ID)
		}
		for id := range got {
			bad("c%d: holds %s, which the server does not have (or deleted)", c.id, id)
		}
		for _, e := range c.core.entries {
			if len(e.pending) > 0 || len(e.held) > 0 {
				bad("c%d: %s still has %d pending and %d held events (held %v at %v, shown %v, base %v, members %d)", c.id, e.id, len(e.pending), len(e.held), e.held, e.heldAt, e.shown, e.base.Head, e.members)
			}
		}
		for name, sb := range c.core.subs {
			if !sb.synced {
				bad("c%d/%s: not synced at quiescence", c.id, name)
			}
			_, m, err := compileSub(sb.text, sb.args)
			if err != nil {
				return err
			}
			want := query.Apply(m, server)
			mir := c.mirrors[name]
			if len(mir.members) != len(want) || len(sb.results) != len(want) {
				bad("c%d/%s: %d members told, %d held, server result has %d", c.id, name, len(mir.members), len(sb.results), len(want))
			}
			for _, st := range want {
				if g := mir.members[st.ID]; g == nil || !sameState(g, st) {
					var srvMembers []string
					if c.conn != nil && c.conn.subs[name] != nil {
						for _, m := range s.srv.react.Members(c.conn.subs[name]) {
							srvMembers = append(srvMembers, m.ID.String()[20:])
						}
					}
					var server []string
					for id := range sb.server {
						server = append(server, id.String()[20:])
					}
					slices.Sort(server)
					var want2 []string
					for _, w := range want {
						want2 = append(want2, w.ID.String()[20:])
					}
					bad("c%d/%s (%s %s): told %v for %s, server has %v %v (reactor members %v, client's server set %v, want %v)", c.id, name, sb.text, sb.args, g, st.ID, st.Head, st.Values, srvMembers, server, want2)
				}
			}
		}
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("… and %d more", len(errs)-5))
	}
	return errors.Join(errs...)
}

// sameDocs checks a client's ytext documents against the server's: a
// document the client holds has the server's text and state vector (it
// lacks no update), and its text is the field's value. (A client may hold
// a text without its document: it fetches it before an edit.)
func sameDocs(c, srv *entity.State) error {
	for f, state := range c.Docs {
		d, err := yjs.Load(state, yjs.Options{})
		if err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
		want, err := yjs.Load(srv.Docs[f], yjs.Options{})
		if err != nil {
			return fmt.Errorf("%s: the server's: %v", f, err)
		}
		if d.Text() != want.Text() || d.Text() != c.Values[f].Text() || d.Pending() ||
			!maps.Equal(d.StateVector(), want.StateVector()) {
			return fmt.Errorf("%s: document %q (pending %v, %v), value %q; the server's %q (%v)",
				f, d.Text(), d.Pending(), d.StateVector(), c.Values[f].Text(), want.Text(), want.StateVector())
		}
	}
	return nil
}

// ancestor reports whether a descends from b.
func ancestor(evs map[event.ID]*event.Event, a, b event.ID) bool {
	stack := []event.ID{a}
	seen := map[event.ID]bool{}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e := evs[id]
		if e == nil || seen[id] {
			continue
		}
		seen[id] = true
		for _, p := range e.Parents {
			if p == b {
				return true
			}
			stack = append(stack, p)
		}
	}
	return false
}
