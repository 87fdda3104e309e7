package storage

import (
	"context"
	"errors"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
)

// Fetcher is implemented by adapters that can run a query themselves (the
// Postgres adapter translates it to SQL). Their results must equal the
// in-memory evaluation's, rows and order — package query guarantees that
// for its SQL translation.
type Fetcher interface {
	Fetch(ctx context.Context, collection string, q *query.Query) ([]*entity.State, error)
}

// Fetch returns the entities of a collection that match q, in q's order and
// within its LIMIT: through the adapter's own Fetch when it has one, else by
// scanning and evaluating in memory.
//
// A collection that does not exist yet has no entities: Fetch returns none,
// not an error, as the original Ankurah does, so that a reader can start
// before the first write creates the collection. A name that no collection
// can have is CodeBadName.
func Fetch(ctx context.Context, s Store, collection string, q *query.Query) ([]*entity.State, error) {
	if err := event.ValidCollectionName(collection); err != nil {
		return nil, Errorf(CodeBadName, "%v", err)
	}
	if f, ok := s.(Fetcher); ok {
		states, err := f.Fetch(ctx, collection, q)
		if errors.Is(err, ErrNoCollection) {
			return nil, nil
		}
		return states, err
	}
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	if _, err := s.Collection(ctx, collection); err != nil {
		if errors.Is(err, ErrNoCollection) {
			return nil, nil
		}
		return nil, err
	}
	var all []*entity.State
	err = s.Scan(ctx, collection, func(st *entity.State) bool {
		if m.Match(st) {
			all = append(all, st)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return query.Apply(m, all), nil
}
