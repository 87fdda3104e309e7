package reactor

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// Index keys. Two values that the query language calls equal must share a
// key, or the index would hide a match: bigint 2000 and double 2000.0 are
// one number, a ref and a text are one string, a JSON scalar equals the
// plain value of its kind (a JSON number 9 equals 9, never '9'), and a text
// literal in RFC 3339 equals the timestamptz it names.

// entityKey returns the key of an entity's field value; ok is false for
// values no equality literal can match through the index (NULL, JSON
// objects and arrays).
func entityKey(v value.Value) (string, bool) {
	switch v.Type() {
	case value.Null:
		return "", false
	case value.Int, value.Float:
		return numberKey(v.Float()), true
	case value.Text, value.Ref:
		return "s" + v.Text(), true
	case value.Bool:
		if v.Bool() {
			return "b1", true
		}
		return "b0", true
	case value.Bytes:
		return "x" + v.Raw(), true
	case value.Time:
		return timeKey(v), true
	case value.JSON:
		return jsonScalarKey(v.JSONText())
	}
	return "", false
}

// literalKeys returns every key under which an entity matching the literal
// may be found.
func literalKeys(v value.Value) []string {
	k, ok := entityKey(v)
	if !ok {
		return nil
	}
	keys := []string{k}
	if v.Type() == value.Text {
		if t, err := time.Parse(time.RFC3339Nano, v.Text()); err == nil {
			keys = append(keys, timeKey(value.TimeOf(t)))
		}
	}
	return keys
}

// numberKey keys every number by its float64: exact for integers below
// 2^53, and beyond that several integers share a key, which only lets the
// matcher see a few extra candidates (the index may over-select, never
// under-select).
func numberKey(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nNaN"
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		return "n" + strconv.FormatInt(int64(f), 10)
	}
	return "n" + strconv.FormatFloat(f, 'g', -1, 64)
}

func timeKey(v value.Value) string { return "t" + strconv.FormatInt(v.Time().UnixMicro(), 10) }

// jsonScalarKey keys a JSON string, number or boolean like the plain value.
func jsonScalarKey(doc string) (string, bool) {
	var x any
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	if d.Decode(&x) != nil {
		return "", false
	}
	switch x := x.(type) {
	case string:
		return "s" + x, true
	case bool:
		if x {
			return "b1", true
		}
		return "b0", true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !math.IsInf(f, 0) {
			return "", false
		}
		return numberKey(f), true
	}
	return "", false
}
