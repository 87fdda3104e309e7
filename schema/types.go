package schema

import (
	"fmt"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// Go types for model fields of the Postgres types that have no Go
// equivalent. A model field may also use a plain Go type with a `type=`
// option in its tag (`ankurah:"price,type=numeric(10,2)"` on a string or
// a float64, `ankurah:",type=date"` on a time.Time): see ModelOf.

// Decimal is an exact decimal number, held as its text: the field type
// numeric. The zero Decimal ("") is NULL.
type Decimal string

// UUID is a uuid field. A [16]byte type named UUID (github.com/google/uuid's,
// gofrs') maps to uuid too.
type UUID [16]byte

// String returns the canonical text of the uuid.
func (u UUID) String() string { return value.UUIDOf(u).Text() }

// Date is a date field: a day in years 1–9999. The zero Date is NULL.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t (its year, month and day in t's location).
func DateOf(t time.Time) Date { return Date{t.Year(), t.Month(), t.Day()} }

// String returns YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// TimeOfDay is a time field (time without time zone): the time since
// midnight, 0 to 24 h, in microseconds' precision.
type TimeOfDay time.Duration

// Interval is an interval field: months, days and microseconds, each with
// its own sign, as Postgres keeps them (a month is not a fixed number of
// days). A time.Duration field with `type=interval` works too, for
// intervals of microseconds only.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// YText is a collaborative text field (field type ytext, docs/text.md): its
// value is the text, and behind it a Yjs document that several people can
// edit at once, their edits merged character by character. Read it as a
// string; assign a new text to a mutable's field (the smallest edit that
// makes it is recorded), or edit at positions with node.Mutable's
// InsertText and DeleteText. A plain string field with `type=ytext` in its
// tag is the same. The zero YText ("") is the empty text.
type YText string

// Enum is implemented by a string type whose values are an enum's labels:
// a field of that type is enum('label', …) in that order (the order in
// which values compare). For example:
//
//	type Mood string
//	func (Mood) EnumLabels() []string { return []string{"sad", "ok", "happy"} }
type Enum interface {
	EnumLabels() []string
}
