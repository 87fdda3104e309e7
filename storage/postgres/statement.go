package postgres

import (
	"context"

	"github.com/ankurah/ankurah-go/query"
)

// Statement returns the SQL statement Fetch runs for q over a collection,
// and its parameters ($1, $2, …): for showing people what a query becomes
// (the inspector's query console).
func (s *Store) Statement(ctx context.Context, collection string, q *query.Query) (string, []any, error) {
	t, err := s.table(ctx, collection)
	if err != nil {
		return "", nil, err
	}
	return selectSQL(q)(t)
}
