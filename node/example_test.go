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

// Fetch runs a query (docs/query-language.md) with ? placeholders: on
// Postgres as parameterised SQL, on the other stores in memory, with the
// same rows in the same order.
func ExampleCollection_Fetch() {
	ctx := context.Background()
	n := node.New(memory.New())
	records, err := node.Register[Record](ctx, n)
	if err != nil {
		panic(err)
	}
	tx := n.Begin()
	for _, r := range []Record{{"Showbiz", 1999}, {"Origin of Symmetry", 2001}, {"Absolution", 2003}} {
		if _, err := records.Create(tx, r); err != nil {
			panic(err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		panic(err)
	}
	views, err := records.Fetch(ctx, "release_year >= ? ORDER BY release_year DESC LIMIT 2", 2000)
	if err != nil {
		panic(err)
	}
	for _, v := range views {
		fmt.Println(v.Value().ReleaseYear, v.Value().Title)
	}
	// Output:
	// 2003 Absolution
	// 2001 Origin of Symmetry
}
