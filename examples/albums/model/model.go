// Package model holds the albums example's models. They are the single
// source of truth for the collection's schema: the server registers them,
// Go programs use them, and `ankurah gen ts` writes the TypeScript types the
// web page uses (../src/generated.ts) from them.
package model

import (
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
)

//go:generate go run github.com/ankurah/ankurah-go/cmd/ankurah gen ts --package . --out ../src/generated.ts

// Album is one record in the collection "album" (table album).
type Album struct {
	ID     event.ID
	Name   string
	Artist string
	Year   int64
	// Rating is 1–5 stars, or none.
	Rating *int64
	// Owner is the subject (the token's sub) of the user who added it; with
	// the example's policy (../policy.json) users write only their own
	// albums, and read their own and the public ones.
	Owner string
	// Public makes the album readable by every user.
	Public bool
	// Notes is collaborative text: several people can type in it at once
	// (the page binds it to a textarea through a Y.Text).
	Notes schema.YText
}

// Models lists the models `ankurah gen ts` generates TypeScript types for.
var Models = []any{Album{}}
