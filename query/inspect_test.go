package query

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestEqualities(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{``, `map[]`},
		{`name = 'Muse'`, `map[name:["Muse"]]`},
		{`name = 'Muse' AND year IN (2000, 2001.0, NULL) AND score > 3`, `map[name:["Muse"] year:[2000 "2001.0"]]`},
		{`name = 'a' AND name = 'b'`, `map[name:["a"]]`},
		{`name = 'a' OR year = 1`, `map[]`},
		{`name <> 'a' AND year NOT IN (1) AND data.a = 1`, `map[]`},
		{`name IN (NULL)`, `map[name:[]]`},
		{`id IN (?)`, `map[]`},
		{`(name = 'a' AND (year = 1 AND ok = TRUE)) ORDER BY year`, `map[name:["a"] ok:[true] year:[1]]`},
	}
	for _, c := range cases {
		got := fmt.Sprint(MustParse(c.src).Equalities())
		if got != c.want {
			t.Errorf("Equalities(%s) = %s, want %s", c.src, got, c.want)
		}
	}
	q := MustParse(`id IN (?) AND name = ?`, []string{"x", "y"}, "n")
	if got := fmt.Sprint(q.Equalities()); got != `map[id:["x" "y"] name:["n"]]` {
		t.Errorf("bound: %s", got)
	}
}

func TestFieldsAndCheck(t *testing.T) {
	t.Parallel()
	q := MustParse(`name = 'a' AND (data.x.y = 1 OR NOT nope IS NULL) AND id <> 'x' ORDER BY year, name`)
	if got := q.Fields(); !slices.Equal(got, []string{"name", "data", "nope", "id", "year"}) {
		t.Errorf("Fields = %v", got)
	}
	err := q.Check(testSchema)
	var qe *Error
	if !errors.As(err, &qe) || qe.Code != CodeUnknownField || qe.Offset != 36 || qe.Field != "nope" || qe.Fields[0] != "id" || len(qe.Fields) != len(testSchema.Fields)+1 {
		t.Errorf("Check = %v (%+v), want unknown_field at 36 with the field and the collection's fields", err, qe)
	}
	if want := "query: unknown_field at offset 36: collection " + testSchema.Name + " has no field nope; its fields are id, "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err.Error(), want)
	}
	if err := MustParse(`name = 'a' ORDER BY id`).Check(testSchema); err != nil {
		t.Errorf("Check of known fields: %v", err)
	}
}
