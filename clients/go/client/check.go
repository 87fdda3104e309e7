package client

import (
	"context"

	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/query"
)

// Queries are checked against their model when they are made: a field the
// model T lacks is an error (query.CodeUnknownField, a *query.Error with
// Field and Fields) instead of a query that quietly matches nothing — the
// evaluator and SQL read a missing field as NULL. The TypeScript client
// does the same (clients/ts/src/querycheck.ts). "id" is always a field; a
// JSON path is checked by its first step.

// check reports the first field q names that the model lacks.
func (col *Collection[T]) check(q *query.Query) error {
	return q.Check(col.Schema())
}

// Fetch runs a one-shot query over the collection (node.Collection's
// Fetch), after checking that every field it names is one of the model's.
func (col *Collection[T]) Fetch(ctx context.Context, q string, args ...any) ([]*node.View[T], error) {
	parsed, err := query.Parse(q, args...)
	if err != nil {
		return nil, err
	}
	if err := col.check(parsed); err != nil {
		return nil, err
	}
	return col.Collection.Fetch(ctx, q, args...)
}
