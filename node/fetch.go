package node

import (
	"context"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// Fetch runs a one-shot query over a collection, e.g.
//
//	n.Fetch(ctx, "album", "year >= ? ORDER BY year DESC LIMIT 10", 2000)
//
// and returns the matching entities' latest committed states in order.
func (n *Node) Fetch(ctx context.Context, collection, q string, args ...any) ([]*entity.State, error) {
	parsed, err := query.Parse(q, args...)
	if err != nil {
		return nil, err
	}
	return storage.Fetch(ctx, n.store, collection, parsed)
}

// Fetch runs a one-shot query over the collection and returns typed views.
func (c *Collection[T]) Fetch(ctx context.Context, q string, args ...any) ([]*View[T], error) {
	states, err := c.node.Fetch(ctx, c.Name(), q, args...)
	if err != nil {
		return nil, err
	}
	out := make([]*View[T], len(states))
	for i, st := range states {
		if out[i], err = c.view(st); err != nil {
			return nil, err
		}
	}
	return out, nil
}
