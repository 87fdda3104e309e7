package reactor

import (
	"context"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// ScanRefill refills LIMIT windows by scanning the collection in a store and
// evaluating the query in memory. It is exact for every adapter and what
// the embedded and in-memory stores use; on Postgres, the store's own Refill
// (a SQL tuple cursor, postgres.Store.Refill) reads only what it returns.
func ScanRefill(store storage.Store) Refill {
	return func(ctx context.Context, collection string, _ *query.Query, m *query.Matcher, after *entity.State, n int) ([]*entity.State, error) {
		var out []*entity.State
		err := store.Scan(ctx, collection, func(st *entity.State) bool {
			if m.Match(st) && m.Compare(st, after) > 0 {
				out = append(out, st)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(out, func(a, b *entity.State) int { return m.Compare(a, b) })
		if len(out) > n {
			out = out[:n]
		}
		return out, nil
	}
}
