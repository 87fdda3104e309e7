package event

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/value"
)

// Event is one atomic change to one entity.
//
// A creation event has no parents and its ID is the entity's id. Every other
// event names as parents the entity's head when the change was made. The LWW
// property backend's operations are Ops: field → new value (NULL unsets the
// field). A tombstone (Delete) ends the entity; its history stays.
type Event struct {
	ID         ID                     `json:"id"`
	Collection string                 `json:"collection"`
	Entity     ID                     `json:"entity_id"`
	Parents    Head                   `json:"parents"`
	Ops        map[string]value.Value `json:"operations"`
	Delete     bool                   `json:"delete,omitempty"`
	// Author is who made the change: the subject of the token of the
	// connection that committed it, or the Postgres role of a plain SQL
	// write; "" when unknown (a server without authentication). A server
	// sets it; what a client sends is replaced.
	Author string `json:"author,omitempty"`
}

// IsCreation reports whether e creates its entity.
func (e *Event) IsCreation() bool { return len(e.Parents) == 0 }

// Errors returned by Validate; use errors.Is.
var (
	ErrInvalid = errors.New("invalid event")
)

// Validate checks the event's own shape (not its relation to stored history):
// ids present, creation events carry the entity id, parents form a sorted
// antichain candidate (sorted, no duplicates) and are all smaller than the
// event's id, and field names are legal.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalid, e.ID, fmt.Sprintf(format, args...))
	}
	if e.ID.IsZero() || e.Entity.IsZero() {
		return bad("missing id or entity id")
	}
	if e.Collection == "" {
		return bad("missing collection")
	}
	if e.IsCreation() {
		if e.ID != e.Entity {
			return bad("a creation event's id must be its entity's id %s", e.Entity)
		}
		if e.Delete {
			return bad("a creation event cannot delete")
		}
	} else if e.ID == e.Entity {
		return bad("only the creation event may carry the entity's id")
	}
	for i, p := range e.Parents {
		if i > 0 && e.Parents[i-1].Compare(p) >= 0 {
			return bad("parents must be sorted and distinct")
		}
		if p.Compare(e.ID) >= 0 {
			return bad("parent %s is not older than the event (ids grow along history)", p)
		}
	}
	for f := range e.Ops {
		if err := ValidFieldName(f); err != nil {
			return bad("%v", err)
		}
	}
	if len(e.Author) > MaxAuthor || !utf8.ValidString(e.Author) || strings.ContainsRune(e.Author, 0) {
		return bad("author: at most %d bytes of UTF-8 text without NUL", MaxAuthor)
	}
	return nil
}

// MaxAuthor bounds an event's author (a token subject or a role name).
const MaxAuthor = 256

// ValidFieldName checks a field name: 1 to 63 bytes of valid UTF-8 without
// control characters (a Postgres identifier: an adopted table's columns
// keep their names, mixed case, spaces and all), not starting with "_"
// (reserved for system columns), not "id" (the entity id) and not the name
// of a Postgres system column (ctid, xmin, cmin, xmax, cmax, tableoid).
// Fields Ankurah adds to its own tables are further restricted to
// lowercase letters, digits and _ (see IsPlainName).
func ValidFieldName(name string) error {
	if name == "id" {
		return fmt.Errorf("field name %q is reserved for the entity id", name)
	}
	switch name {
	case "ctid", "xmin", "cmin", "xmax", "cmax", "tableoid":
		return fmt.Errorf("field name %q: every Postgres table has a system column of that name; choose another, e.g. %s_value", name, name)
	}
	return validName("field", name, 63)
}

// ValidCollectionName checks a collection name: 1 to 127 bytes of valid
// UTF-8 without control characters, not starting with "_". A collection
// Ankurah creates has a plain name (IsPlainName); an adopted table's is its
// table's name, or schema.table outside schema public.
func ValidCollectionName(name string) error { return validName("collection", name, 127) }

// IsPlainName reports whether name is one Ankurah gives a table or column
// it creates: lowercase letters, digits and _, starting with a letter, at
// most 63 bytes.
func IsPlainName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c == '_' && i > 0 || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validName(what, name string, maxLen int) error {
	if name == "" || len(name) > maxLen {
		return fmt.Errorf("%s name %q must have 1 to %d bytes", what, clip(name), maxLen)
	}
	if name[0] == '_' {
		return fmt.Errorf("%s name %q: names starting with _ are reserved for system columns", what, clip(name))
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%s name %q is not valid UTF-8", what, clip(name))
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Errorf("%s name %q contains a control character", what, clip(name))
		}
	}
	return nil
}

// Head is the set of an entity's latest events: an antichain (no member is an
// ancestor of another), kept sorted by id.
type Head []ID

// NewHead returns a sorted, deduplicated head of ids.
func NewHead(ids ...ID) Head {
	h := slices.Clone(Head(ids))
	slices.SortFunc(h, ID.Compare)
	return slices.Compact(h)
}

// Contains reports whether id is a member of h.
func (h Head) Contains(id ID) bool {
	_, ok := slices.BinarySearchFunc(h, id, ID.Compare)
	return ok
}

// Equal reports whether h and o hold the same ids.
func (h Head) Equal(o Head) bool { return slices.Equal(h, o) }

// Max returns the largest id in h (Zero when h is empty).
func (h Head) Max() ID {
	if len(h) == 0 {
		return Zero
	}
	return h[len(h)-1]
}

// Advance returns the head after applying event e whose parents are all
// known: e's parents leave the head and e joins it. (Parents that are not
// members are older events; since ids grow along history, no other member can
// be an ancestor of e, so the result is again an antichain.)
func (h Head) Advance(e ID, parents Head) Head {
	out := make(Head, 0, len(h)+1)
	for _, id := range h {
		if !parents.Contains(id) {
			out = append(out, id)
		}
	}
	out = append(out, e)
	slices.SortFunc(out, ID.Compare)
	return out
}

// Strings returns the ids as strings (for SQL text[] and logs).
func (h Head) Strings() []string {
	out := make([]string, len(h))
	for i, id := range h {
		out[i] = id.String()
	}
	return out
}

// String formats the head as [ID ID …].
func (h Head) String() string { return "[" + strings.Join(h.Strings(), " ") + "]" }

// ParseHead parses ids (e.g. from a text[] column) into a sorted head.
func ParseHead(ids []string) (Head, error) {
	h := make(Head, 0, len(ids))
	for _, s := range ids {
		id, err := ParseID(s)
		if err != nil {
			return nil, err
		}
		h = append(h, id)
	}
	return NewHead(h...), nil
}

// Relation is how two heads of one entity relate in its history.
type Relation int

// Relations returned by Compare.
const (
	Equal    Relation = iota // the same head
	Descends                 // a's history contains all of b's (a is newer)
	Ascends                  // b's history contains all of a's (a is older)
	Diverged                 // each has events the other lacks
)

func (r Relation) String() string {
	return [...]string{"equal", "descends", "ascends", "diverged"}[r]
}

// Source gives events by id; storage adapters and the in-memory history
// implement it. Missing ids are simply absent from the result.
type Source interface {
	Events(ctx context.Context, ids []ID) ([]Event, error)
}

// ErrUnknownEvent is returned by Compare when a head names an event the source lacks.
var ErrUnknownEvent = errors.New("unknown event")

// Compare tells how head a relates to head b. It walks back from each head
// towards the other one, never below the smallest id it is looking for, so
// its cost grows with the distance between the heads, not with the length of
// history.
func Compare(ctx context.Context, src Source, a, b Head) (Relation, error) {
	if a.Equal(b) {
		return Equal, nil
	}
	aHasB, err := contains(ctx, src, a, b)
	if err != nil {
		return 0, err
	}
	if aHasB {
		return Descends, nil
	}
	bHasA, err := contains(ctx, src, b, a)
	if err != nil {
		return 0, err
	}
	if bHasA {
		return Ascends, nil
	}
	return Diverged, nil
}

// contains reports whether every id of want is in the history of (an
// ancestor of, or a member of) from.
func contains(ctx context.Context, src Source, from, want Head) (bool, error) {
	if len(want) == 0 {
		return true, nil
	}
	missing := make(map[ID]bool, len(want))
	for _, id := range want {
		missing[id] = true
	}
	floor := want[0] // want is sorted: its smallest id
	seen := make(map[ID]bool)
	frontier := slices.Clone(from)
	for len(frontier) > 0 && len(missing) > 0 {
		var fetch []ID
		for _, id := range frontier {
			if seen[id] || id.Compare(floor) < 0 {
				continue
			}
			seen[id] = true
			delete(missing, id)
			if id != floor {
				fetch = append(fetch, id)
			}
		}
		if len(missing) == 0 || len(fetch) == 0 {
			break
		}
		evs, err := src.Events(ctx, fetch)
		if err != nil {
			return false, err
		}
		if len(evs) != len(fetch) {
			return false, fmt.Errorf("%w while comparing heads", ErrUnknownEvent)
		}
		frontier = frontier[:0]
		for i := range evs {
			frontier = append(frontier, evs[i].Parents...)
		}
	}
	return len(missing) == 0, nil
}
