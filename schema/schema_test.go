package schema_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

func TestSnakeCase(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":               "",
		"a":              "a",
		"A":              "a",
		"Album":          "album",
		"album":          "album",
		"ReleaseYear":    "release_year",
		"HTTPServer":     "http_server",
		"HTTP":           "http",
		"Album2":         "album2",
		"Album2Name":     "album2_name",
		"ID":             "id",
		"Id":             "id",
		"UserID":         "user_id",
		"userID":         "user_id",
		"JSONData":       "json_data",
		"XMLHttpRequest": "xml_http_request",
		"HTTP2Server":    "http2_server",
		"ABC":            "abc",
		"AB":             "ab",
		"ABc":            "a_bc",
		"Foo_Bar":        "foo_bar",
		"already_snake":  "already_snake",
		"V2":             "v2",
		"MP3File":        "mp3_file",
		"ÜberCool":       "über_cool",
	}
	for in, want := range cases {
		if got := schema.SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCollectionValidate(t *testing.T) {
	t.Parallel()
	ok := []schema.Collection{
		{Name: "album"},
		{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}, {Name: "year", Type: value.Int}, {Name: "artist", Type: value.Ref}}},
		{Name: "a", Fields: []schema.Field{
			{Name: "t", Type: value.Text}, {Name: "i", Type: value.Int}, {Name: "f", Type: value.Float}, {Name: "b", Type: value.Bool},
			{Name: "by", Type: value.Bytes}, {Name: "ti", Type: value.Time}, {Name: "j", Type: value.JSON}, {Name: "r", Type: value.Ref},
		}},
		{Name: "id", Fields: []schema.Field{{Name: "ida", Type: value.Text}}},
		// Adopted tables keep their names: any identifier.
		{Name: "Album", Fields: []schema.Field{{Name: "Name", Type: value.Text}, {Name: "na me", Type: value.Text}}},
		{Name: "sales.orders", Fields: []schema.Field{{Name: "1st", Type: value.Int}}},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: Validate: %v", c, err)
		}
	}
	bad := []struct {
		c       schema.Collection
		mention string
	}{
		{schema.Collection{Name: ""}, "collection name"},
		{schema.Collection{Name: "_album"}, "reserved"},
		{schema.Collection{Name: strings.Repeat("a", 128)}, "127"},
		{schema.Collection{Name: "al\tbum"}, "control"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "xmin", Type: value.Text}}}, "system column"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "", Type: value.Text}}}, "album"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "id", Type: value.Text}}}, "id"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "_head", Type: value.Text}}}, "_head"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: strings.Repeat("f", 64), Type: value.Text}}}, "63"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Null}}}, "name has no type"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Type(200)}}}, "name has no type"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}, {Name: "year", Type: value.Int}, {Name: "name", Type: value.Text}}}, "name appears twice"},
		{schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}, {Name: "name", Type: value.Int}}}, "name appears twice"},
	}
	for _, b := range bad {
		err := b.c.Validate()
		if err == nil {
			t.Errorf("%+v: Validate succeeded", b.c)
			continue
		}
		if !strings.Contains(err.Error(), b.mention) {
			t.Errorf("%+v: error %q does not mention %q", b.c, err, b.mention)
		}
	}
}

func TestFromMap(t *testing.T) {
	t.Parallel()
	m := map[string]value.Type{"year": value.Int, "artist": value.Ref, "name": value.Text, "b": value.Bool, "a_z": value.JSON}
	c := schema.FromMap("album", m)
	want := []schema.Field{{Name: "a_z", Type: value.JSON}, {Name: "artist", Type: value.Ref}, {Name: "b", Type: value.Bool}, {Name: "name", Type: value.Text}, {Name: "year", Type: value.Int}}
	if c.Name != "album" || len(c.Fields) != len(want) {
		t.Fatalf("FromMap = %+v", c)
	}
	for i := range want {
		if c.Fields[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, c.Fields[i], want[i])
		}
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if got := c.Map(); !maps.Equal(got, m) {
		t.Errorf("Map() = %v, want %v", got, m)
	}
	if f, ok := c.Field("artist"); !ok || f.Type != value.Ref {
		t.Errorf("Field(artist) = %+v, %v", f, ok)
	}
	if _, ok := c.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
	if e := schema.FromMap("empty", nil); e.Name != "empty" || len(e.Fields) != 0 {
		t.Errorf("FromMap(empty) = %+v", e)
	}
}

func TestCollectionJSON(t *testing.T) {
	t.Parallel()
	c := schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}, {Name: "score", Type: value.Float}, {Name: "at", Type: value.Time}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"album","fields":[{"name":"name","type":"text"},{"name":"score","type":"double precision"},{"name":"at","type":"timestamptz"}]}`
	if string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}
	var back schema.Collection
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != c.Name || len(back.Fields) != len(c.Fields) {
		t.Fatalf("round trip = %+v", back)
	}
	for i := range c.Fields {
		if back.Fields[i] != c.Fields[i] {
			t.Errorf("field %d = %+v", i, back.Fields[i])
		}
	}
	// Aliases are accepted when reading.
	if err := json.Unmarshal([]byte(`{"name":"x","fields":[{"name":"n","type":"int8"}]}`), &back); err != nil || back.Fields[0].Type != value.Int {
		t.Errorf("alias: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"name":"x","fields":[{"name":"n","type":"varchar(x)"}]}`), &back); err == nil {
		t.Error("unknown type accepted")
	}
}
