package postgres

import (
	"context"
	"strconv"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/query"
)

// Refill returns up to n rows of the collection that match q and sort
// strictly after `after` in q's order: a keyset page, read with a SQL tuple
// cursor — WHERE <q's predicate> AND <sorts strictly after `after`> ORDER
// BY <q's order> LIMIT n — so only the rows returned are read
// (query.Query.SQLAfter builds the cursor; it agrees exactly with
// m.Compare, JSON path sort keys included, so there is no fallback to a
// scan). q's own LIMIT is ignored and m is not needed: the signature is
// that of a live-query engine's refill source.
//
// `after` is a state of the last row already held (e.g. the last member of
// a LIMIT window); it need not match q or still exist in the table.
func (s *Store) Refill(ctx context.Context, collection string, q *query.Query, _ *query.Matcher, after *entity.State, n int) ([]*entity.State, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []*entity.State
	err := s.retrySchema(ctx, []string{collection}, func() (err error) {
		out, err = s.fetch(ctx, s.pool, collection, refillSQL(q, after, n))
		return err
	})
	return out, err
}

func refillSQL(q *query.Query, after *entity.State, n int) func(t *table) (string, []any, error) {
	return func(t *table) (string, []any, error) {
		sq, err := q.SQLAfter(t.Collection, after, 1)
		if err != nil {
			return "", nil, err
		}
		args := append(sq.Args, int64(n))
		stmt := "select " + t.columns + " from " + t.from + " where " + sq.Where +
			" order by " + sq.OrderBy + " limit $" + strconv.Itoa(len(args)) + "::bigint"
		return stmt, args, nil
	}
}
