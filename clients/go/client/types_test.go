package client_test

import (
	"testing"
	"time"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

type Mood string

func (Mood) EnumLabels() []string { return []string{"sad", "ok", "happy"} }

// Gig has fields of the types beyond the first eight.
type Gig struct {
	Price  schema.Decimal `ankurah:"price,type=numeric(10,2)"`
	Venue  schema.UUID
	Day    schema.Date
	Doors  schema.TimeOfDay
	Starts time.Time `ankurah:",type=timestamp"`
	Length schema.Interval
	Mood   Mood
	Tags   []string `ankurah:",type=text[]"`
}

// A Go client writes, reads and queries every type through a server, on
// every backend: its optimistic local view and the server agree.
func TestClientTypes(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			env := servertest.Start(t, kind, servertest.Options{})
			c := dial(t, env.URL, client.Options{})
			gigs, err := client.Register[Gig](ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			in := Gig{Price: "19.999", Venue: schema.UUID{0xa0, 0xee}, Day: schema.Date{Year: 2024, Month: 2, Day: 29},
				Doors: schema.TimeOfDay(19*time.Hour + 30*time.Minute), Starts: time.Date(2024, 2, 29, 20, 0, 0, 0, time.UTC),
				Length: schema.Interval{Days: 0, Micros: 5400e6}, Mood: "happy", Tags: []string{"loud", ""}}
			tx := c.Begin()
			m, err := gigs.Create(tx, in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := gigs.Get(ctx, m.ID())
			if err != nil {
				t.Fatal(err)
			}
			want := in
			want.Price = "20.00" // numeric(10,2) rounds
			if v := got.Value(); v.Price != want.Price || v.Venue != want.Venue || v.Day != want.Day || v.Doors != want.Doors ||
				!v.Starts.Equal(want.Starts) || v.Length != want.Length || v.Mood != want.Mood || len(v.Tags) != 2 || v.Tags[1] != "" {
				t.Fatalf("read back %+v, want %+v", v, want)
			}
			day, _ := value.DateOf(2024, 2, 29)
			length := value.IntervalOf(0, 0, 5400e6)
			tags, _ := value.ParseArrayText(`{loud,""}`, mustType(t, "text[]"))
			for _, q := range []struct {
				src  string
				args []any
			}{
				{"price = ?", []any{mustNumeric(t, "20")}},
				{"price > 19.99 AND price < 20.01", nil},
				{"venue = ?", []any{value.UUIDOf([16]byte{0xa0, 0xee})}},
				{"day = ?", []any{day}},
				{"doors > '19:00' AND doors <= '19:30:00'", nil},
				{"starts = ?", []any{time.Date(2024, 2, 29, 20, 0, 0, 0, time.UTC)}},
				{"length = ?", []any{length}},
				{"length = 'PT90M'", nil},
				{"mood > 'ok'", nil},
				{"tags = ?", []any{tags}},
			} {
				res, err := gigs.Fetch(ctx, q.src, q.args...)
				if err != nil || len(res) != 1 {
					t.Errorf("fetch %s %v: %d results, %v", q.src, q.args, len(res), err)
				}
			}
		})
	}
}

func mustType(t testing.TB, s string) value.Type {
	t.Helper()
	ty, err := value.ParseType(s)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

func mustNumeric(t testing.TB, s string) value.Value {
	t.Helper()
	v, err := value.NumericOf(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
