package replication

import "github.com/jackc/pglogrepl"

// LSN is a position in Postgres's write-ahead log. It is this package's own
// type so that the public API does not carry a type of the (untagged)
// pglogrepl module; it converts to and from pglogrepl.LSN freely inside.
type LSN uint64

// String formats the position as Postgres does, e.g. "16/B374D848".
func (l LSN) String() string { return pglogrepl.LSN(l).String() }

// ParseLSN reads a position in Postgres's "X/X" form.
func ParseLSN(s string) (LSN, error) {
	l, err := pglogrepl.ParseLSN(s)
	return LSN(l), err
}
