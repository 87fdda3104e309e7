// Package schema describes collections — their names and typed fields — and
// derives them from Go model structs.
//
// Naming: a struct Album is collection "album", a field ReleaseYear is column
// "release_year". The tag `ankurah:"name"` overrides a name, `ankurah:"-"`
// skips a field, and `ankurah:",json"` stores any value as jsonb.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package schema

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// Field is one typed property of a collection.
type Field struct {
	Name string     `json:"name"`
	Type value.Type `json:"type"`
	// Refers names the collection a field refers to when its values are
	// another collection's keys: a foreign key between adopted tables
	// (its values stay the app's keys; see docs/architecture.md).
	Refers string `json:"refers,omitempty"`
}

// Collection is the schema of one collection. Entities may carry fields the
// schema does not list yet; those are added when first written.
type Collection struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
}

// Field returns the named field.
func (c *Collection) Field(name string) (Field, bool) {
	for _, f := range c.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Map returns the fields as name → type (the form ankurah.create_collection takes).
func (c *Collection) Map() map[string]value.Type {
	m := make(map[string]value.Type, len(c.Fields))
	for _, f := range c.Fields {
		m[f.Name] = f.Type
	}
	return m
}

// Validate checks names and types.
func (c *Collection) Validate() error {
	if err := event.ValidCollectionName(c.Name); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range c.Fields {
		if err := event.ValidFieldName(f.Name); err != nil {
			return fmt.Errorf("collection %s: %w", c.Name, err)
		}
		if !f.Type.Valid() {
			return fmt.Errorf("collection %s: field %s has no type", c.Name, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("collection %s: field %s appears twice", c.Name, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// FromMap builds a collection schema from name → type, fields sorted by name.
func FromMap(name string, fields map[string]value.Type) Collection {
	c := Collection{Name: name}
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		c.Fields = append(c.Fields, Field{Name: f, Type: fields[f]})
	}
	return c
}

// SnakeCase converts a Go identifier to snake_case: ReleaseYear →
// release_year, HTTPServer → http_server, Album2 → album2.
func SnakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
