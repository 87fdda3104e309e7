package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// maxHistory bounds the events of one history the endpoint analyses.
const maxHistory = 5000

// History is /api/history: an entity's events as a graph, and its state —
// now, or at one event — with the reason each field holds its value.
type History struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	// Events in id order (parents before children), each with its edges.
	Events []HistoryEvent `json:"events"`
	// Head is the entity's current head: more than one event when
	// concurrent branches have not been merged by a later event yet.
	Head []string `json:"head"`
	// At is the event the state is shown at ("" for the current state);
	// the state at an event is the merge of that event and every event it
	// descends from, as a node that had received exactly those would hold.
	At    string      `json:"at,omitempty"`
	State EntityState `json:"state"`
	// Fields explains each field of the state: which event wrote the value
	// it holds and why that write won.
	Fields []FieldResolution `json:"fields"`
}

// HistoryEvent is one event of an entity (a node of the graph).
type HistoryEvent struct {
	ID string `json:"id"`
	// Time is when the event was made (the time in its id, the writer's
	// clock); RecordedAt when the store wrote it (Postgres only).
	Time       time.Time  `json:"time"`
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
	// Author is the token subject of an API write or the Postgres role of
	// a SQL write; Origin is "api" or "sql".
	Author string `json:"author,omitempty"`
	Origin string `json:"origin"`
	// Parents are the entity's head when the change was made; Children
	// the events made on top of this one.
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
	// Operations are the fields it wrote, with their values as JSON (null
	// unsets the field).
	Operations map[string]json.RawMessage `json:"operations"`
	Delete     bool                       `json:"delete,omitempty"`
	// Merge is set for an event with more than one parent: it was made on
	// a state that had merged concurrent branches, and joins them.
	Merge bool `json:"merge,omitempty"`
	// Concurrent lists the events neither before nor after this one: the
	// other branches of the history at the same time.
	Concurrent []string `json:"concurrent"`
	// Head is set for the events of the entity's current head.
	Head bool `json:"head,omitempty"`
}

// EntityState is an entity's values.
type EntityState struct {
	Values  map[string]json.RawMessage `json:"values"`
	Deleted bool                       `json:"deleted,omitempty"`
	Head    []string                   `json:"head"`
}

// FieldResolution says why a field holds its value. The merge rule: per
// field, the value of the write with the largest event id wins; an
// event's id is larger than its parents', so a write made after another
// (causally) always wins, and of concurrent writes the larger id wins.
type FieldResolution struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
	// Event wrote the value.
	Event string `json:"event"`
	// Reason: "only" (the only write of the field), "causal" (the winning
	// write was made after every other write of the field: it descends
	// from them), "concurrent" (some other write was concurrent with it,
	// and its event id is the larger) or "merged" (a ytext field: every
	// edit is merged into its text, none wins; Event is the latest).
	Reason string `json:"reason"`
	// Explanation says the same in a sentence.
	Explanation string `json:"explanation"`
	// Others are the field's other writes, each "before" the winner (an
	// ancestor of it) or "concurrent" with it.
	Others []FieldWrite `json:"others"`
}

// FieldWrite is one losing write of a field.
type FieldWrite struct {
	Event    string          `json:"event"`
	Value    json.RawMessage `json:"value"`
	Relation string          `json:"relation"`
}

func (in *Inspector) history(r *http.Request) (any, error) {
	q := r.URL.Query()
	id, err := event.ParseID(q.Get("id"))
	if err != nil {
		return nil, bad("id: %v", err)
	}
	coll := q.Get("collection")
	ctx := r.Context()
	if coll == "" {
		// An entity's id is its creation event's id.
		evs, err := in.o.Store.Events(ctx, []event.ID{id})
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return nil, notFound("no entity %s", id)
		}
		coll, id = evs[0].Collection, evs[0].Entity
	}
	evs, err := in.o.Store.History(ctx, coll, id)
	if err != nil && !errors.Is(err, storage.ErrNoCollection) {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, notFound("no entity %s in collection %s", id, coll)
	}
	if len(evs) > maxHistory {
		return nil, bad("entity %s has %d events; the inspector draws at most %d", id, len(evs), maxHistory)
	}
	var at *event.ID
	if s := q.Get("at"); s != "" {
		a, err := event.ParseID(s)
		if err != nil {
			return nil, bad("at: %v", err)
		}
		at = &a
	}
	meta, err := in.eventMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	return Analyse(coll, id, evs, at, meta)
}

// EventMeta is what a store knows of an event beyond the event itself.
type EventMeta struct {
	Origin     string
	RecordedAt *time.Time
}

// eventMeta reads the origin and time of an entity's events on Postgres.
// Other stores have only API writes.
func (in *Inspector) eventMeta(ctx context.Context, id event.ID) (map[event.ID]EventMeta, error) {
	out := map[event.ID]EventMeta{}
	if in.o.Postgres == nil {
		return out, nil
	}
	rows, err := in.o.Postgres.Pool().Query(ctx, "select id, origin, created_at from ankurah.events where entity_id = $1", id.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s, origin string
		var at time.Time
		if err := rows.Scan(&s, &origin, &at); err != nil {
			return nil, err
		}
		if eid, err := event.ParseID(s); err == nil {
			t := at.UTC()
			out[eid] = EventMeta{Origin: origin, RecordedAt: &t}
		}
	}
	return out, rows.Err()
}

// Analyse builds an entity's history graph from its events, and its state
// at event at (nil: every event) with each field's reason. meta adds what
// the store knows of each event (origin "api" when it has nothing).
func Analyse(coll string, id event.ID, evs []event.Event, at *event.ID, meta map[event.ID]EventMeta) (*History, error) {
	evs = slices.Clone(evs)
	entity.SortForApply(evs)
	idx := make(map[event.ID]int, len(evs))
	for i := range evs {
		idx[evs[i].ID] = i
	}
	// anc[i] is the set of every ancestor of event i (itself not
	// included), a bitset: parents come first in id order, so one pass
	// fills them.
	words := (len(evs) + 63) / 64
	anc := make([]bitset, len(evs))
	children := make([][]string, len(evs))
	for i := range evs {
		anc[i] = make(bitset, words)
		for _, p := range evs[i].Parents {
			j, ok := idx[p]
			if !ok {
				continue // a parent the store does not hold: drawn without it
			}
			anc[i].set(j)
			anc[i].or(anc[j])
			children[j] = append(children[j], evs[i].ID.String())
		}
	}
	related := func(i, j int) bool { return i == j || anc[i].has(j) || anc[j].has(i) }

	// The state as of every event (nil at) or the causal past of one.
	included := func(int) bool { return true }
	h := &History{Collection: coll, ID: id.String()}
	if at != nil {
		a, ok := idx[*at]
		if !ok {
			return nil, bad("event %s is not in the history of %s", at, id)
		}
		included = func(i int) bool { return i == a || anc[a].has(i) }
		h.At = at.String()
	}
	st := entity.New(coll, id)
	applied := map[event.ID]bool{}
	for i := range evs {
		if !included(i) {
			continue
		}
		if _, err := st.Apply(&evs[i], func(e event.ID) bool { return applied[e] }); err != nil {
			return nil, err
		}
		applied[evs[i].ID] = true
	}
	// The entity's current head: every event no other event descends from.
	full := entity.New(coll, id)
	for i := range evs {
		full.Head = full.Head.Advance(evs[i].ID, evs[i].Parents)
	}
	h.Head = ids(full.Head)
	h.State = EntityState{Values: map[string]json.RawMessage{}, Deleted: st.Deleted, Head: ids(st.Head)}
	for f, v := range st.Values {
		h.State.Values[f] = raw(v)
	}

	for i := range evs {
		e := &evs[i]
		m := meta[e.ID]
		if m.Origin == "" {
			m.Origin = "api"
		}
		he := HistoryEvent{ID: e.ID.String(), Time: e.ID.Time().UTC(), RecordedAt: m.RecordedAt, Author: e.Author, Origin: m.Origin,
			Parents: ids(e.Parents), Children: children[i], Operations: map[string]json.RawMessage{}, Delete: e.Delete,
			Merge: len(e.Parents) > 1, Concurrent: []string{}, Head: full.Head.Contains(e.ID)}
		if he.Children == nil {
			he.Children = []string{}
		}
		for f, v := range e.Ops {
			he.Operations[f] = raw(v)
		}
		for j := range evs {
			if !related(i, j) {
				he.Concurrent = append(he.Concurrent, evs[j].ID.String())
			}
		}
		h.Events = append(h.Events, he)
	}

	// Each field of the state: its winning write against the others.
	writes := map[string][]int{}
	for i := range evs {
		if !included(i) {
			continue
		}
		for f := range evs[i].Ops {
			writes[f] = append(writes[f], i)
		}
	}
	fields := make([]string, 0, len(writes))
	for f := range writes {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		w, ok := idx[st.Versions[f]]
		if !ok {
			continue
		}
		fr := FieldResolution{Field: f, Value: raw(st.Values[f]), Event: evs[w].ID.String(), Others: []FieldWrite{}}
		merged := false
		for _, i := range writes[f] {
			merged = merged || evs[i].Ops[f].Type() == value.YUpdate
		}
		var before, concurrent []string
		for _, i := range writes[f] {
			if i == w {
				continue
			}
			rel := "before"
			if !anc[w].has(i) {
				rel = "concurrent"
				concurrent = append(concurrent, evs[i].ID.String())
			} else {
				before = append(before, evs[i].ID.String())
			}
			fr.Others = append(fr.Others, FieldWrite{Event: evs[i].ID.String(), Value: raw(evs[i].Ops[f]), Relation: rel})
		}
		switch {
		case merged:
			fr.Reason = "merged"
			fr.Explanation = fmt.Sprintf("a collaborative text (ytext): its %d edits are merged character by character (Yjs), concurrent ones included; none replaces another", len(writes[f]))
		case len(concurrent) > 0:
			fr.Reason = "concurrent"
			fr.Explanation = "written concurrently by " + list(concurrent) + "; the larger event id wins"
			if len(before) > 0 {
				fr.Explanation += ", and it was made after " + list(before)
			}
		case len(before) > 0:
			fr.Reason = "causal"
			fr.Explanation = "made after " + list(before) + " (causal order: the later write wins)"
		default:
			fr.Reason = "only"
			fr.Explanation = "the only write of this field"
		}
		h.Fields = append(h.Fields, fr)
	}
	if h.Fields == nil {
		h.Fields = []FieldResolution{}
	}
	return h, nil
}

type bitset []uint64

func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

func ids(h event.Head) []string {
	out := make([]string, len(h))
	for i, id := range h {
		out[i] = id.String()
	}
	return out
}

func raw(v value.Value) json.RawMessage { return json.RawMessage(v.AppendJSON(nil)) }

func list(ids []string) string {
	switch len(ids) {
	case 1:
		return ids[0]
	case 2:
		return ids[0] + " and " + ids[1]
	}
	out := ""
	for i, id := range ids {
		switch {
		case i == len(ids)-1:
			out += ", and " + id
		case i > 0:
			out += ", " + id
		default:
			out = id
		}
	}
	return out
}
