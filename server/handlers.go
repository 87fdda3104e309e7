package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
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
		q, err := parseQuery(req)
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
		q, err := parseQuery(req)
		if err != nil {
			return err
		}
		states, err := storage.Fetch(ctx, store, req.Collection, q)
		if err != nil {
			return err
		}
		sess.enqueue(entitiesResult(req.ID, states))

	case protocol.TypeGet:
		if err := validCollection(req.Collection); err != nil {
			return err
		}
		ids, perr := protocol.ParseIDs("ids", req.IDs)
		if perr != nil {
			return perr
		}
		states, err := store.Get(ctx, req.Collection, ids)
		if err != nil && !errors.Is(err, storage.ErrNoCollection) {
			return err
		}
		sess.enqueue(entitiesResult(req.ID, states))

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
		f := appendResultHead(nil, req.ID)
		f = append(f, `{"events":[`...)
		for i := range evs {
			if i > 0 {
				f = append(f, ',')
			}
			f = protocol.AppendEvent(f, &evs[i])
		}
		sess.enqueue(append(f, "]}}"...))

	case protocol.TypeCommit:
		states, err := s.commit(ctx, req.Events)
		if err != nil {
			return err
		}
		sess.enqueue(commitResult(req.ID, states, req.Events))

	case protocol.TypeRegisterSchema:
		out := make([]protocol.Collection, 0, len(req.Collections))
		for _, w := range req.Collections {
			c, perr := protocol.CollectionFromWire(w)
			if perr != nil {
				return perr
			}
			full, err := store.EnsureCollection(ctx, c)
			if err != nil {
				return err
			}
			out = append(out, protocol.CollectionToWire(full))
		}
		sess.enqueue(collectionsResult(req.ID, out))

	case protocol.TypeCollections:
		cs, err := store.Collections(ctx)
		if err != nil {
			return err
		}
		out := make([]protocol.Collection, len(cs))
		for i, c := range cs {
			out[i] = protocol.CollectionToWire(c)
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
// collections it touches and hands it to the backend.
func (s *Server) commit(ctx context.Context, wire []protocol.Event) ([]*entity.State, error) {
	if len(wire) > s.cfg.MaxCommitEvents {
		return nil, protocol.Errorf(protocol.CodeTooManyEvents, "a commit may carry at most %d events (got %d)", s.cfg.MaxCommitEvents, len(wire))
	}
	store := s.backend.Store()
	schemas := map[string]schema.Collection{}
	for _, w := range wire {
		if _, ok := schemas[w.Collection]; ok {
			continue
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
	events := make([]event.Event, len(wire))
	for i, w := range wire {
		e, perr := protocol.EventFromWire(w, types, now)
		if perr != nil {
			return nil, perr
		}
		events[i] = e
	}
	return s.backend.Commit(ctx, events)
}

// validCollection refuses a name no collection can have (bad_name); a valid
// name of a collection that does not exist yet reads as an empty collection.
func validCollection(name string) error {
	if err := event.ValidCollectionName(name); err != nil {
		return protocol.Errorf(storage.CodeBadName, "%v", err)
	}
	return nil
}

func parseQuery(req *protocol.Request) (*query.Query, error) {
	args, perr := protocol.ParseArgs(req.Args)
	if perr != nil {
		return nil, perr
	}
	q, err := query.Parse(req.Query, args...)
	if err != nil {
		return nil, err
	}
	if _, err := q.Compile(); err != nil {
		return nil, err
	}
	return q, nil
}

func entitiesResult(id uint64, states []*entity.State) []byte {
	f := appendResultHead(nil, id)
	f = append(f, `{"entities":[`...)
	for i, st := range states {
		if i > 0 {
			f = append(f, ',')
		}
		f = protocol.AppendEntity(f, st)
	}
	return append(f, "]}}"...)
}

// commitResult is entitiesResult for a commit: an entity whose head is
// made of the commit's own events goes without the Yjs documents of its
// ytext fields — the client that made those events from its documents holds
// what the server holds — so that a keystroke's commit is not answered with
// the whole document. An entity the commit merged with others' events
// carries them.
func commitResult(id uint64, states []*entity.State, committed []protocol.Event) []byte {
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
		mine := len(st.Docs) > 0
		for _, h := range st.Head {
			mine = mine && own[h.String()]
		}
		if mine {
			f = protocol.AppendEntityValues(f, st)
		} else {
			f = protocol.AppendEntity(f, st)
		}
	}
	return append(f, "]}}"...)
}

func collectionsResult(id uint64, cs []protocol.Collection) []byte {
	f := appendResultHead(nil, id)
	f = appendJSON(f, protocol.CollectionsResult{Collections: cs})
	return append(f, '}')
}
