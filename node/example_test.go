package node_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/storage/memory"
)

// The model: a plain struct. Collection "record", columns "title" and "release_year".
type Record struct {
	Title       string
	ReleaseYear int64
}

func Example() {
	ctx := context.Background()
	n := node.New(memory.New()) // or postgres.New(pool, postgres.Options{})
	records, err := node.Register[Record](ctx, n)
	if err != nil {
		panic(err)
	}

	tx := n.Begin()
	m, _ := records.Create(tx, Record{Title: "Origin of Symmetry", ReleaseYear: 2001})
	id := m.ID() // known before commit
	if _, err := tx.Commit(ctx); err != nil {
		panic(err)
	}

	tx = n.Begin()
	edit, _ := records.Edit(ctx, tx, id)
	edit.Value().ReleaseYear = 2002 // only changed fields become the event's operations
	tx.Commit(ctx)

	view, _ := records.Get(ctx, id)
	history, _ := n.History(ctx, "record", id)
	fmt.Println(view.Value().Title, view.Value().ReleaseYear, len(history), "events")
	// Output: Origin of Symmetry 2002 2 events
}
