package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/query"
)

// Refill implements reactor.Refill with a SQL tuple cursor: WHERE <q's
// predicate> AND <sorts strictly after `after` in q's order> ORDER BY <q's
// order> LIMIT n, so only the rows that can refill the window are read
// (query.Query.SQLAfter builds the cursor; it agrees exactly with
// m.Compare, JSON path sort keys included, so there is no fallback to a
// scan). q's own LIMIT is ignored; m is not needed (the signature is
// reactor.Refill's, so a server can pass s.Refill).
//
// `after` is the reactor's last known state of the window's last member; it
// need not match q or still exist in the table.
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

// RefillSnapshot is Refill read in a snapshot transaction (see
// FetchSnapshot). The rows come from the database's present, which may be
// ahead of a change stream that is still catching up: the snapshot tells
// the stream's consumer which of its transactions the rows already reflect.
func (s *Store) RefillSnapshot(ctx context.Context, collection string, q *query.Query, after *entity.State, n int) ([]*entity.State, Snapshot, error) {
	if n <= 0 {
		return nil, Snapshot{}, nil
	}
	var out []*entity.State
	var snap Snapshot
	err := s.retrySchema(ctx, []string{collection}, func() (err error) {
		snap, err = s.inSnapshot(ctx, func(tx pgx.Tx) (err error) {
			out, err = s.fetch(ctx, tx, collection, refillSQL(q, after, n))
			return err
		})
		return err
	})
	return out, snap, err
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
