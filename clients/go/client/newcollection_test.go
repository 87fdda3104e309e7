package client_test

import (
	"encoding/json"
	"testing"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// TestNewCollection: on a fresh server of every kind, where no collection
// exists, a Go client's fetch and live query are empty (the client
// registers its model's schema before it reads), the live query is ready,
// and a write by another client — the CLI's way, through the protocol —
// arrives as an add.
func TestNewCollection(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := servertest.Start(t, kind, servertest.Options{})
			ctx := testCtx(t)
			c := dial(t, env.URL, client.Options{})
			albums, err := client.Register[Album](ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := albums.Fetch(ctx, "year >= ?", 2000)
			if err != nil || len(got) != 0 {
				t.Fatalf("fetch: %v, %v", got, err)
			}
			lq, err := albums.Subscribe(ctx, nil, "year >= ? ORDER BY year", 2000)
			if err != nil {
				t.Fatal(err)
			}
			defer lq.Close()
			if cs := recv(t, lq.Changes()); !cs.Initial || len(cs.Items) != 0 {
				t.Fatalf("initial change set: %s", cs)
			}

			w, err := wire.Dial(ctx, env.URL, wire.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			id := event.NewGenerator().New().String()
			ops := map[string]json.RawMessage{"name": json.RawMessage(`"Origin of Symmetry"`), "year": json.RawMessage(`2001`)}
			ev := protocol.Event{ID: id, Collection: "album", EntityID: id, Parents: []string{}, Operations: ops}
			if err := w.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil); err != nil {
				t.Fatal(err)
			}
			cs := recv(t, lq.Changes())
			if len(cs.Items) != 1 || cs.Items[0].Kind != client.Add || cs.Items[0].Entity.Value().Name != "Origin of Symmetry" {
				t.Fatalf("after the write: %s", cs)
			}
		})
	}
}
