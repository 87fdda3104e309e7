package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// Ref is a typed reference to an entity of model T, stored as the entity's id
// (a "ref" field, a text column holding the id).
type Ref[T any] struct {
	ID event.ID
}

// RefTo returns a reference to the entity with the given id.
func RefTo[T any](id event.ID) Ref[T] { return Ref[T]{ID: id} }

func (r Ref[T]) refID() event.ID       { return r.ID }
func (r *Ref[T]) setRefID(id event.ID) { r.ID = id }

type refLike interface {
	refID() event.ID
	setRefID(event.ID)
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	rawType       = reflect.TypeOf(json.RawMessage(nil))
	idType        = reflect.TypeOf(event.ID{})
	refLikePtr    = reflect.TypeOf((*refLike)(nil)).Elem()
	decimalType   = reflect.TypeOf(Decimal(""))
	uuidType      = reflect.TypeOf(UUID{})
	dateType      = reflect.TypeOf(Date{})
	timeOfDayType = reflect.TypeOf(TimeOfDay(0))
	intervalType  = reflect.TypeOf(Interval{})
	durationType  = reflect.TypeOf(time.Duration(0))
	ytextType     = reflect.TypeOf(YText(""))
	enumIface     = reflect.TypeOf((*Enum)(nil)).Elem()
)

// Named is implemented by models whose collection is not named after the
// struct: e.g. an adopted table outside schema public, whose collection is
// "sales.orders".
//
//	func (Order) CollectionName() string { return "sales.orders" }
type Named interface {
	CollectionName() string
}

// Model maps a Go struct type to a collection: its schema and the conversion
// between struct values and entity values.
type Model struct {
	Collection Collection
	typ        reflect.Type
	fields     []modelField
	idIndex    []int // the struct's ID field (type event.ID, column "id"), if any
}

type modelField struct {
	name     string
	typ      value.Type
	index    []int
	optional bool // a pointer: nil is NULL
	asJSON   bool // any Go value stored through encoding/json
}

// ModelOf derives the model of struct type T (or *T).
func ModelOf(t reflect.Type) (*Model, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a model must be a struct, not %s", t)
	}
	m := &Model{typ: t, Collection: Collection{Name: SnakeCase(t.Name())}}
	if n, ok := reflect.Zero(t).Interface().(Named); ok {
		m.Collection.Name = n.CollectionName()
	} else if n, ok := reflect.New(t).Interface().(Named); ok {
		m.Collection.Name = n.CollectionName()
	}
	if err := m.addFields(t, nil); err != nil {
		return nil, err
	}
	if err := m.Collection.Validate(); err != nil {
		return nil, fmt.Errorf("model %s: %w", t, err)
	}
	return m, nil
}

func (m *Model) addFields(t reflect.Type, prefix []int) error {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		tag := sf.Tag.Get("ankurah")
		if tag == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		// type= takes the rest of the tag: numeric(10,2) has a comma.
		typeName, hasType := strings.CutPrefix(opts, "type=")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct && sf.Type != timeType {
			if err := m.addFields(sf.Type, index); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = SnakeCase(sf.Name)
		}
		if name == "id" {
			if sf.Type != idType {
				return fmt.Errorf("model %s: field %s maps to column id, which holds the entity id: give it type event.ID or another name", t, sf.Name)
			}
			m.idIndex = index
			continue
		}
		f := modelField{name: name, index: index, asJSON: opts == "json"}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer && !f.asJSON {
			f.optional = true
			ft = ft.Elem()
		}
		switch {
		case f.asJSON:
			f.typ = value.JSON
		case hasType:
			typ, err := value.ParseType(typeName)
			if err != nil {
				return fmt.Errorf("model %s: field %s: %w", t, sf.Name, err)
			}
			if !holds(ft, typ) {
				return fmt.Errorf("model %s: field %s: a %s cannot hold %s", t, sf.Name, ft, typ)
			}
			f.typ = typ
		default:
			typ, err := goType(ft)
			if err != nil {
				return fmt.Errorf("model %s: field %s: %w", t, sf.Name, err)
			}
			f.typ = typ
			f.asJSON = typ == value.JSON && ft != rawType
		}
		m.fields = append(m.fields, f)
		m.Collection.Fields = append(m.Collection.Fields, Field{Name: name, Type: f.typ})
	}
	return nil
}

func goType(t reflect.Type) (value.Type, error) {
	switch {
	case t == timeType:
		return value.Time, nil
	case t == ytextType:
		return value.YText, nil
	case t == decimalType:
		return value.Numeric, nil
	case isUUIDType(t):
		return value.UUID, nil
	case t == dateType:
		return value.Date, nil
	case t == timeOfDayType:
		return value.TimeOfDay, nil
	case t == intervalType:
		return value.Interval, nil
	case t.Kind() == reflect.String && t.Implements(enumIface):
		return value.EnumType(reflect.Zero(t).Interface().(Enum).EnumLabels())
	case t == rawType:
		return value.JSON, nil
	case reflect.PointerTo(t).Implements(refLikePtr):
		return value.Ref, nil
	case t == idType:
		return value.Ref, nil
	}
	switch t.Kind() {
	case reflect.String:
		return value.Text, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return value.Int, nil
	case reflect.Float32, reflect.Float64:
		return value.Float, nil
	case reflect.Bool:
		return value.Bool, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return value.Bytes, nil
		}
		return value.JSON, nil
	case reflect.Map, reflect.Struct, reflect.Array:
		return value.JSON, nil
	}
	return value.Null, fmt.Errorf("type %s is not supported (use a `ankurah:\",json\"` tag to store it as jsonb)", t)
}

// Type returns the Go struct type of the model.
func (m *Model) Type() reflect.Type { return m.typ }

// Encode returns the entity values of struct value v (a T or *T). NULLs are
// included (as NULL values) so that a diff can unset a field.
func (m *Model) Encode(v reflect.Value) (map[string]value.Value, error) {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if !v.CanAddr() { // Ref fields are read through a pointer method
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p.Elem()
	}
	out := make(map[string]value.Value, len(m.fields))
	for _, f := range m.fields {
		fv := v.FieldByIndex(f.index)
		if f.optional {
			if fv.IsNil() {
				out[f.name] = value.NullValue
				continue
			}
			fv = fv.Elem()
		}
		val, err := encodeField(f, fv)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", m.Collection.Name, f.name, err)
		}
		out[f.name] = val
	}
	return out, nil
}

func encodeField(f modelField, fv reflect.Value) (value.Value, error) {
	if f.asJSON {
		return value.JSONFrom(fv.Interface())
	}
	if f.typ == value.Ref {
		var id event.ID
		if fv.Type() == idType {
			id = fv.Interface().(event.ID)
		} else {
			id = fv.Addr().Interface().(refLike).refID()
		}
		if id.IsZero() {
			return value.NullValue, nil
		}
		return value.RefOf(id.String()), nil
	}
	v, err := goValue(fv, f.typ)
	if err != nil || v.IsNull() {
		return v, err
	}
	if v.Type() == value.Time {
		if err := v.CheckTime(); err != nil {
			return value.NullValue, err
		}
	}
	return value.Convert(v, f.typ)
}

// isUUIDType reports schema.UUID and other [16]byte types named UUID.
func isUUIDType(t reflect.Type) bool {
	return t == uuidType || t.Kind() == reflect.Array && t.Len() == 16 && t.Elem().Kind() == reflect.Uint8 && t.Name() == "UUID"
}

// holds reports whether Go type t can hold values of field type ft (with a
// `type=` tag).
func holds(t reflect.Type, ft value.Type) bool {
	k := ft.Kind()
	switch {
	case t == timeType:
		return k == value.Time || k == value.Timestamp || k == value.Date
	case t == durationType:
		return k == value.Interval || k == value.Int
	case t == rawType:
		return k == value.JSON
	case t == decimalType, t == uuidType, t == dateType, t == timeOfDayType, t == intervalType, isUUIDType(t):
		gt, _ := goType(t)
		return k == gt.Kind()
	}
	switch t.Kind() {
	case reflect.String:
		switch k {
		case value.Bool, value.Bytes, value.JSON, value.Array, value.Int, value.Float, value.Real, value.Ref:
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return k == value.Int || k == value.Numeric || k == value.Real || k == value.Float
	case reflect.Float32, reflect.Float64:
		return k == value.Float || k == value.Real || k == value.Numeric
	case reflect.Bool:
		return k == value.Bool
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return k == value.Bytes
		}
		if k != value.Array {
			return false
		}
		et := t.Elem()
		if et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		return holds(et, ft.Elem())
	}
	return false
}

// goValue returns the value a Go field value stands for, in the type its
// Go type gives (Convert then makes it the field's type). Zero values of
// times, dates, decimals, byte slices and JSON are NULL.
func goValue(fv reflect.Value, ft value.Type) (value.Value, error) {
	switch t := fv.Type(); {
	case t == timeType:
		tm := fv.Interface().(time.Time)
		if tm.IsZero() {
			return value.NullValue, nil
		}
		if ft.Kind() == value.Date {
			return value.DateOf(tm.Year(), tm.Month(), tm.Day()) // the day in tm's location
		}
		return value.TimeOf(tm), nil // a timestamp field takes its UTC wall clock
	case t == rawType:
		raw := fv.Interface().(json.RawMessage)
		if raw == nil {
			return value.NullValue, nil
		}
		return value.JSONOf(raw)
	case t == decimalType:
		if fv.String() == "" {
			return value.NullValue, nil
		}
		return value.NumericOf(fv.String())
	case isUUIDType(t):
		var b [16]byte
		reflect.Copy(reflect.ValueOf(b[:]), fv)
		return value.UUIDOf(b), nil
	case t == dateType:
		d := fv.Interface().(Date)
		if d == (Date{}) {
			return value.NullValue, nil
		}
		return value.DateOf(d.Year, d.Month, d.Day)
	case t == timeOfDayType:
		return value.TimeOfDayOf(int64(time.Duration(fv.Int()) / time.Microsecond))
	case t == intervalType:
		iv := fv.Interface().(Interval)
		return value.IntervalOf(iv.Months, iv.Days, iv.Micros), nil
	case t == durationType && ft.Kind() == value.Interval:
		return value.IntervalOf(0, 0, int64(time.Duration(fv.Int())/time.Microsecond)), nil
	}
	switch fv.Kind() {
	case reflect.String:
		if fv.String() == "" && ft.Kind() == value.Enum {
			return value.NullValue, nil // no label is empty: the zero value is NULL
		}
		return value.TextOf(fv.String()), nil
	case reflect.Bool:
		return value.BoolOf(fv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return value.IntOf(fv.Int()), nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return value.IntOf(int64(fv.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return value.FloatOf(fv.Float()), nil
	case reflect.Slice, reflect.Array:
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8 {
			if fv.IsNil() {
				return value.NullValue, nil
			}
			return value.BytesOf(fv.Bytes()), nil
		}
		if ft.Kind() != value.Array {
			break
		}
		if fv.Kind() == reflect.Slice && fv.IsNil() {
			return value.NullValue, nil
		}
		elems := make([]value.Value, fv.Len())
		for i := range elems {
			ev := fv.Index(i)
			if ev.Kind() == reflect.Pointer {
				if ev.IsNil() {
					continue
				}
				ev = ev.Elem()
			}
			e, err := goValue(ev, ft.Elem())
			if err != nil {
				return value.NullValue, fmt.Errorf("element %d: %w", i+1, err)
			}
			elems[i] = e
		}
		return value.ArrayOf(ft, elems)
	}
	return value.NullValue, fmt.Errorf("unsupported type %s for %s", fv.Type(), ft)
}

// Decode fills struct value v (a *T) from entity values. Fields absent from
// values are NULL: nil pointers, or zero values for non-pointer fields.
func (m *Model) Decode(id event.ID, values map[string]value.Value, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if m.idIndex != nil {
		v.FieldByIndex(m.idIndex).Set(reflect.ValueOf(id))
	}
	for _, f := range m.fields {
		fv := v.FieldByIndex(f.index)
		val, err := value.Convert(values[f.name], f.typ)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", m.Collection.Name, f.name, err)
		}
		if val.IsNull() {
			fv.SetZero()
			continue
		}
		if f.optional {
			p := reflect.New(fv.Type().Elem())
			fv.Set(p)
			fv = p.Elem()
		}
		if err := decodeField(f, val, fv); err != nil {
			return fmt.Errorf("%s.%s: %w", m.Collection.Name, f.name, err)
		}
	}
	return nil
}

func decodeField(f modelField, val value.Value, fv reflect.Value) error {
	if f.asJSON {
		p := reflect.New(fv.Type())
		if err := json.Unmarshal([]byte(val.JSONText()), p.Interface()); err != nil {
			return err
		}
		fv.Set(p.Elem())
		return nil
	}
	if f.typ == value.Ref {
		id, err := event.ParseID(val.Text())
		if err != nil {
			return err
		}
		if fv.Type() == idType {
			fv.Set(reflect.ValueOf(id))
		} else {
			fv.Addr().Interface().(refLike).setRefID(id)
		}
		return nil
	}
	return setGo(fv, val)
}

// setGo stores a non-NULL value in a Go field value of a type that holds
// it (see holds and goType).
func setGo(fv reflect.Value, val value.Value) error {
	k := val.Type().Kind()
	switch t := fv.Type(); {
	case t == timeType:
		if k == value.Date {
			y, m, d := val.Civil()
			fv.Set(reflect.ValueOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)))
			return nil
		}
		fv.Set(reflect.ValueOf(val.Time()))
		return nil
	case t == rawType:
		fv.SetBytes([]byte(val.JSONText()))
		return nil
	case t == decimalType:
		fv.SetString(val.NumericText())
		return nil
	case isUUIDType(t):
		b := val.UUID()
		reflect.Copy(fv, reflect.ValueOf(b[:]))
		return nil
	case t == dateType:
		y, m, d := val.Civil()
		fv.Set(reflect.ValueOf(Date{y, m, d}))
		return nil
	case t == timeOfDayType:
		fv.SetInt(int64(time.Duration(val.Micros()) * time.Microsecond))
		return nil
	case t == intervalType:
		m, d, us := val.Interval()
		fv.Set(reflect.ValueOf(Interval{m, d, us}))
		return nil
	case t == durationType && k == value.Interval:
		m, d, us := val.Interval()
		if m != 0 || d != 0 {
			return fmt.Errorf("interval %s has months or days: it does not fit a time.Duration (use schema.Interval)", val)
		}
		fv.SetInt(int64(time.Duration(us) * time.Microsecond))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(textForm(val))
	case reflect.Bool:
		fv.SetBool(val.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		iv, err := value.Convert(val, value.Int)
		if err != nil {
			return err
		}
		i := iv.Int()
		if fv.CanUint() {
			if i < 0 || fv.OverflowUint(uint64(i)) {
				return fmt.Errorf("%d does not fit %s", i, fv.Type())
			}
			fv.SetUint(uint64(i))
		} else {
			if fv.OverflowInt(i) {
				return fmt.Errorf("%d does not fit %s", i, fv.Type())
			}
			fv.SetInt(i)
		}
	case reflect.Float32, reflect.Float64:
		f := val.Float()
		if fv.Kind() == reflect.Float32 && !math.IsInf(f, 0) && fv.OverflowFloat(f) {
			return fmt.Errorf("%v does not fit float32", f)
		}
		fv.SetFloat(f)
	case reflect.Slice, reflect.Array:
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8 {
			fv.SetBytes(val.Bytes())
			return nil
		}
		elems := val.Elements()
		if fv.Kind() == reflect.Slice {
			fv.Set(reflect.MakeSlice(fv.Type(), len(elems), len(elems)))
		} else if len(elems) > fv.Len() {
			return fmt.Errorf("%d elements do not fit %s", len(elems), fv.Type())
		}
		for i, e := range elems {
			ev := fv.Index(i)
			if e.IsNull() {
				ev.SetZero()
				continue
			}
			if ev.Kind() == reflect.Pointer {
				p := reflect.New(ev.Type().Elem())
				ev.Set(p)
				ev = p.Elem()
			}
			if err := setGo(ev, e); err != nil {
				return fmt.Errorf("element %d: %w", i+1, err)
			}
		}
	default:
		return fmt.Errorf("cannot store a %s in a %s", val.Type(), fv.Type())
	}
	return nil
}

// textForm is a value as a Go string field holds it: the text of text,
// chars and enums, the string of the natural JSON of the others (a
// numeric's digits, a date's YYYY-MM-DD, an interval's ISO 8601).
func textForm(v value.Value) string {
	switch v.Type().Kind() {
	case value.Text, value.Ref, value.Char, value.Enum, value.Numeric, value.UUID:
		return v.Text()
	}
	var s string
	if err := json.Unmarshal(v.AppendJSON(nil), &s); err != nil {
		return v.String()
	}
	return s
}
