package schema_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

type Mood string

func (Mood) EnumLabels() []string { return []string{"sad", "ok", "happy"} }

type UUID [16]byte // stands for github.com/google/uuid.UUID

// Typed holds a field of every type beyond the first eight, through Go
// types and through type= tags.
type Typed struct {
	Price    schema.Decimal   `ankurah:"price,type=numeric(10,2)"`
	Exact    schema.Decimal   // numeric
	Approx   float64          `ankurah:",type=numeric"`
	Small    int16            `ankurah:",type=smallint"`
	Count    int              `ankurah:",type=integer"`
	Ratio    float32          `ankurah:",type=real"`
	Code     string           `ankurah:",type=char(3)"`
	Short    string           `ankurah:",type=varchar(5)"`
	ID2      schema.UUID      `ankurah:"ref_id"`
	Other    UUID             // a [16]byte named UUID
	UUIDText string           `ankurah:",type=uuid"`
	Born     schema.Date      // date
	BornAt   time.Time        `ankurah:",type=date"`
	Opens    schema.TimeOfDay // time
	Local    time.Time        `ankurah:",type=timestamp"`
	Precise  time.Time        `ankurah:",type=timestamptz(3)"`
	Span     schema.Interval  // interval
	Wait     time.Duration    `ankurah:",type=interval"`
	Mood     Mood             // enum
	Moods    []Mood           `ankurah:",type=enum('sad', 'ok', 'happy')[]"`
	Tags     []string         `ankurah:",type=text[]"`
	Maybe    []*int64         `ankurah:",type=bigint[]"`
	Decs     []schema.Decimal `ankurah:",type=numeric(5,2)[]"`
	When     string           `ankurah:",type=interval"`
	OptDate  *schema.Date
}

func TestModelTypedFields(t *testing.T) {
	t.Parallel()
	m, err := schema.ModelOf(reflect.TypeOf(Typed{}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"price": "numeric(10,2)", "exact": "numeric", "approx": "numeric", "small": "smallint", "count": "integer",
		"ratio": "real", "code": "char(3)", "short": "varchar(5)", "ref_id": "uuid", "other": "uuid", "uuid_text": "uuid",
		"born": "date", "born_at": "date", "opens": "time", "local": "timestamp", "precise": "timestamptz(3)",
		"span": "interval", "wait": "interval", "mood": "enum('sad', 'ok', 'happy')", "moods": "enum('sad', 'ok', 'happy')[]",
		"tags": "text[]", "maybe": "bigint[]", "decs": "numeric(5,2)[]", "when": "interval", "opt_date": "date",
	}
	for _, f := range m.Collection.Fields {
		if want[f.Name] != f.Type.String() {
			t.Errorf("field %s is %s, want %s", f.Name, f.Type, want[f.Name])
		}
	}
	if len(m.Collection.Fields) != len(want) {
		t.Errorf("%d fields, want %d", len(m.Collection.Fields), len(want))
	}
	seven := int64(7)
	in := Typed{
		Price: "1.005", Exact: "12345678901234567890.5", Approx: 0.1, Small: -3, Count: 70000, Ratio: 0.1,
		Code: "a", Short: "ab", ID2: schema.UUID{1, 2}, Other: UUID{0xff}, UUIDText: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		Born: schema.Date{2024, 2, 29}, BornAt: time.Date(1990, 5, 1, 0, 0, 0, 0, time.FixedZone("x", 5*3600)),
		Opens: schema.TimeOfDay(9*time.Hour + 30*time.Minute), Local: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Precise: time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), Span: schema.Interval{1, 2, 3},
		Wait: 90 * time.Second, Mood: "happy", Moods: []Mood{"ok", "sad"}, Tags: []string{"a", ""},
		Maybe: []*int64{&seven, nil}, Decs: []schema.Decimal{"1.005"}, When: "P1D",
	}
	vals, err := m.Encode(reflect.ValueOf(in))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := map[string]string{
		"price": `"1.01"`, "exact": `"12345678901234567890.5"`, "approx": `"0.1"`, "small": `-3`, "count": `70000`,
		"ratio": `0.1`, "code": `"a  "`, "short": `"ab"`, "ref_id": `"01020000-0000-0000-0000-000000000000"`,
		"other": `"ff000000-0000-0000-0000-000000000000"`, "uuid_text": `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`,
		"born": `"2024-02-29"`, "born_at": `"1990-05-01"`, "opens": `"09:30:00"`, "local": `"2024-01-02T03:04:05"`,
		"precise": `"2024-01-02T03:04:05.123000Z"`, "span": `"P1M2DT0.000003S"`, "wait": `"PT1M30S"`,
		"mood": `"happy"`, "moods": `["ok","sad"]`, "tags": `["a",""]`, "maybe": `[7,null]`, "decs": `["1.01"]`,
		"when": `"P1D"`, "opt_date": `null`,
	}
	for f, w := range wantJSON {
		if got := string(vals[f].AppendJSON(nil)); got != w {
			t.Errorf("Encode %s = %s, want %s", f, got, w)
		}
	}
	var out Typed
	if err := m.Decode(event.NewID(), vals, reflect.ValueOf(&out)); err != nil {
		t.Fatal(err)
	}
	again, err := m.Encode(reflect.ValueOf(out))
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range vals {
		if !value.Equal(again[f], v) {
			t.Errorf("round trip of %s: %s, then %s", f, v, again[f])
		}
	}
	if out.Maybe[1] != nil || *out.Maybe[0] != 7 || out.Code != "a  " || out.When != "P1D" || out.Wait != 90*time.Second {
		t.Errorf("decoded %+v", out)
	}
	// Values that do not fit are errors, not truncations.
	for _, bad := range []Typed{{Short: "toolong"}, {Small: 0, Count: 0, Price: "123456789"}, {Mood: "meh"}} {
		if _, err := m.Encode(reflect.ValueOf(bad)); err == nil {
			t.Errorf("Encode(%+v) succeeded", bad)
		}
	}
}

func TestModelTypeTagErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v       any
		mention string
	}{
		{struct {
			B bool `ankurah:",type=numeric"`
		}{}, "cannot hold"},
		{struct {
			S string `ankurah:",type=bigint"`
		}{}, "cannot hold"},
		{struct {
			T time.Time `ankurah:",type=interval"`
		}{}, "cannot hold"},
		{struct {
			X []string `ankurah:",type=text"`
		}{}, "cannot hold"},
		{struct {
			X []int `ankurah:",type=text[]"`
		}{}, "cannot hold"},
		{struct {
			N string `ankurah:",type=numeric(0)"`
		}{}, "precision"},
		{struct {
			N string `ankurah:",type=nope"`
		}{}, "unknown type"},
	}
	for _, c := range cases {
		_, err := schema.ModelOf(reflect.TypeOf(c.v))
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%T: %v, want an error mentioning %q", c.v, err, c.mention)
		}
	}
}
