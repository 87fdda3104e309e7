package schema_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

type Artist struct {
	ID   event.ID
	Name string
}

type Timestamps struct {
	CreatedAt time.Time
	UpdatedAt *time.Time
}

type audit struct { // unexported, embedded: its exported fields are promoted
	Note   string
	secret string
}

type Location struct {
	Lat, Lng float64
}

// Everything has a field of every supported kind.
type Everything struct {
	ID event.ID
	Timestamps
	audit

	Title      string
	Subtitle   *string
	Count      int
	I8         int8
	I16        int16
	I32        int32
	I64        int64
	U8         uint8
	U16        uint16
	U32        uint32
	OptInt     *int64
	Score      float64
	Ratio      float32
	OptScore   *float64
	Live       bool
	OptLive    *bool
	Data       []byte
	OptData    *[]byte
	At         time.Time
	OptAt      *time.Time
	Raw        json.RawMessage
	Tags       []string
	Attrs      map[string]int
	Where      Location
	OptWhere   *Location
	Pair       [2]string
	Artist     schema.Ref[Artist]
	CoArtist   *schema.Ref[Artist]
	Owner      event.ID
	Any        any       `ankurah:",json"`
	Chan       chan int  `ankurah:"-"`
	Renamed    string    `ankurah:"label"`
	PtrJSON    *Location `ankurah:"ptr_json,json"`
	HTTPServer string

	Skipped string `ankurah:"-"`
	hidden  string
}

var everythingFields = []schema.Field{
	{Name: "created_at", Type: value.Time},
	{Name: "updated_at", Type: value.Time},
	{Name: "note", Type: value.Text},
	{Name: "title", Type: value.Text},
	{Name: "subtitle", Type: value.Text},
	{Name: "count", Type: value.Int},
	{Name: "i8", Type: value.Int},
	{Name: "i16", Type: value.Int},
	{Name: "i32", Type: value.Int},
	{Name: "i64", Type: value.Int},
	{Name: "u8", Type: value.Int},
	{Name: "u16", Type: value.Int},
	{Name: "u32", Type: value.Int},
	{Name: "opt_int", Type: value.Int},
	{Name: "score", Type: value.Float},
	{Name: "ratio", Type: value.Float},
	{Name: "opt_score", Type: value.Float},
	{Name: "live", Type: value.Bool},
	{Name: "opt_live", Type: value.Bool},
	{Name: "data", Type: value.Bytes},
	{Name: "opt_data", Type: value.Bytes},
	{Name: "at", Type: value.Time},
	{Name: "opt_at", Type: value.Time},
	{Name: "raw", Type: value.JSON},
	{Name: "tags", Type: value.JSON},
	{Name: "attrs", Type: value.JSON},
	{Name: "where", Type: value.JSON},
	{Name: "opt_where", Type: value.JSON},
	{Name: "pair", Type: value.JSON},
	{Name: "artist", Type: value.Ref},
	{Name: "co_artist", Type: value.Ref},
	{Name: "owner", Type: value.Ref},
	{Name: "any", Type: value.JSON},
	{Name: "label", Type: value.Text},
	{Name: "ptr_json", Type: value.JSON},
	{Name: "http_server", Type: value.Text},
}

func model(t *testing.T, v any) *schema.Model {
	t.Helper()
	m, err := schema.ModelOf(reflect.TypeOf(v))
	if err != nil {
		t.Fatalf("ModelOf(%T): %v", v, err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

func TestModelOfEverything(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	if m.Collection.Name != "everything" {
		t.Errorf("collection name %q", m.Collection.Name)
	}
	if m.Type() != reflect.TypeOf(Everything{}) {
		t.Errorf("Type() = %v", m.Type())
	}
	got := m.Collection.Fields
	if len(got) != len(everythingFields) {
		t.Errorf("got %d fields, want %d: %v", len(got), len(everythingFields), got)
	}
	for i := range min(len(got), len(everythingFields)) {
		if got[i] != everythingFields[i] {
			t.Errorf("field %d = %+v, want %+v", i, got[i], everythingFields[i])
		}
	}
	if err := m.Collection.Validate(); err != nil {
		t.Error(err)
	}
	// *T gives the same model.
	mp := model(t, &Everything{})
	if !reflect.DeepEqual(mp.Collection, m.Collection) || mp.Type() != m.Type() {
		t.Errorf("ModelOf(*Everything) = %+v", mp.Collection)
	}
}

func TestModelNames(t *testing.T) {
	t.Parallel()
	type HTTPServer struct{ Port int }
	type AlbumV2 struct {
		ReleaseYear int
	}
	if got := model(t, HTTPServer{}).Collection.Name; got != "http_server" {
		t.Errorf("HTTPServer → %q", got)
	}
	c := model(t, AlbumV2{}).Collection
	if c.Name != "album_v2" || len(c.Fields) != 1 || c.Fields[0] != (schema.Field{Name: "release_year", Type: value.Int}) {
		t.Errorf("AlbumV2 → %+v", c)
	}
	// A model without an ID field is fine; so is an empty one.
	type Empty struct{}
	if c := model(t, Empty{}).Collection; c.Name != "empty" || len(c.Fields) != 0 {
		t.Errorf("Empty → %+v", c)
	}
}

func everythingSample() Everything {
	at := time.Date(2024, 3, 4, 5, 6, 7, 890123000, time.UTC)
	return Everything{
		Timestamps: Timestamps{CreatedAt: at.Add(-time.Hour), UpdatedAt: ptr(at)},
		audit:      audit{Note: "checked"},
		Title:      "Kind of Blue — \"live\" \\ 🎺",
		Subtitle:   ptr(""),
		Count:      -7,
		I8:         math.MinInt8,
		I16:        math.MaxInt16,
		I32:        math.MinInt32,
		I64:        math.MaxInt64,
		U8:         math.MaxUint8,
		U16:        math.MaxUint16,
		U32:        math.MaxUint32,
		OptInt:     ptr(int64(0)),
		Score:      math.Pi,
		Ratio:      float32(0.1),
		OptScore:   ptr(math.Inf(-1)),
		Live:       true,
		OptLive:    ptr(false),
		Data:       []byte{0, 1, 0xfe, 0xff},
		OptData:    ptr([]byte{}),
		At:         at,
		OptAt:      ptr(at.Add(time.Microsecond)),
		Raw:        json.RawMessage(`{"z":1,"a":[true,null]}`),
		Tags:       []string{"jazz", "modal"},
		Attrs:      map[string]int{"x": 1, "y": 2},
		Where:      Location{Lat: 1.5, Lng: -2.25},
		OptWhere:   &Location{Lat: 3},
		Pair:       [2]string{"a", "b"},
		Artist:     schema.RefTo[Artist](event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V0")),
		CoArtist:   ptr(schema.RefTo[Artist](event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V1"))),
		Owner:      event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V2"),
		Any:        map[string]any{"k": "v"},
		Renamed:    "label value",
		PtrJSON:    &Location{Lng: 9},
		HTTPServer: "https://example.com",
	}
}

func TestModelEncode(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	in := everythingSample()
	in.Skipped = "not stored"
	in.hidden = "not stored"
	in.audit.secret = "not stored"
	vals, err := m.Encode(reflect.ValueOf(&in))
	if err != nil {
		t.Fatal(err)
	}
	mustJSON := func(s string) value.Value {
		v, err := value.JSONOf([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := map[string]value.Value{
		"created_at":  value.TimeOf(in.CreatedAt),
		"updated_at":  value.TimeOf(*in.UpdatedAt),
		"note":        value.TextOf("checked"),
		"title":       value.TextOf(in.Title),
		"subtitle":    value.TextOf(""),
		"count":       value.IntOf(-7),
		"i8":          value.IntOf(math.MinInt8),
		"i16":         value.IntOf(math.MaxInt16),
		"i32":         value.IntOf(math.MinInt32),
		"i64":         value.IntOf(math.MaxInt64),
		"u8":          value.IntOf(math.MaxUint8),
		"u16":         value.IntOf(math.MaxUint16),
		"u32":         value.IntOf(math.MaxUint32),
		"opt_int":     value.IntOf(0),
		"score":       value.FloatOf(math.Pi),
		"ratio":       value.FloatOf(float64(float32(0.1))),
		"opt_score":   value.FloatOf(math.Inf(-1)),
		"live":        value.BoolOf(true),
		"opt_live":    value.BoolOf(false),
		"data":        value.BytesOf([]byte{0, 1, 0xfe, 0xff}),
		"opt_data":    value.BytesOf(nil),
		"at":          value.TimeOf(in.At),
		"opt_at":      value.TimeOf(*in.OptAt),
		"raw":         mustJSON(`{"z":1,"a":[true,null]}`),
		"tags":        mustJSON(`["jazz","modal"]`),
		"attrs":       mustJSON(`{"x":1,"y":2}`),
		"where":       mustJSON(`{"Lat":1.5,"Lng":-2.25}`),
		"opt_where":   mustJSON(`{"Lat":3,"Lng":0}`),
		"pair":        mustJSON(`["a","b"]`),
		"artist":      value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1V0"),
		"co_artist":   value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1V1"),
		"owner":       value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1V2"),
		"any":         mustJSON(`{"k":"v"}`),
		"label":       value.TextOf("label value"),
		"ptr_json":    mustJSON(`{"Lat":0,"Lng":9}`),
		"http_server": value.TextOf("https://example.com"),
	}
	if len(vals) != len(want) {
		t.Errorf("Encode gave %d values, want %d: %v", len(vals), len(want), vals)
	}
	for k, w := range want {
		got, ok := vals[k]
		if !ok {
			t.Errorf("Encode has no %s", k)
			continue
		}
		if !value.Equal(got, w) {
			t.Errorf("%s = %v (%v), want %v (%v)", k, got, got.Type(), w, w.Type())
		}
	}
	for _, k := range []string{"id", "skipped", "hidden", "secret", "chan", "renamed"} {
		if _, ok := vals[k]; ok {
			t.Errorf("Encode wrote %s", k)
		}
	}
	// Every encoded value has its field's type (or is NULL).
	for _, f := range m.Collection.Fields {
		if v := vals[f.Name]; !v.IsNull() && v.Type() != f.Type {
			t.Errorf("%s: %v value for a %v field", f.Name, v.Type(), f.Type)
		}
	}
}

func TestModelEncodeZeroValue(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	vals, err := m.Encode(reflect.ValueOf(&Everything{}))
	if err != nil {
		t.Fatal(err)
	}
	// Nil pointers, nil slices of bytes and raw JSON, zero times and zero
	// refs are NULL, and present in the map so that a diff can unset them.
	nulls := []string{"updated_at", "created_at", "subtitle", "opt_int", "opt_score", "opt_live", "data", "opt_data",
		"at", "opt_at", "raw", "opt_where", "artist", "co_artist", "owner"}
	for _, k := range nulls {
		v, ok := vals[k]
		if !ok || !v.IsNull() {
			t.Errorf("%s = %v (present %v), want NULL", k, v, ok)
		}
	}
	// Plain zero values are values.
	zeros := map[string]value.Value{
		"title": value.TextOf(""), "count": value.IntOf(0), "u8": value.IntOf(0), "score": value.FloatOf(0),
		"ratio": value.FloatOf(0), "live": value.BoolOf(false), "note": value.TextOf(""),
	}
	for k, w := range zeros {
		if !value.Equal(vals[k], w) {
			t.Errorf("%s = %v, want %v", k, vals[k], w)
		}
	}
	// Go values stored through encoding/json are documents, even when nil.
	for _, k := range []string{"tags", "attrs", "any", "ptr_json"} {
		if v := vals[k]; v.Type() != value.JSON || v.JSONText() != "null" {
			t.Errorf("%s = %v (%v), want the jsonb document null", k, v, v.Type())
		}
	}
	if len(vals) != len(everythingFields) {
		t.Errorf("Encode gave %d values, want one per field (%d)", len(vals), len(everythingFields))
	}
}

// normalize gives the struct that a round trip must give back: times in UTC
// truncated to microseconds, raw JSON compacted, any decoded by encoding/json.
func normalize(e Everything) Everything {
	trunc := func(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }
	e.CreatedAt = trunc(e.CreatedAt)
	if e.UpdatedAt != nil {
		e.UpdatedAt = ptr(trunc(*e.UpdatedAt))
	}
	e.At = trunc(e.At)
	if e.OptAt != nil {
		e.OptAt = ptr(trunc(*e.OptAt))
	}
	if e.Raw != nil {
		v, _ := value.JSONOf(e.Raw)
		e.Raw = json.RawMessage(v.JSONText())
	}
	if e.Any != nil {
		b, _ := json.Marshal(e.Any)
		e.Any = nil
		_ = json.Unmarshal(b, &e.Any)
	}
	e.Skipped, e.hidden, e.audit.secret, e.Chan = "", "", "", nil
	return e
}

func roundTrip(t *testing.T, m *schema.Model, in Everything) Everything {
	t.Helper()
	vals, err := m.Encode(reflect.ValueOf(&in))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	// Through the wire: natural JSON, decoded with the field's type.
	for _, f := range m.Collection.Fields {
		b, err := vals[f.Name].MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		v, err := value.Decode(b, f.Type)
		if err != nil {
			t.Fatalf("%s: Decode(%s, %v): %v", f.Name, b, f.Type, err)
		}
		vals[f.Name] = v
	}
	id := event.NewID()
	var out Everything
	if err := m.Decode(id, vals, reflect.ValueOf(&out)); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if out.ID != id {
		t.Errorf("ID = %v, want %v", out.ID, id)
	}
	out.ID = event.ID{}
	return out
}

func TestModelRoundTrip(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	at := time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("X", 5*3600+1800))
	samples := map[string]Everything{
		"full":  everythingSample(),
		"zeros": {},
		"nils and nanoseconds": {
			Timestamps: Timestamps{CreatedAt: at},
			OptAt:      ptr(at),
			At:         at,
			Data:       []byte{},
			Raw:        json.RawMessage(" [ 1 ,\n 2 ] "),
			Tags:       []string{},
			Attrs:      map[string]int{},
			Ratio:      float32(math.Inf(1)),
			Score:      math.Copysign(0, -1),
			OptScore:   ptr(math.MaxFloat64),
			Any:        []any{1.5, "x", nil},
			Subtitle:   ptr("sub"),
			OptInt:     ptr(int64(math.MinInt64)),
			OptLive:    ptr(true),
		},
	}
	for name, in := range samples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := roundTrip(t, m, in)
			want := normalize(in)
			if !reflect.DeepEqual(out, want) {
				t.Errorf("round trip:\n got %#v\nwant %#v", out, want)
			}
		})
	}
}

func TestModelRoundTripNaN(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	out := roundTrip(t, m, Everything{Score: math.NaN(), Ratio: float32(math.NaN()), OptScore: ptr(math.Inf(1))})
	if !math.IsNaN(out.Score) || !math.IsNaN(float64(out.Ratio)) || out.OptScore == nil || !math.IsInf(*out.OptScore, 1) {
		t.Errorf("got %v %v %v", out.Score, out.Ratio, out.OptScore)
	}
}

// Decode sets every field: absent values reset fields of a reused struct.
func TestModelDecodeResets(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	out := everythingSample()
	out.Skipped = "kept"
	id := event.NewID()
	if err := m.Decode(id, nil, reflect.ValueOf(&out)); err != nil {
		t.Fatal(err)
	}
	want := Everything{ID: id, Skipped: "kept"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Decode(nil values) into a used struct:\n got %#v\nwant %#v", out, want)
	}
	// Explicit NULLs do the same.
	out = everythingSample()
	nulls := map[string]value.Value{}
	for _, f := range m.Collection.Fields {
		nulls[f.Name] = value.NullValue
	}
	if err := m.Decode(id, nulls, reflect.ValueOf(&out)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, Everything{ID: id}) {
		t.Errorf("Decode(NULLs) = %#v", out)
	}
	// Values for unknown fields are ignored.
	if err := m.Decode(id, map[string]value.Value{"unknown": value.IntOf(1)}, reflect.ValueOf(&out)); err != nil {
		t.Error(err)
	}
}

// Decode converts values whose type was inferred (from JSON without a schema).
func TestModelDecodeConverts(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	at := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	vals := map[string]value.Value{
		"at":     value.TextOf("2024-01-02T04:04:05.000006+01:00"),
		"data":   value.TextOf(`\x0102`),
		"artist": value.TextOf("01HZX3K9Q8J7M6N5P4R3S2T1V0"),
		"owner":  value.TextOf("01HZX3K9Q8J7M6N5P4R3S2T1V2"),
		"score":  value.IntOf(3),
		"count":  value.FloatOf(4),
		"tags":   value.TextOf("not json"), // text → jsonb document "not json" → fails []string
	}
	var out Everything
	err := m.Decode(event.NewID(), vals, reflect.ValueOf(&out))
	if err == nil || !strings.Contains(err.Error(), "everything.tags") {
		t.Fatalf("Decode with a string for []string: %v", err)
	}
	delete(vals, "tags")
	if err := m.Decode(event.NewID(), vals, reflect.ValueOf(&out)); err != nil {
		t.Fatal(err)
	}
	if !out.At.Equal(at) || string(out.Data) != "\x01\x02" || out.Artist.ID.String() != "01HZX3K9Q8J7M6N5P4R3S2T1V0" ||
		out.Owner.String() != "01HZX3K9Q8J7M6N5P4R3S2T1V2" || out.Score != 3 || out.Count != 4 {
		t.Errorf("got %+v", out)
	}
}

func TestModelDecodeErrors(t *testing.T) {
	t.Parallel()
	m := model(t, Everything{})
	cases := []struct {
		field string
		v     value.Value
	}{
		{"i8", value.IntOf(math.MaxInt8 + 1)},
		{"i8", value.IntOf(math.MinInt8 - 1)},
		{"i16", value.IntOf(math.MaxInt16 + 1)},
		{"i32", value.IntOf(math.MinInt32 - 1)},
		{"u8", value.IntOf(256)},
		{"u8", value.IntOf(-1)},
		{"u16", value.IntOf(1 << 16)},
		{"u16", value.IntOf(-1)},
		{"u32", value.IntOf(1 << 32)},
		{"u32", value.IntOf(math.MinInt64)},
		{"ratio", value.FloatOf(1e300)},
		{"ratio", value.FloatOf(-1e39)},
		{"count", value.FloatOf(2.5)},
		{"count", value.TextOf("3")},
		{"count", value.BoolOf(true)},
		{"title", value.IntOf(1)},
		{"live", value.IntOf(1)},
		{"at", value.TextOf("yesterday")},
		{"at", value.IntOf(1700000000)},
		{"data", value.TextOf("not base64!")},
		{"artist", value.TextOf("not an id")},
		{"artist", value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1VU")},
		{"co_artist", value.RefOf("bad")},
		{"owner", value.RefOf("")},
		{"attrs", value.TextOf("x")},
		{"where", mustJSONValue(t, `[1,2]`)},
		{"opt_int", value.FloatOf(0.5)},
	}
	for _, c := range cases {
		var out Everything
		err := m.Decode(event.NewID(), map[string]value.Value{c.field: c.v}, reflect.ValueOf(&out))
		if err == nil {
			t.Errorf("Decode(%s = %v) succeeded: %+v", c.field, c.v, out)
			continue
		}
		if !strings.Contains(err.Error(), "everything."+c.field) {
			t.Errorf("Decode(%s = %v) error %q does not name the field", c.field, c.v, err)
		}
	}
	// Boundaries that fit.
	fits := map[string]value.Value{
		"i8": value.IntOf(math.MaxInt8), "u8": value.IntOf(0), "u16": value.IntOf(math.MaxUint16),
		"u32": value.IntOf(math.MaxUint32), "i32": value.IntOf(math.MinInt32),
		"ratio": value.FloatOf(math.MaxFloat32),
	}
	var out Everything
	if err := m.Decode(event.NewID(), fits, reflect.ValueOf(&out)); err != nil {
		t.Fatal(err)
	}
	if out.I8 != math.MaxInt8 || out.U16 != math.MaxUint16 || out.U32 != math.MaxUint32 || out.I32 != math.MinInt32 || out.Ratio != math.MaxFloat32 {
		t.Errorf("got %+v", out)
	}
	// Any document decodes into json.RawMessage.
	if err := m.Decode(event.NewID(), map[string]value.Value{"raw": value.IntOf(1)}, reflect.ValueOf(&out)); err != nil || string(out.Raw) != "1" {
		t.Errorf("raw = %s, %v", out.Raw, err)
	}
}

func mustJSONValue(t *testing.T, s string) value.Value {
	t.Helper()
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestModelEncodeErrors(t *testing.T) {
	t.Parallel()
	type WithChan struct {
		C chan int `ankurah:",json"`
	}
	m := model(t, WithChan{}) // the tag makes any type a jsonb field...
	if f, ok := m.Collection.Field("c"); !ok || f.Type != value.JSON {
		t.Fatalf("fields %+v", m.Collection.Fields)
	}
	_, err := m.Encode(reflect.ValueOf(&WithChan{C: make(chan int)})) // ...which encoding/json may refuse
	if err == nil || !strings.Contains(err.Error(), "with_chan.c") {
		t.Errorf("Encode(chan): %v", err)
	}
	type WithBadRaw struct{ R json.RawMessage }
	_, err = model(t, WithBadRaw{}).Encode(reflect.ValueOf(&WithBadRaw{R: json.RawMessage("{bad")}))
	if err == nil || !strings.Contains(err.Error(), "with_bad_raw.r") {
		t.Errorf("Encode(bad raw JSON): %v", err)
	}
}

// A struct value (not a pointer) can be encoded when it has no Ref fields.
func TestModelEncodeByValue(t *testing.T) {
	t.Parallel()
	type Plain struct {
		ID    event.ID
		Name  string
		At    time.Time
		Owner event.ID
		Tags  []string
		N     *int
	}
	m := model(t, Plain{})
	vals, err := m.Encode(reflect.ValueOf(Plain{Name: "x", Owner: event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V0"), N: ptr(2)}))
	if err != nil {
		t.Fatal(err)
	}
	if vals["name"].Text() != "x" || vals["owner"].Text() != "01HZX3K9Q8J7M6N5P4R3S2T1V0" || vals["n"].Int() != 2 || !vals["at"].IsNull() {
		t.Errorf("Encode by value = %v", vals)
	}
}

func TestEncodeByValueWithRef(t *testing.T) {
	t.Parallel()
	type Song struct {
		Artist schema.Ref[Artist]
	}
	m := model(t, Song{})
	vals, err := m.Encode(reflect.ValueOf(Song{Artist: schema.RefTo[Artist](event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V0"))}))
	if err != nil || vals["artist"].Text() != "01HZX3K9Q8J7M6N5P4R3S2T1V0" {
		t.Errorf("Encode = %v, %v", vals, err)
	}
}

func TestModelOfErrors(t *testing.T) {
	t.Parallel()
	type ChanField struct{ Events chan int }
	type FuncField struct{ Callback func() }
	type IfaceField struct{ Anything any }
	type ComplexField struct{ Z complex128 }
	type Uint64Field struct{ Big uint64 }
	type UintField struct{ Big uint }
	type UintptrField struct{ P uintptr }
	type PtrPtrField struct{ PP **int }
	type PtrSliceField struct{ PS *[]string }
	type IDString struct{ ID string }
	type IDPtr struct{ ID *event.ID }
	type IdInt struct{ Id int }
	type TaggedID struct {
		Key string `ankurah:"id"`
	}
	type BadTag struct {
		X string `ankurah:"Bad\tName"`
	}
	type SystemTag struct {
		X string `ankurah:"_system"`
	}
	type LongName struct {
		X string `ankurah:"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`
	}
	type Duplicate struct {
		Name  string
		Title string `ankurah:"name"`
	}
	type DuplicateEmbedded struct {
		Timestamps
		CreatedAt time.Time
	}
	type inner struct{ Bad chan int }
	type BadEmbedded struct{ inner }
	type XminTag struct {
		X string `ankurah:"xmin"`
	}

	cases := []struct {
		v        any
		mentions []string
	}{
		{ChanField{}, []string{"Events", "chan int", "not supported"}},
		{FuncField{}, []string{"Callback", "not supported"}},
		{IfaceField{}, []string{"Anything", "not supported", ",json"}},
		{ComplexField{}, []string{"Z", "complex128"}},
		{Uint64Field{}, []string{"Big", "uint64"}},
		{UintField{}, []string{"Big", "uint"}},
		{UintptrField{}, []string{"P", "uintptr"}},
		{PtrPtrField{}, []string{"PP"}},
		{IDString{}, []string{"ID", "event.ID"}},
		{IDPtr{}, []string{"ID", "event.ID"}},
		{IdInt{}, []string{"Id", "event.ID"}},
		{TaggedID{}, []string{"Key", "id"}},
		{BadTag{}, []string{"control character"}},
		{SystemTag{}, []string{"_system", "reserved"}},
		{LongName{}, []string{"63"}},
		{Duplicate{}, []string{"name", "twice"}},
		{DuplicateEmbedded{}, []string{"created_at", "twice"}},
		{BadEmbedded{}, []string{"Bad", "chan"}},
		{XminTag{}, []string{"xmin", "system column"}},
		{struct{ X int }{}, []string{"collection name"}}, // an anonymous struct has no name
		{42, []string{"struct", "int"}},
		{"x", []string{"struct"}},
		{[]Artist{}, []string{"struct"}},
		{new(*Artist), []string{"struct"}},
	}
	for _, c := range cases {
		m, err := schema.ModelOf(reflect.TypeOf(c.v))
		if err == nil {
			t.Errorf("ModelOf(%T) = %+v, want an error", c.v, m.Collection)
			continue
		}
		for _, s := range c.mentions {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("ModelOf(%T) error %q does not mention %q", c.v, err, s)
			}
		}
	}
	// *[]string is an optional jsonb field, not an error.
	if c := model(t, PtrSliceField{}).Collection; len(c.Fields) != 1 || c.Fields[0].Type != value.JSON {
		t.Errorf("PtrSliceField → %+v", c)
	}
}

// Fields skipped with "-" or unexported may have any type.
func TestModelOfSkipsFields(t *testing.T) {
	t.Parallel()
	type Skips struct {
		ID      event.ID
		Name    string
		C       chan int `ankurah:"-"`
		f       func()
		private complex64
	}
	c := model(t, Skips{}).Collection
	if len(c.Fields) != 1 || c.Fields[0] != (schema.Field{Name: "name", Type: value.Text}) {
		t.Errorf("fields %+v", c.Fields)
	}
	_ = Skips{}.f
	_ = Skips{}.private
}

// An embedded struct holding the ID works like a top-level ID.
func TestModelEmbeddedID(t *testing.T) {
	t.Parallel()
	type Base struct {
		ID        event.ID
		CreatedAt time.Time
	}
	type Post struct {
		Base
		Body string
	}
	m := model(t, Post{})
	want := []schema.Field{{Name: "created_at", Type: value.Time}, {Name: "body", Type: value.Text}}
	if !reflect.DeepEqual(m.Collection.Fields, want) {
		t.Errorf("fields %+v", m.Collection.Fields)
	}
	id := event.NewID()
	var p Post
	if err := m.Decode(id, map[string]value.Value{"body": value.TextOf("hi")}, reflect.ValueOf(&p)); err != nil {
		t.Fatal(err)
	}
	if p.ID != id || p.Body != "hi" {
		t.Errorf("got %+v", p)
	}
	// An embedded struct with a tag is one jsonb field; embedded time.Time is a time field.
	type Tagged struct {
		Base `ankurah:"base"`
		time.Time
	}
	c := model(t, Tagged{}).Collection
	if want := []schema.Field{{Name: "base", Type: value.JSON}, {Name: "time", Type: value.Time}}; !reflect.DeepEqual(c.Fields, want) {
		t.Errorf("Tagged fields %+v", c.Fields)
	}
}
