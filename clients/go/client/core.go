package client

import (
	"encoding/json"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
)

// The core is the client's whole state and logic, without I/O, clocks or
// goroutines, so that the deterministic simulation drives exactly the code
// the real client runs. Its callers hold the client's lock.
//
// Per entity it keeps the latest server state it has seen (the base) and
// the local events the server has not confirmed yet (pending). What the
// application sees — reads, transactions, live queries — is the visible
// state: the base with the pending events applied on top (optimistic). The
// server is the authority: a confirmed event is dropped from pending once
// the base includes it, a rejected one is dropped outright (rolled back).
//
// Server states reach the client from several places (pushed changes,
// subscription results, commit, get and fetch results) whose relative order
// is not the order in which the server made them. Since the server's states
// of one entity form a chain, the client keeps the newer of two states:
// the larger largest head id is newer (it never decreases along a history),
// and for equal ones the events the client knows decide.

// farFuture is the "now" used when converting events the server already
// accepted: their clock was checked there.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maxEventsPerEntity bounds the events kept per entity for comparing heads.
const maxEventsPerEntity = 256

// source says where a server state came from.
type source uint8

const (
	fromStream source = iota + 1 // a changes frame or a subscription result, in stream order
	fromCommit                   // a commit result
	fromReply                    // a get or fetch result
)

type entry struct {
	coll    string
	id      event.ID
	base    *entity.State // the latest server state seen; nil: unknown (created here, unconfirmed)
	stale   bool          // the server is known to have moved past base
	pending []*event.Event
	wasPend bool       // pending was non-empty at the last updateLocal (for watches)
	held    []event.ID // confirmed local events the stream has not shown yet
	heldAt  event.Head // the commit result's head: a stream state covering it releases the holds
	shown   event.Head // what the stream last showed of the entity (ids whose history it has sent)
	visible *entity.State
	members int // live queries whose server result set holds the entity
	events  map[event.ID]*event.Event
}

func (e *entry) exists() bool { return e.visible != nil && e.visible.Exists() }

// isLocal: the entity has local events the live queries must consider even
// though the server has not reported it as a member.
func (e *entry) isLocal() bool { return len(e.pending) > 0 || len(e.held) > 0 }

type outItem struct {
	seq    uint64
	events []event.Event      // a transaction, or
	schema *schema.Collection // a schema registration
}

// Kind is what happened to an entity in a live query's result set.
type Kind uint8

// Kinds of items.
const (
	Initial Kind = iota + 1 // a member of the initial result set
	Add                     // entered the result set
	Update                  // was and still is in it, with new values
	Remove                  // left it: edited out, deleted, out of a LIMIT window, or rolled back
)

func (k Kind) String() string {
	if k > Remove {
		return "unknown"
	}
	return [...]string{"none", "initial", "add", "update", "remove"}[k]
}

type rawItem struct {
	kind   Kind
	state  *entity.State
	events []event.Event
}

type rawChangeSet struct {
	initial bool
	synced  bool
	items   []rawItem
}

type note struct {
	sub *sub
	cs  rawChangeSet
}

// sub is a live query as the core sees it.
type sub struct {
	name    string
	coll    string
	text    string
	args    []json.RawMessage
	q       *query.Query
	m       *query.Matcher
	limit   int
	limited bool

	server    map[event.ID]bool // the result set according to the server
	cacheMode bool              // no server result yet: every cached entity is a candidate
	synced    bool              // the server result for the current query and connection is applied
	started   bool              // the initial change set was produced
	closed    bool
	results   map[event.ID]*entity.State // the result set as last reported

	// watched: something follows the result as a whole (its rows, synced
	// and pending flags), so the core records in touched what changes
	// those without a change set: synced turning on or off, a member's
	// pending events confirmed without a change of state.
	watched bool
	touched bool

	owner any // the client's live query
}

// compileSub parses a query with wire arguments, exactly as the server will.
func compileSub(text string, args []json.RawMessage) (*query.Query, *query.Matcher, error) {
	parsed, perr := protocol.ParseArgs(args)
	if perr != nil {
		return nil, nil, perr
	}
	q, err := query.Parse(text, parsed...)
	if err != nil {
		return nil, nil, err
	}
	m, err := q.Compile()
	if err != nil {
		return nil, nil, err
	}
	return q, m, nil
}

func (s *sub) setQuery(text string, args []json.RawMessage, q *query.Query, m *query.Matcher) {
	s.text, s.args, s.q, s.m = text, args, q, m
	l, ok := m.Limit()
	s.limit, s.limited = int(l), ok
}

type core struct {
	schemas map[string]schema.Collection
	entries map[event.ID]*entry
	byColl  map[string]map[event.ID]*entry
	local   map[string]map[event.ID]*entry
	outbox  []*outItem
	seq     uint64
	subs    map[string]*sub
	dirty   map[event.ID][]event.Event
	notes   []note
	touched []*sub   // watched live queries changed without a note (see sub.watched)
	records []record // for the durable cache; nil when not kept
	persist bool
}

func newCore() *core {
	return &core{
		schemas: map[string]schema.Collection{},
		entries: map[event.ID]*entry{},
		byColl:  map[string]map[event.ID]*entry{},
		local:   map[string]map[event.ID]*entry{},
		subs:    map[string]*sub{},
		dirty:   map[event.ID][]event.Event{},
	}
}

// takeNotes returns the change sets produced since the last call.
func (c *core) takeNotes() []note {
	n := c.notes
	c.notes = nil
	return n
}

// touch records that a watched live query changed in a way its change
// sets do not show.
func (c *core) touch(s *sub) {
	if s.watched && !s.touched {
		s.touched = true
		c.touched = append(c.touched, s)
	}
}

// touchMember touches the watched live queries that show the entity.
func (c *core) touchMember(e *entry) {
	for _, s := range c.subs {
		if s.watched && s.results[e.id] != nil {
			c.touch(s)
		}
	}
}

// takeTouched returns the live queries touched since the last call.
func (c *core) takeTouched() []*sub {
	t := c.touched
	for _, s := range t {
		s.touched = false
	}
	c.touched = nil
	return t
}

func (c *core) takeRecords() []record {
	r := c.records
	c.records = nil
	return r
}

func (c *core) record(r record) {
	if c.persist {
		c.records = append(c.records, r)
	}
}
