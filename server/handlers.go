package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/server/auth"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// handle answers one request. Answers are queued by the handler (so that a
// subscription's answer is ordered with its changes); an error returned is
// answered by the caller.
func (s *Server) handle(ctx context.Context, sess *session, req *protocol.Request) error {
	store := s.backend.Store()
	switch req.Type {
	case protocol.TypeSubscribe, protocol.TypeUpdateSubscription:
		// A collection that does not exist yet is an empty one: the
		// subscription starts empty and its first add comes with the
		// write that creates the collection.
		replace := req.Type == protocol.TypeUpdateSubscription
		if !replace {
			if err := validCollection(req.Collection); err != nil {
				return err
			}
		}
		q, err := s.parseQuery(req)
		if err != nil {
			return err
		}
		known, perr := protocol.ParseKnown(req.Known)
		if perr != nil {
			return perr
		}
		return s.hub.subscribe(ctx, sess, req.ID, req.Sub, req.Collection, q, known, replace)

	case protocol.TypeUnsubscribe:
		return s.hub.unsubscribe(sess, req.ID, req.Sub)

	case protocol.TypeFetch:
		q, err := s.parseQuery(req)
		if err != nil {
			return err
		}
		q, hidden, err := sess.authorizeQuery(req.Collection, q)
		if err != nil {
			return err
		}
		states, err := storage.Fetch(ctx, store, req.Collection, q)
		if err != nil {
			return err
		}
		sess.enqueue(entitiesResult(req.ID, states, hidden))

	case protocol.TypeGet:
		if err := validCollection(req.Collection); err != nil {
			return err
		}
		ids, perr := protocol.ParseIDs("ids", req.IDs)
		if perr != nil {
			return perr
		}
		g, err := sess.grant(req.Collection)
		if err != nil {
			return err
		}
		if !g.CanRead() {
			return protocol.Errorf(protocol.CodePermissionDenied, "you may not read collection %q", req.Collection)
		}
		states, err := store.Get(ctx, req.Collection, ids)
		if err != nil && !errors.Is(err, storage.ErrNoCollection) {
			return err
		}
		// What the read rule hides is left out, as if it did not exist.
		states = slices.DeleteFunc(states, func(st *entity.State) bool { return !g.Readable(st) })
		sess.enqueue(entitiesResult(req.ID, states, g.HiddenFields()))

	case protocol.TypeGetEvents:
		var evs []event.Event
		if req.EntityID != "" {
			id, perr := protocol.ParseID("entity_id", req.EntityID)
			if perr != nil {
				return perr
			}
			if err := validCollection(req.Collection); err != nil {
				return err
			}
			var err error
			if evs, err = store.History(ctx, req.Collection, id); err != nil && !errors.Is(err, storage.ErrNoCollection) {
				return err
			}
		} else {
			ids, perr := protocol.ParseIDs("ids", req.IDs)
			if perr != nil {
				return perr
			}
			var err error
			if evs, err = store.Events(ctx, ids); err != nil {
				return err
			}
		}
		views, err := s.readableEvents(ctx, sess, evs)
		if err != nil {
			return err
		}
		f := appendResultHead(nil, req.ID)
		f = append(f, `{"events":[`...)
		for i, e := range views {
			if i > 0 {
				f = append(f, ',')
			}
			f = protocol.AppendEvent(f, e)
		}
		sess.enqueue(append(f, "]}}"...))

	case protocol.TypeCommit:
		states, err := s.commit(ctx, sess, req.Events)
		if err != nil {
			return err
		}
		f, err := commitResult(sess, req.ID, states, req.Events)
		if err != nil {
			return err
		}
		sess.enqueue(f)

	case protocol.TypeRegisterSchema:
		out := make([]protocol.Collection, 0, len(req.Collections))
		added := 0
		for _, w := range req.Collections {
			c, perr := protocol.CollectionFromWire(w)
			if perr != nil {
				return perr
			}
			// Registering a model the schema already has changes nothing
			// and needs no privilege; anything else is DDL.
			have, err := store.Collection(ctx, c.Name)
			if err != nil && !errors.Is(err, storage.ErrNoCollection) {
				return err
			}
			n := newFields(have, c, err != nil)
			if n > 0 {
				if err := s.mayChangeSchema(sess, c.Name, &added, n); err != nil {
					return err
				}
			}
			full := have
			if n > 0 {
				if full, err = store.EnsureCollection(ctx, c); err != nil {
					return err
				}
			}
			g, err := sess.grant(c.Name)
			if err != nil {
				return err
			}
			out = append(out, protocol.CollectionToWire(visibleSchema(full, g)))
		}
		sess.enqueue(collectionsResult(req.ID, out))

	case protocol.TypeCollections:
		cs, err := store.Collections(ctx)
		if err != nil {
			return err
		}
		out := make([]protocol.Collection, 0, len(cs))
		for _, c := range cs {
			g, err := sess.grant(c.Name)
			if err != nil || !g.CanRead() {
				continue // a collection the principal may not read is not listed
			}
			out = append(out, protocol.CollectionToWire(visibleSchema(c, g)))
		}
		sess.enqueue(collectionsResult(req.ID, out))

	case protocol.TypePing:
		sess.enqueue(append(appendResultHead(nil, req.ID), "{}}"...))

	default:
		return protocol.Errorf(protocol.CodeUnknownType, "unknown frame type %q", req.Type)
	}
	return nil
}

// commit validates a client transaction against the schemas of the
// collections it touches and the session's grants, records its author,
// and hands it to the backend with the write check (run inside the commit).
func (s *Server) commit(ctx context.Context, sess *session, wire []protocol.Event) ([]*entity.State, error) {
	if len(wire) > s.cfg.MaxCommitEvents {
		return nil, protocol.Errorf(protocol.CodeTooManyEvents, "a commit may carry at most %d events (got %d)", s.cfg.MaxCommitEvents, len(wire))
	}
	store := s.backend.Store()
	schemas := map[string]schema.Collection{}
	for _, w := range wire {
		if _, ok := schemas[w.Collection]; ok {
			continue
		}
		if err := validCollection(w.Collection); err != nil {
			return nil, err // bad_name, before no_collection
		}
		c, err := store.Collection(ctx, w.Collection)
		if err != nil {
			return nil, err
		}
		schemas[w.Collection] = c
	}
	types := func(coll, field string) (value.Type, bool) {
		c := schemas[coll]
		f, ok := c.Field(field)
		return f.Type, ok
	}
	now := time.Now()
	author := sess.principal().Author()
	events := make([]event.Event, len(wire))
	added := 0
	newPer := map[string]map[string]bool{}
	for i, w := range wire {
		e, perr := protocol.EventFromWire(w, types, now)
		if perr != nil {
			return nil, perr
		}
		e.Author = author // what the client said is replaced
		g, err := sess.grant(e.Collection)
		if err != nil {
			return nil, err
		}
		if !g.CanWrite() {
			return nil, protocol.Errorf(protocol.CodePermissionDenied, "you may not write collection %q", e.Collection)
		}
		for f, v := range e.Ops {
			if _, known := types(e.Collection, f); known || v.IsNull() || newPer[e.Collection][f] {
				continue
			}
			// A field the collection lacks is added by the commit: DDL.
			if newPer[e.Collection] == nil {
				newPer[e.Collection] = map[string]bool{}
			}
			newPer[e.Collection][f] = true
			if err := s.mayChangeSchema(sess, e.Collection, &added, 1); err != nil {
				return nil, err
			}
		}
		events[i] = e
	}
	return s.backend.Commit(storage.WithWriteCheck(ctx, sess.writeCheck), events)
}

// mayChangeSchema refuses a schema change the session's principal has no
// privilege for, and one that takes a request past MaxNewFields.
func (s *Server) mayChangeSchema(sess *session, collection string, added *int, n int) error {
	g, err := sess.grant(collection)
	if err != nil {
		return err
	}
	if !g.CanChangeSchema() {
		return protocol.Errorf(protocol.CodePermissionDenied, "changing the schema of collection %q (a new collection or field) needs the schema privilege", collection)
	}
	if *added += n; *added > s.cfg.MaxNewFields {
		return protocol.Errorf(protocol.CodeTooComplex, "one request may add at most %d fields and collections to the schema", s.cfg.MaxNewFields)
	}
	return nil
}

// newFields counts what registering c would change in have: the
// collection itself when missing, and each field it lacks or declares with
// another type (which the store refuses as type_mismatch).
func newFields(have, c schema.Collection, missing bool) int {
	n := 0
	if missing {
		n++
	}
	for _, f := range c.Fields {
		if h, ok := have.Field(f.Name); !ok || h.Type != f.Type {
			n++
		}
	}
	return n
}

// visibleSchema leaves out the fields a grant hides.
func visibleSchema(c schema.Collection, g *auth.Grant) schema.Collection {
	if !g.HidesAny() {
		return c
	}
	out := c
	out.Fields = nil
	for _, f := range c.Fields {
		if !g.Hidden(f.Name) {
			out.Fields = append(out.Fields, f)
		}
	}
	return out
}

// readableEvents keeps the events of entities the session may read now,
// without their hidden fields: history obeys the read rule as reads do.
func (s *Server) readableEvents(ctx context.Context, sess *session, evs []event.Event) ([]*event.Event, error) {
	store := s.backend.Store()
	readable := map[event.ID]bool{}
	byColl := map[string][]event.ID{}
	for i := range evs {
		e := &evs[i]
		if _, seen := readable[e.Entity]; !seen {
			readable[e.Entity] = false
			byColl[e.Collection] = append(byColl[e.Collection], e.Entity)
		}
	}
	hidden := map[string][]string{}
	for coll, ids := range byColl {
		g, err := sess.grant(coll)
		if err != nil {
			return nil, err
		}
		if !g.CanRead() {
			continue
		}
		hidden[coll] = g.HiddenFields()
		if g.ReadFilter() == nil { // the whole collection
			for _, id := range ids {
				readable[id] = true
			}
			continue
		}
		states, err := store.Get(ctx, coll, ids)
		if err != nil && !errors.Is(err, storage.ErrNoCollection) {
			return nil, err
		}
		for _, st := range states {
			readable[st.ID] = g.Readable(st)
		}
		// A deleted entity is judged by its last state before the delete.
		for _, id := range ids {
			if _, live := readableState(states, id); live {
				continue
			}
			last, err := lastLiveState(ctx, store, coll, id)
			if err != nil {
				return nil, err
			}
			readable[id] = last != nil && g.Readable(last)
		}
	}
	out := make([]*event.Event, 0, len(evs))
	for i := range evs {
		if readable[evs[i].Entity] {
			out = append(out, viewEvent(&evs[i], hidden[evs[i].Collection]))
		}
	}
	return out, nil
}

// validCollection refuses a name no collection can have (bad_name); a valid
// name of a collection that does not exist yet reads as an empty collection.
func validCollection(name string) error {
	if err := event.ValidCollectionName(name); err != nil {
		return protocol.Errorf(storage.CodeBadName, "%v", err)
	}
	return nil
}

func (s *Server) parseQuery(req *protocol.Request) (*query.Query, error) {
	args, perr := protocol.ParseArgs(req.Args)
	if perr != nil {
		return nil, perr
	}
	q, err := query.Parse(req.Query, args...)
	if err != nil {
		return nil, err
	}
	if nodes, in := complexity(q.Where); nodes > s.cfg.MaxQueryNodes || in > s.cfg.MaxInList {
		return nil, protocol.Errorf(protocol.CodeTooComplex, "the query has %d predicate nodes and an IN list of %d values; this server allows %d and %d", nodes, in, s.cfg.MaxQueryNodes, s.cfg.MaxInList)
	}
	if _, err := q.Compile(); err != nil {
		return nil, err
	}
	return q, nil
}

func entitiesResult(id uint64, states []*entity.State, hidden []string) []byte {
	f := appendResultHead(nil, id)
	f = append(f, `{"entities":[`...)
	for i, st := range states {
		if i > 0 {
			f = append(f, ',')
		}
		f = protocol.AppendEntity(f, view(st, hidden))
	}
	return append(f, "]}}"...)
}

// commitResult is entitiesResult for a commit, each entity as the session's
// grant lets it see it: an entity whose head is made of the commit's own
// events goes without the Yjs documents of its ytext fields — the client
// that made those events from its documents holds what the server holds —
// so that a keystroke's commit is not answered with the whole document. An
// entity the commit merged with others' events carries them.
func commitResult(sess *session, id uint64, states []*entity.State, committed []protocol.Event) ([]byte, error) {
	own := make(map[string]bool, len(committed))
	for _, e := range committed {
		own[strings.ToUpper(e.ID)] = true
	}
	f := appendResultHead(nil, id)
	f = append(f, `{"entities":[`...)
	for i, st := range states {
		if i > 0 {
			f = append(f, ',')
		}
		g, err := sess.grant(st.Collection)
		if err != nil {
			return nil, err
		}
		mine := len(st.Docs) > 0
		for _, h := range st.Head {
			mine = mine && own[h.String()]
		}
		if mine {
			f = protocol.AppendEntityValues(f, view(st, g.HiddenFields()))
		} else {
			f = protocol.AppendEntity(f, view(st, g.HiddenFields()))
		}
	}
	return append(f, "]}}"...), nil
}

// complexity measures a predicate: its nodes, and its longest IN list.
func complexity(e query.Expr) (nodes, maxIn int) {
	var walk func(query.Expr)
	walk = func(e query.Expr) {
		nodes++
		switch x := e.(type) {
		case *query.And:
			for _, t := range x.Terms {
				walk(t)
			}
		case *query.Or:
			for _, t := range x.Terms {
				walk(t)
			}
		case *query.Not:
			walk(x.X)
		case *query.In:
			maxIn = max(maxIn, len(x.Values))
		}
	}
	if e != nil {
		walk(e)
	}
	return nodes, maxIn
}

func collectionsResult(id uint64, cs []protocol.Collection) []byte {
	f := appendResultHead(nil, id)
	f = appendJSON(f, protocol.CollectionsResult{Collections: cs})
	return append(f, '}')
}

func readableState(states []*entity.State, id event.ID) (*entity.State, bool) {
	for _, st := range states {
		if st.ID == id {
			return st, true
		}
	}
	return nil, false
}

// lastLiveState replays an entity's history without its deletes: its state
// as it was before it was deleted (nil when it has no history).
func lastLiveState(ctx context.Context, store storage.Store, coll string, id event.ID) (*entity.State, error) {
	hist, err := store.History(ctx, coll, id)
	if err != nil && !errors.Is(err, storage.ErrNoCollection) {
		return nil, err
	}
	if len(hist) == 0 {
		return nil, nil
	}
	st := entity.New(coll, id)
	applied := map[event.ID]bool{}
	for i := range hist {
		e := hist[i]
		e.Delete = false
		if _, err := st.Apply(&e, func(p event.ID) bool { return applied[p] }); err != nil {
			return nil, nil // a history that does not replay reads as nothing
		}
		applied[e.ID] = true
	}
	return st, nil
}
