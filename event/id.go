// Package event holds events — the atomic, immutable changes to one entity —
// their ids, and heads (the latest events of an entity).
//
// Ids are ULIDs, written everywhere (Go, wire, SQL) as 26-character uppercase
// Crockford base32. An event's id is always greater than its parents' ids: the
// generator takes the parents into account, like a hybrid logical clock. Id
// order is therefore a linear extension of causal order, which gives three
// things for free: sorting events by id applies parents first; "larger id
// wins" resolves concurrent writes identically everywhere while a causal
// descendant always beats its ancestors; and a walk back through history can
// stop at ids below the one it looks for.
package event

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID is an event id, which is also the id of the entity an event creates.
type ID ulid.ULID

// Zero is the zero ID; it is never a valid event id.
var Zero ID

// ErrBadID is returned for text that is not a 26-character ULID.
var ErrBadID = errors.New("not a ULID (26 uppercase Crockford base32 characters)")

// ParseID parses a 26-character ULID. Only the canonical uppercase form is
// accepted so that an id has exactly one spelling in Go, on the wire and in SQL.
func ParseID(s string) (ID, error) {
	if len(s) != ulid.EncodedSize {
		return Zero, fmt.Errorf("%q: %w", clip(s), ErrBadID)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return Zero, fmt.Errorf("%q: %w", clip(s), ErrBadID)
		}
	}
	u, err := ulid.ParseStrict(s)
	if err != nil {
		return Zero, fmt.Errorf("%q: %w", clip(s), ErrBadID)
	}
	return ID(u), nil
}

// MustParseID is ParseID for constants in tests and examples.
func MustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// String returns the canonical 26-character form.
func (id ID) String() string { return ulid.ULID(id).String() }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == Zero }

// Compare orders ids bytewise (which is also their text order).
func (id ID) Compare(o ID) int { return ulid.ULID(id).Compare(ulid.ULID(o)) }

// Time returns the wall-clock part of the id. It is informative only: no
// decision is ever made on it.
func (id ID) Time() time.Time { return ulid.Time(ulid.ULID(id).Time()) }

// MarshalText writes the canonical form.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the canonical form.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// next returns the smallest id greater than id (the 128-bit successor).
func (id ID) next() ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// Generator makes ids that are monotonic within the process and greater than
// any id given to New. It is safe for concurrent use.
type Generator struct {
	mu      sync.Mutex
	entropy io.Reader
	last    ID
	now     func() time.Time
}

// NewGenerator returns a generator reading the wall clock and crypto/rand.
func NewGenerator() *Generator {
	return &Generator{entropy: rand.Reader, now: time.Now}
}

var defaultGenerator = NewGenerator()

// NewID returns a fresh id from the process-wide generator, greater than every
// id in after.
func NewID(after ...ID) ID { return defaultGenerator.New(after...) }

// New returns a fresh id greater than the last one it returned and greater
// than every id in after.
func (g *Generator) New(after ...ID) ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	floor := g.last
	for _, a := range after {
		if a.Compare(floor) > 0 {
			floor = a
		}
	}
	var id ID
	u := (*ulid.ULID)(&id)
	ms := ulid.Timestamp(g.now())
	if err := u.SetTime(ms); err != nil {
		panic(err) // only for clocks past the year 10889
	}
	if _, err := io.ReadFull(g.entropy, id[6:]); err != nil {
		panic(fmt.Sprintf("event: reading entropy: %v", err))
	}
	if id.Compare(floor) <= 0 {
		// Same millisecond as the last id, a clock that went backwards, or a
		// parent from a node whose clock runs ahead: step just past the floor.
		// Adding a little randomness keeps ids from two nodes that step past
		// the same parent apart.
		id = floor.next()
		var r [2]byte
		_, _ = io.ReadFull(g.entropy, r[:])
		for i := 0; i < int(r[0]&0x0f); i++ {
			id = id.next()
		}
	}
	g.last = id
	return id
}
