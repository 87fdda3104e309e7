package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// How field values cross into and out of Postgres.
//
// Reading: every field column is selected cast to the plain type of its
// value (readCast): a domain to its base type, an enum, a numeric or a uuid
// to text, integer and smallint to bigint. Each cast result has a type pgx
// decodes in binary or in a text form no session setting changes
// (numeric_out, uuid_out, enum labels), so what is read never depends on
// DateStyle, IntervalStyle or extra_float_digits.
//
// Writing: writeCast. Values of the first kinds travel as typed pgx
// arguments; the others as their Postgres text input form (value.PGText),
// cast to the column's type: an explicit cast to an enum or array type
// does the conversion, and a cast to a scalar value type leaves the
// column's own modifiers to the assignment, which refuses rather than
// truncates (an explicit cast to varchar(5) would cut a longer text).

// readCast is the SQL type a field of type t is read as.
func readCast(t value.Type) string {
	switch t.Kind() {
	case value.Array:
		return readCast(t.Elem()) + "[]"
	case value.Text, value.Ref, value.Numeric, value.UUID, value.Enum:
		return "text"
	case value.JSON:
		if t.IsJSONText() {
			return "text" // json keeps its text; jsonb's binary form is its text too
		}
		return "jsonb"
	case value.Int:
		return "int8"
	case value.Float:
		return "float8"
	case value.Real:
		return "float4"
	case value.Char:
		return "bpchar"
	case value.Bool:
		return "bool"
	case value.Bytes:
		return "bytea"
	case value.Time:
		return "timestamptz"
	case value.Timestamp:
		return "timestamp"
	case value.Date:
		return "date"
	case value.TimeOfDay:
		return "time"
	case value.Interval:
		return "interval"
	}
	return "text"
}

// readExpr is the select expression of a field column.
func readExpr(ident string, t value.Type) string { return ident + "::" + readCast(t) }

// newCell returns what pgx scans a field's read expression into.
func newCell(t value.Type) any {
	if t.Kind() == value.Array {
		switch readCast(t.Elem()) {
		case "int8":
			return new(pgtype.Array[pgtype.Int8])
		case "float8":
			return new(pgtype.Array[pgtype.Float8])
		case "float4":
			return new(pgtype.Array[pgtype.Float4])
		case "bool":
			return new(pgtype.Array[pgtype.Bool])
		case "bytea":
			return new(pgtype.Array[[]byte])
		case "timestamptz":
			return new(pgtype.Array[pgtype.Timestamptz])
		case "timestamp":
			return new(pgtype.Array[pgtype.Timestamp])
		case "date":
			return new(pgtype.Array[pgtype.Date])
		case "time":
			return new(pgtype.Array[pgtype.Time])
		case "interval":
			return new(pgtype.Array[pgtype.Interval])
		}
		return new(pgtype.Array[pgtype.Text])
	}
	switch readCast(t) {
	case "int8":
		return new(pgtype.Int8)
	case "float8":
		return new(pgtype.Float8)
	case "float4":
		return new(pgtype.Float4)
	case "bool":
		return new(pgtype.Bool)
	case "bytea", "jsonb":
		return new([]byte)
	case "timestamptz":
		return new(pgtype.Timestamptz)
	case "timestamp":
		return new(pgtype.Timestamp)
	case "date":
		return new(pgtype.Date)
	case "time":
		return new(pgtype.Time)
	case "interval":
		return new(pgtype.Interval)
	}
	return new(pgtype.Text)
}

// cellValue reads a scanned cell as a value of field type t (NULL when the
// column is NULL). Values Ankurah cannot hold (infinite dates and times,
// years outside 0001–9999, multidimensional arrays) are errors.
func cellValue(c any, t value.Type) (value.Value, error) {
	switch c := c.(type) {
	case *pgtype.Array[pgtype.Text]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Int8]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Float8]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Float4]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Bool]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[[]byte]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Timestamptz]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Timestamp]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Date]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Time]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	case *pgtype.Array[pgtype.Interval]:
		return arrayValue(c.Valid, c.Dims, c.Elements, t)
	}
	return scalarValue(c, t)
}

func arrayValue[E any](valid bool, dims []pgtype.ArrayDimension, elems []E, t value.Type) (value.Value, error) {
	if !valid {
		return value.NullValue, nil
	}
	if len(dims) > 1 {
		return value.Value{}, fmt.Errorf("a %d-dimensional array: fields hold one-dimensional arrays", len(dims))
	}
	et := t.Elem()
	vals := make([]value.Value, len(elems))
	for i := range elems {
		v, err := scalarValue(&elems[i], et)
		if err != nil {
			return value.Value{}, fmt.Errorf("element %d: %w", i+1, err)
		}
		vals[i] = v
	}
	return value.ArrayOf(t.ValueType(), vals)
}

// scalarValue reads one scanned scalar (a pointer to a pgtype value or to
// []byte) as a value of type t.
func scalarValue(c any, t value.Type) (value.Value, error) {
	switch c := c.(type) {
	case *pgtype.Text:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.ParsePGText(c.String, t)
	case *pgtype.Int8:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.IntOf(c.Int64), nil
	case *pgtype.Float8:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.FloatOf(c.Float64), nil
	case *pgtype.Float4:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.RealOf(c.Float32), nil
	case *pgtype.Bool:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.BoolOf(c.Bool), nil
	case *[]byte:
		if *c == nil {
			return value.NullValue, nil
		}
		if t.Kind() == value.JSON {
			return value.JSONOf(*c)
		}
		return value.BytesOf(*c), nil
	case *pgtype.Timestamptz:
		if !c.Valid {
			return value.NullValue, nil
		}
		if c.InfinityModifier != pgtype.Finite {
			// The triggers refuse infinite timestamps; one that got in
			// around them is reported, not read back as year 1.
			return value.Value{}, fmt.Errorf("an infinite timestamp")
		}
		v := value.TimeOf(c.Time)
		return v, v.CheckTime()
	case *pgtype.Timestamp:
		if !c.Valid {
			return value.NullValue, nil
		}
		if c.InfinityModifier != pgtype.Finite {
			return value.Value{}, fmt.Errorf("an infinite timestamp")
		}
		v := value.TimestampOf(c.Time)
		return v, v.CheckTime()
	case *pgtype.Date:
		if !c.Valid {
			return value.NullValue, nil
		}
		if c.InfinityModifier != pgtype.Finite {
			return value.Value{}, fmt.Errorf("an infinite date")
		}
		return value.DateOf(c.Time.Year(), c.Time.Month(), c.Time.Day())
	case *pgtype.Time:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.TimeOfDayOf(c.Microseconds)
	case *pgtype.Interval:
		if !c.Valid {
			return value.NullValue, nil
		}
		return value.IntervalOf(c.Months, c.Days, c.Microseconds), nil
	}
	return value.Value{}, fmt.Errorf("cannot read a %T as %s", c, t)
}

// writeCast returns the argument and the cast ("$n" + cast) that write v
// into a column of field f whose Postgres type is colType (its
// format_type: an enum's or a domain's name).
func writeCast(v value.Value, f schema.Field, colType string) (any, string) {
	switch f.Type.Kind() {
	case value.Text, value.Ref, value.Int, value.Float, value.Bool, value.Bytes, value.Time:
		// Typed arguments, cast to the value type (not to varchar(5): see above).
		return sqlArg(v), "::" + f.Type.ValueType().Column()
	case value.JSON:
		if f.Type.IsJSONText() {
			return sqlArg(v), "::json"
		}
		return sqlArg(v), "::jsonb"
	case value.Enum, value.Array:
		return textArg(v), "::text::" + colType
	}
	return textArg(v), "::text::" + f.Type.ValueType().Column()
}

// textArg is v's Postgres text input form, nil for NULL.
func textArg(v value.Value) any {
	if v.IsNull() {
		return nil
	}
	return v.PGText()
}
