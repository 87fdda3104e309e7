package sqlite

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// How values are stored in their columns. Each encoding reads back as an
// equal value.Value (value.Equal: floats bit for bit) and stays useful to
// plain SQL:
//
//	text, ref    TEXT
//	bigint       INTEGER
//	boolean      INTEGER 0 or 1
//	double       REAL, except the two doubles SQLite cannot keep: it stores
//	             NaN as NULL and -0 as 0. Those are an 8-byte BLOB holding
//	             the IEEE 754 bits, big-endian (NaN payloads survive too).
//	bytea        BLOB (an empty one for empty bytes: never NULL)
//	timestamptz  TEXT in value.TimeLayout, UTC, microseconds. Fixed width
//	             and four-digit years (value.CheckTime) make text order time
//	             order, and SQLite's date functions read it.
//	jsonb, json  TEXT, compact JSON (SQLite's json_* functions read it)
//	smallint, integer  INTEGER
//	real         REAL (a float4 widened exactly), NaN and -0 as for double
//	numeric      TEXT, the canonical decimal ("1.50", "NaN"): exact, and
//	             compared by the evaluator in Go, never by SQLite
//	uuid, date, time, timestamp, interval, char(n), enum
//	             TEXT: the string of the value's natural JSON
//	             (a0eebc99-…, 2024-01-02, 12:30:00.5, 2024-01-02T03:04:05,
//	             P1M, "a  ", the label)
//	arrays       TEXT, their natural JSON ([1,null,3])
//
// A missing value is NULL.

// cell returns the SQLite value that stores v.
func cell(v value.Value) any {
	switch v.Type().Kind() {
	case value.Text, value.Ref:
		return v.Text()
	case value.JSON, value.Array:
		return v.Raw()
	case value.Int:
		return v.Int()
	case value.Bool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case value.Numeric, value.UUID, value.Char, value.Enum:
		return v.Raw()
	case value.Date, value.TimeOfDay, value.Timestamp, value.Interval:
		j := v.AppendJSON(nil)
		return string(j[1 : len(j)-1]) // the JSON string's content: no escapes in these
	case value.Float, value.Real:
		f := v.Float()
		if math.IsNaN(f) || f == 0 && math.Signbit(f) {
			return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(f))
		}
		return f
	case value.Bytes:
		return append([]byte{}, v.Raw()...) // non-nil, so never NULL
	case value.Time:
		return v.Time().Format(value.TimeLayout)
	}
	return nil
}

// fromCell reads a value of type t from what database/sql returned for its
// column (nil, int64, float64, string or []byte).
func fromCell(c any, t value.Type) (value.Value, error) {
	if c == nil {
		return value.NullValue, nil
	}
	k := t.Kind()
	switch c := c.(type) {
	case string:
		switch k {
		case value.Text:
			return value.TextOf(c), nil
		case value.Ref:
			return value.RefOf(c), nil
		case value.JSON:
			return value.JSONOf([]byte(c))
		case value.Time:
			tm, err := time.Parse(time.RFC3339Nano, c)
			if err != nil {
				return value.NullValue, fmt.Errorf("timestamptz: %w", err)
			}
			return value.TimeOf(tm), nil
		case value.Array:
			return value.Decode([]byte(c), t)
		case value.Numeric, value.UUID, value.Char, value.Enum, value.Date, value.TimeOfDay, value.Timestamp, value.Interval:
			return value.FromText(c, t)
		}
	case int64:
		switch k {
		case value.Int:
			return value.IntOf(c), nil
		case value.Bool:
			if c == 0 || c == 1 {
				return value.BoolOf(c == 1), nil
			}
		}
	case float64:
		switch k {
		case value.Float:
			return value.FloatOf(c), nil
		case value.Real:
			return value.RealOf(float32(c)), nil
		}
	case []byte:
		switch {
		case k == value.Bytes:
			return value.BytesOf(c), nil
		case k == value.Float && len(c) == 8:
			return value.FloatOf(math.Float64frombits(binary.BigEndian.Uint64(c))), nil
		case k == value.Real && len(c) == 8:
			return value.RealOf(float32(math.Float64frombits(binary.BigEndian.Uint64(c)))), nil
		}
	}
	return value.NullValue, fmt.Errorf("a %s column holds %T %.40v", t, c, c)
}

// appendIDs appends ids as a JSON array of strings: the form of _head,
// parents and the id lists bound to json_each.
func appendIDs(b []byte, ids []event.ID) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id.String()...)
		b = append(b, '"')
	}
	return append(b, ']')
}

// idsJSON is appendIDs as a string, for binding.
func idsJSON(ids []event.ID) string { return string(appendIDs(nil, ids)) }

// appendVersions appends versions as a JSON object, keys sorted.
func appendVersions(b []byte, versions map[string]event.ID) []byte {
	b = append(b, '{')
	for i, f := range slices.Sorted(maps.Keys(versions)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f...) // field names are [a-z0-9_]: nothing to escape
		b = append(b, `":"`...)
		b = append(b, versions[f].String()...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendOps appends an event's operations as a JSON object of natural JSON
// values, keys sorted (as the Postgres adapter writes them).
func appendOps(b []byte, ops map[string]value.Value) []byte {
	b = append(b, '{')
	for i, f := range slices.Sorted(maps.Keys(ops)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f...)
		b = append(b, `":`...)
		b = ops[f].AppendJSON(b)
	}
	return append(b, '}')
}

// parseHead reads a JSON array of ids into a sorted head.
func parseHead(s string) (event.Head, error) {
	h := make(event.Head, 0, 1)
	r := jsonReader{s: s}
	if !r.list('[', ']', func() bool {
		id, ok := r.id()
		h = append(h, id)
		return ok
	}) {
		return parseHeadSlow(s)
	}
	if !slices.IsSortedFunc(h, event.ID.Compare) {
		h = event.NewHead(h...)
	}
	return h, nil
}

// parseHeadSlow handles JSON the fast path does not expect (whitespace from a
// hand edit, say) and reports malformed input.
func parseHeadSlow(s string) (event.Head, error) {
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("not a JSON array of ids: %.60q", s)
	}
	return event.ParseHead(ids)
}

// parseVersions reads a JSON object of field → id.
func parseVersions(s string) (map[string]event.ID, error) {
	out := map[string]event.ID{}
	r := jsonReader{s: s}
	if !r.list('{', '}', func() bool {
		name, ok := r.key()
		if !ok {
			return false
		}
		out[name], ok = r.id()
		return ok
	}) {
		return parseVersionsSlow(s)
	}
	return out, nil
}

func parseVersionsSlow(s string) (map[string]event.ID, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("not a JSON object of field → id: %.60q", s)
	}
	out := make(map[string]event.ID, len(m))
	for f, v := range m {
		id, err := event.ParseID(v)
		if err != nil {
			return nil, err
		}
		out[f] = id
	}
	return out, nil
}

// jsonReader reads the compact JSON this package writes for ids: arrays of
// id strings and objects of name → id string, no whitespace, no escapes.
// Anything else makes it fail, and the caller falls back to encoding/json.
type jsonReader struct {
	s string
	i int
}

// list reads a whole input of the form open elem , elem … close.
func (r *jsonReader) list(open, close byte, elem func() bool) bool {
	if !r.next(open) {
		return false
	}
	if r.next(close) {
		return r.i == len(r.s)
	}
	for {
		if !elem() {
			return false
		}
		if r.next(close) {
			return r.i == len(r.s)
		}
		if !r.next(',') {
			return false
		}
	}
}

func (r *jsonReader) next(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// id reads one quoted id.
func (r *jsonReader) id() (event.ID, bool) {
	const n = 26
	if r.i+n+2 > len(r.s) || r.s[r.i] != '"' || r.s[r.i+n+1] != '"' {
		return event.Zero, false
	}
	id, err := event.ParseID(r.s[r.i+1 : r.i+n+1])
	if err != nil {
		return event.Zero, false
	}
	r.i += n + 2
	return id, true
}

// key reads a quoted name and the colon after it.
func (r *jsonReader) key() (string, bool) {
	if !r.next('"') {
		return "", false
	}
	start := r.i
	for j := start; j < len(r.s); j++ {
		switch r.s[j] {
		case '\\':
			return "", false
		case '"':
			r.i = j + 1
			return r.s[start:j], r.next(':')
		}
	}
	return "", false
}
