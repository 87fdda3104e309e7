package sqlite_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage/sqlite"
	"github.com/ankurah/ankurah-go/value"
)

func mustJSON(s string) value.Value {
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}

func mustParseType(s string) value.Type {
	t, err := value.ParseType(s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustFrom(s string, t value.Type) value.Value {
	v, err := value.FromText(s, t)
	if err != nil {
		panic(err)
	}
	return v
}

func mustArray(t string, es ...value.Value) value.Value {
	v, err := value.ArrayOf(mustParseType(t), es)
	if err != nil {
		panic(err)
	}
	return v
}

// Every value reads back equal (floats bit for bit) from its column, also
// after reopening, and is stored in the SQLite storage class codec.go
// documents, so that SQL over the file sees what it expects.
func TestValuesRoundTrip(t *testing.T) {
	cases := []struct {
		v       value.Value
		class   string // typeof() of the column
		inexact bool   // the event's natural JSON cannot carry it exactly
	}{
		{v: value.TextOf(""), class: "text"},
		{v: value.TextOf("héllo 'q' \"dq\" \\ end"), class: "text"},
		{v: value.RefOf(event.NewID().String()), class: "text"},
		{v: value.IntOf(math.MinInt64), class: "integer"},
		{v: value.IntOf(math.MaxInt64), class: "integer"},
		{v: value.BoolOf(true), class: "integer"},
		{v: value.BoolOf(false), class: "integer"},
		{v: value.FloatOf(1.5), class: "real"},
		{v: value.FloatOf(3), class: "real"}, // SQLite keeps it as an integer on disk
		{v: value.FloatOf(math.MaxFloat64), class: "real"},
		{v: value.FloatOf(math.SmallestNonzeroFloat64), class: "real"},
		{v: value.FloatOf(math.Inf(1)), class: "real"},
		{v: value.FloatOf(math.Inf(-1)), class: "real"},
		{v: value.FloatOf(math.Copysign(0, -1)), class: "blob"},
		{v: value.FloatOf(math.NaN()), class: "blob"},
		{v: value.FloatOf(math.Float64frombits(0xfff8000000000000)), class: "blob", inexact: true}, // x86's 0/0
		{v: value.BytesOf(nil), class: "blob"},
		{v: value.BytesOf([]byte{0, 1, 0xff}), class: "blob"},
		{v: value.TimeOf(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)), class: "text"},
		{v: value.TimeOf(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)), class: "text"},
		{v: value.TimeOf(time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", -3600))), class: "text"},
		{v: mustJSON(`123`), class: "text"},
		{v: mustJSON(`"s"`), class: "text"},
		{v: mustJSON(`{"b": 1.50, "a": [true, null, "x"]}`), class: "text"},
		// The jsonb document null is stored as NULL (storage.Conform), so it has no row here.
		// The types beyond the first eight.
		{v: value.RealOf(0.1), class: "real"},
		{v: value.RealOf(float32(math.Copysign(0, -1))), class: "blob"},
		{v: value.RealOf(float32(math.Inf(-1))), class: "real"},
		{v: mustFrom("1.50", value.Numeric), class: "text"},
		{v: mustFrom("-12345678901234567890.123456789", value.Numeric), class: "text"},
		{v: mustFrom("NaN", value.Numeric), class: "text"},
		{v: mustFrom("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", value.UUID), class: "text"},
		{v: mustFrom("0001-01-01", value.Date), class: "text"},
		{v: mustFrom("24:00:00", value.TimeOfDay), class: "text"},
		{v: mustFrom("12:34:56.000001", value.TimeOfDay), class: "text"},
		{v: mustFrom("2024-01-02T03:04:05.5", value.Timestamp), class: "text"},
		{v: mustFrom("P1Y-2M3DT-4H5M-6.5S", value.Interval), class: "text"},
		{v: value.CharOf("a  "), class: "text"},
		{v: mustFrom("ok", mustParseType("enum('sad', 'ok', 'happy')")), class: "text"},
		{v: mustArray("integer[]", value.IntOf(1), value.NullValue), class: "text"},
		{v: mustArray("text[]", value.TextOf(`"q"`), value.TextOf("")), class: "text"},
		{v: mustArray("numeric[]"), class: "text"},
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	coll := schema.Collection{Name: "v"}
	ops := map[string]value.Value{}
	for i, c := range cases {
		f := fmt.Sprintf("c%02d", i)
		coll.Fields = append(coll.Fields, schema.Field{Name: f, Type: c.v.Type()})
		ops[f] = c.v
	}
	if _, err := s.EnsureCollection(ctx, coll); err != nil {
		t.Fatal(err)
	}
	full := create("v", ops)
	empty := create("v", nil)
	mustCommit(t, s, full, empty)

	check := func(t *testing.T, s *sqlite.Store) {
		got, err := s.Get(ctx, "v", []event.ID{full.ID, empty.ID})
		if err != nil || len(got) != 2 {
			t.Fatalf("get: %v %v", got, err)
		}
		if len(got[1].Values) != 0 {
			t.Errorf("entity without values reads %v", got[1].Values)
		}
		hist, err := s.History(ctx, "v", full.ID)
		if err != nil || len(hist) != 1 {
			t.Fatalf("history: %v %v", hist, err)
		}
		for i, c := range cases {
			f := fmt.Sprintf("c%02d", i)
			if g := got[0].Values[f]; !value.Equal(g, c.v) || math.Float64bits(g.Float()) != math.Float64bits(c.v.Float()) {
				t.Errorf("%s %s: column reads %v, want %v", f, c.v.Type(), g, c.v)
			}
			if g := hist[0].Ops[f]; !c.inexact && !value.Equal(g, c.v) {
				t.Errorf("%s %s: event reads %v, want %v", f, c.v.Type(), g, c.v)
			}
			var class string
			if err := s.DB().QueryRowContext(ctx, fmt.Sprintf("select typeof(%s) from v where id = ?", f), full.ID.String()).Scan(&class); err != nil {
				t.Fatal(err)
			}
			if class != c.class {
				t.Errorf("%s %s %v: stored as %s, want %s", f, c.v.Type(), c.v, class, c.class)
			}
		}
	}
	t.Run("open", func(t *testing.T) { check(t, s) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("reopened", func(t *testing.T) { check(t, open(t, path, sqlite.Options{})) })
}

// Times are stored as text that sorts like the times, so SQL range queries
// and ORDER BY over the file work.
func TestTimeTextOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 10000, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if _, err := s.EnsureCollection(ctx, schema.Collection{Name: "when"}); err != nil {
		t.Fatal(err)
	}
	for i := len(times) - 1; i >= 0; i-- {
		mustCommit(t, s, create("when", map[string]value.Value{"at": value.TimeOf(times[i])}))
	}
	rows, err := s.DB().QueryContext(ctx, "select at from \"when\" order by at")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var at string
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		if want := times[i].Format(value.TimeLayout); at != want {
			t.Errorf("row %d: %s, want %s", i, at, want)
		}
	}
	if i != len(times) {
		t.Fatalf("%d rows", i)
	}
}
