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
// key, or the index would hide a match: bigint 2000, double 2000.0 and
// numeric 2000.00 are one number, a ref and a text are one string, a JSON
// scalar equals the plain value of its kind (a JSON number 9 equals 9,
// never '9'), a text literal equals what it stands for (an RFC 3339
// timestamptz, a date, a uuid in any case, an interval of the same span, a
// numeric, an enum label, a char without its trailing blanks), and every
// array shares one key.

// entityKey returns the key of an entity's field value; ok is false for
// values no equality literal can match through the index (NULL, JSON
// objects and arrays).
func entityKey(v value.Value) (string, bool) {
	switch v.Type().Kind() {
	case value.Null:
		return "", false
	case value.Int, value.Float, value.Real, value.Numeric:
		return numberKey(v.Float()), true
	case value.Text, value.Ref, value.UUID, value.Enum:
		return "s" + v.Text(), true
	case value.Char:
		return "s" + strings.TrimRight(v.Text(), " "), true // trailing blanks do not count
	case value.Date:
		return "D" + strconv.FormatInt(v.Days(), 10), true
	case value.TimeOfDay:
		return "T" + strconv.FormatInt(v.Micros(), 10), true
	case value.Timestamp:
		return timeKey(v), true // compares with timestamptz literals, as UTC
	case value.Interval:
		d, r := v.IntervalSpan()
		return "i" + strconv.FormatInt(d, 10) + "/" + strconv.FormatInt(r, 10), true
	case value.Array:
		// Equal arrays can be spelt differently (1.5 and 1.50): one key
		// for every array; the matcher decides.
		return "a", true
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
	switch v.Type() {
	case value.Text:
		// What else the text stands for (see query's typedAs): a time, a
		// date, a uuid, a number, … and a char without trailing blanks.
		s := v.Text()
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			keys = append(keys, timeKey(value.TimeOf(t)))
		}
		if trimmed := strings.TrimRight(s, " "); trimmed != s {
			keys = append(keys, "s"+trimmed)
		}
		if len(s) <= 200 {
			for _, t := range []value.Type{value.Timestamp, value.Date, value.TimeOfDay, value.UUID, value.Interval, value.Numeric} {
				if w, err := value.FromText(s, t); err == nil {
					if k, ok := entityKey(w); ok {
						keys = append(keys, k)
					}
				}
			}
		}
		if _, _, err := value.SplitArrayText(s); err == nil {
			keys = append(keys, "a")
		}
	case value.Int, value.Float, value.Real, value.Numeric:
		// A real field compares at real precision: the literal rounded to
		// the nearest real (as query's lit does it) may key otherwise.
		f32 := float32(v.Float())
		if v.Type() == value.Numeric && !strings.ContainsAny(v.Text(), "NI") {
			f, _ := strconv.ParseFloat(v.Text(), 32)
			f32 = float32(f)
		}
		if k32 := numberKey(float64(f32)); k32 != k {
			keys = append(keys, k32)
		}
		// A numeric field compares with a real literal exactly, as the
		// real's shortest decimal (real 0.1 is numeric 0.1, not
		// 0.100000001…): key that decimal too.
		if v.Type() == value.Real {
			if f, err := strconv.ParseFloat(v.NumericText(), 64); err == nil {
				if kd := numberKey(f); kd != k {
					keys = append(keys, kd)
				}
			}
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
