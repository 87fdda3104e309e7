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
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
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
var ErrBadID = errors.New("ids are 26-character ULIDs, like 01JD8X5Z8K3T7Q2W9E4R6Y1M0N")

// ParseID parses a 26-character ULID. ULIDs are case-insensitive, so
// lowercase letters are accepted (an id typed or pasted by a person) and the
// id is normalised: it has exactly one spelling — uppercase — in Go, on the
// wire and in SQL.
func ParseID(s string) (ID, error) {
	if len(s) != ulid.EncodedSize {
		return Zero, badID(s)
	}
	var up [ulid.EncodedSize]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return Zero, badID(s)
		}
		up[i] = c
	}
	u, err := ulid.ParseStrict(string(up[:]))
	if err != nil {
		return Zero, badID(s)
	}
	return ID(u), nil
}

// badID says which text is not an id, once, and why (wrapping ErrBadID).
func badID(s string) error {
	return fmt.Errorf("%q is not an id: %w", clip(s), ErrBadID)
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

// add returns id + n as a 128-bit number. The 80-bit random part carries into
// the time part, which keeps the order (and moves the time by a millisecond).
func (id ID) add(n uint64) ID {
	carry := n
	for i := len(id) - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(id[i]) + carry&0xff
		id[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	return id
}

// randomStep returns a random increment in [1, 2^32].
func (g *Generator) randomStep() uint64 {
	var b [4]byte
	if _, err := io.ReadFull(g.entropy, b[:]); err != nil {
		panic(fmt.Sprintf("event: reading entropy: %v", err))
	}
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]) + 1
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

// NewGeneratorWith returns a generator reading the given clock and entropy
// (crypto/rand when nil). Simulations use it for nodes whose clocks disagree
// and for runs that replay from a seed.
func NewGeneratorWith(now func() time.Time, entropy io.Reader) *Generator {
	if entropy == nil {
		entropy = rand.Reader
	}
	return &Generator{entropy: entropy, now: now}
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
	switch {
	case id.Compare(floor) > 0:
		// The usual case: the clock is past everything seen.
	case floor == g.last:
		// Same millisecond as our last id, or our clock went backwards:
		// step past our own last id by a random amount, as ulid.Monotonic
		// does. Only this generator makes ids above g.last this way, so
		// the step cannot collide.
		id = floor.add(g.randomStep())
	default:
		// A parent made by a node whose clock runs ahead. Several nodes may
		// step past the same parent at once, so keep 80 fresh random bits:
		// the parent's millisecond with new randomness, or the next
		// millisecond when that is not greater.
		copy(id[:6], floor[:6])
		if id.Compare(floor) <= 0 {
			for i := 5; i >= 0; i-- { // +1 ms: the time is the top 48 bits
				id[i]++
				if id[i] != 0 {
					break
				}
			}
		}
	}
	g.last = id
	return id
}
