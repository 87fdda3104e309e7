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
	timeType   = reflect.TypeOf(time.Time{})
	rawType    = reflect.TypeOf(json.RawMessage(nil))
	idType     = reflect.TypeOf(event.ID{})
	refLikePtr = reflect.TypeOf((*refLike)(nil)).Elem()
)

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
		if f.asJSON {
			f.typ = value.JSON
		} else {
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
	switch f.typ {
	case value.Text:
		return value.TextOf(fv.String()), nil
	case value.Int:
		if fv.CanUint() {
			return value.IntOf(int64(fv.Uint())), nil
		}
		return value.IntOf(fv.Int()), nil
	case value.Float:
		return value.FloatOf(fv.Float()), nil
	case value.Bool:
		return value.BoolOf(fv.Bool()), nil
	case value.Bytes:
		if fv.IsNil() {
			return value.NullValue, nil
		}
		return value.BytesOf(fv.Bytes()), nil
	case value.Time:
		t := fv.Interface().(time.Time)
		if t.IsZero() {
			return value.NullValue, nil
		}
		v := value.TimeOf(t)
		return v, v.CheckTime()
	case value.JSON:
		raw := fv.Interface().(json.RawMessage)
		if raw == nil {
			return value.NullValue, nil
		}
		return value.JSONOf(raw)
	case value.Ref:
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
	return value.NullValue, fmt.Errorf("unsupported type %s", f.typ)
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
	switch f.typ {
	case value.Text:
		fv.SetString(val.Text())
	case value.Int:
		i := val.Int()
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
	case value.Float:
		f := val.Float()
		if fv.Kind() == reflect.Float32 && !math.IsInf(f, 0) && fv.OverflowFloat(f) {
			return fmt.Errorf("%v does not fit float32", f)
		}
		fv.SetFloat(f)
	case value.Bool:
		fv.SetBool(val.Bool())
	case value.Bytes:
		fv.SetBytes(val.Bytes())
	case value.Time:
		fv.Set(reflect.ValueOf(val.Time()))
	case value.JSON:
		fv.SetBytes([]byte(val.JSONText()))
	case value.Ref:
		id, err := event.ParseID(val.Text())
		if err != nil {
			return err
		}
		if fv.Type() == idType {
			fv.Set(reflect.ValueOf(id))
		} else {
			fv.Addr().Interface().(refLike).setRefID(id)
		}
	}
	return nil
}
