package value_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/value"
)

// The text forms of package value are Postgres's: for each input, the
// canonical form Go computes is what Postgres prints, and what Go refuses
// Postgres refuses too (except where documented: the exponent bound of
// ParseNumeric, and years outside 0001–9999). Skips without a database.
func TestTextFormsAgreeWithPostgres(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// The settings whose defaults Postgres's output depends on, set
	// otherwise on purpose: the JSON forms must not depend on them.
	if _, err := conn.Exec(ctx, "set datestyle = 'SQL, DMY'; set intervalstyle = postgres_verbose; set timezone = 'Asia/Kathmandu'; set extra_float_digits = 0"); err != nil {
		t.Fatal(err)
	}
	pgText := func(sql string, arg any) (string, error) {
		var s string
		err := conn.QueryRow(ctx, sql, arg).Scan(&s)
		return s, err
	}

	t.Run("numeric", func(t *testing.T) {
		inputs := []string{"1e1001", "0.000", "-0.5e-3", "12.3400", "7e0", "9.99999999999999999999999999e25"}
		for _, c := range numericCases {
			inputs = append(inputs, c.in)
		}
		for _, in := range inputs {
			got, gerr := value.ParseNumeric(in)
			want, perr := pgText("select $1::numeric::text", in)
			if (gerr == nil) != (perr == nil) || gerr == nil && got != want {
				t.Errorf("numeric %q: Go %q (%v), Postgres %q (%v)", in, got, gerr, want, perr)
			}
			if gerr != nil {
				continue
			}
			// Its JSON form is what to_jsonb's text gives (a string).
			v, _ := value.NumericOf(in)
			j, _ := pgText("select to_jsonb($1::numeric::text)::text", in)
			if string(v.AppendJSON(nil)) != j {
				t.Errorf("numeric %q: JSON %s, Postgres %s", in, v.AppendJSON(nil), j)
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			in := randomDecimal(r)
			p := 1 + r.IntN(12)
			s := r.IntN(8) - 3
			got, gerr := value.RoundNumeric(mustNumeric(t, in), p, s)
			want, perr := pgText("select $1::numeric("+strconv.Itoa(p)+","+strconv.Itoa(s)+")::text", in)
			if (gerr == nil) != (perr == nil) || gerr == nil && got != want {
				t.Errorf("%s::numeric(%d,%d): Go %q (%v), Postgres %q (%v)", in, p, s, got, gerr, want, perr)
			}
		}
	})

	t.Run("interval", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for range 500 {
			m, d, us := randomInterval(r)
			v := value.IntervalOf(m, d, us)
			// Build it from its parts in SQL and print it in iso_8601.
			var want string
			err := conn.QueryRow(ctx, `select (make_interval(months => $1, days => $2) + $3::bigint * interval '1 microsecond')::text
				from (select set_config('intervalstyle', 'iso_8601', false)) s`, m, d, us).Scan(&want)
			if err != nil {
				t.Fatal(err)
			}
			got := string(v.AppendJSON(nil))
			if got != strconv.Quote(want) {
				t.Errorf("interval (%d mon, %d d, %d µs): Go %s, Postgres %q", m, d, us, got, want)
			}
			// Postgres reads the form back to the same parts.
			var pm, pd int32
			var pus int64
			if err := conn.QueryRow(ctx, `select m, d, (extract(epoch from i - make_interval(months => m, days => d)) * 1000000)::bigint
				from (select i, (extract(year from i) * 12 + extract(month from i))::int m, extract(day from i)::int d
				      from (select $1::interval i) s) s`, v.PGText()).Scan(&pm, &pd, &pus); err != nil {
				t.Fatal(err)
			}
			if pm != m || pd != d || pus != us {
				t.Errorf("Postgres reads %q as (%d, %d, %d), want (%d, %d, %d)", v.PGText(), pm, pd, pus, m, d, us)
			}
			back, err := value.FromText(want, value.Interval)
			if err != nil || !value.Equal(back, v) {
				t.Errorf("FromText(%q) = %v, %v; want %v", want, back, err, v)
			}
		}
		if _, err := conn.Exec(ctx, "set intervalstyle = postgres_verbose"); err != nil {
			t.Fatal(err)
		}
		// Comparisons: Postgres's interval_cmp against the spans.
		for range 500 {
			a := value.IntervalOf(randomInterval(r))
			b := value.IntervalOf(randomInterval(r))
			if r.IntN(4) == 0 {
				m, d, us := a.Interval()
				b = value.IntervalOf(0, d+30*m, us) // equal span, other parts
			}
			var c int
			if err := conn.QueryRow(ctx, `select case when $1::interval < $2::interval then -1 when $1::interval = $2::interval then 0 else 1 end`,
				a.PGText(), b.PGText()).Scan(&c); err != nil {
				t.Fatal(err)
			}
			ad, ar := a.IntervalSpan()
			bd, br := b.IntervalSpan()
			g := cmp2(ad, bd, ar, br)
			if g != c {
				t.Errorf("compare %v with %v: spans say %d, Postgres %d", a, b, g, c)
			}
		}
	})

	t.Run("datetime", func(t *testing.T) {
		cases := []struct{ typ, in string }{
			{"date", "2024-01-02"}, {"date", "0001-01-01"}, {"date", "9999-12-31"}, {"date", "2000-02-29"},
			{"time", "00:00:00"}, {"time", "12:34:56.5"}, {"time", "23:59:59.999999"}, {"time", "24:00:00"}, {"time", "01:02"},
			{"timestamp", "2024-01-02 03:04:05"}, {"timestamp", "2024-01-02T03:04:05.000001"}, {"timestamp", "0001-01-01 00:00:00"},
			{"timestamp", "1969-12-31 23:59:59.5"}, {"timestamp", "9999-12-31 23:59:59.999999"},
			{"uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}, {"uuid", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"},
			{"uuid", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"},
		}
		for _, c := range cases {
			ty := mustType(t, c.typ)
			v, err := value.FromText(c.in, ty)
			if err != nil {
				t.Errorf("FromText(%q, %s): %v", c.in, c.typ, err)
				continue
			}
			want, err := pgText("select to_jsonb($1::"+c.typ+")::text", c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(v.AppendJSON(nil)); got != want {
				t.Errorf("%s %q: Go %s, to_jsonb %s", c.typ, c.in, got, want)
			}
			// Postgres reads the input form back to the same value.
			again, err := pgText("select to_jsonb($1::"+c.typ+")::text", v.PGText())
			if err != nil || again != want {
				t.Errorf("%s: Postgres reads %q as %s (%v), want %s", c.typ, v.PGText(), again, err, want)
			}
		}
	})

	t.Run("real", func(t *testing.T) {
		// to_jsonb prints floats by extra_float_digits: the triggers pin 1
		// (shortest exact), which is what Go writes.
		if _, err := conn.Exec(ctx, "set extra_float_digits = 1"); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(5, 6))
		for range 300 {
			f := math.Float32frombits(r.Uint32())
			if math.IsNaN(float64(f)) {
				continue
			}
			v := value.RealOf(f)
			var same bool
			if err := conn.QueryRow(ctx, "select $1::jsonb = to_jsonb($2::real)", string(v.AppendJSON(nil)), float64(f)).Scan(&same); err != nil {
				t.Fatal(err)
			}
			if !same {
				t.Errorf("real %v: Go JSON %s differs from to_jsonb", f, v.AppendJSON(nil))
			}
		}
	})

	t.Run("arrays", func(t *testing.T) {
		cases := []struct{ typ, in string }{
			{"integer[]", "{1,NULL,-3}"}, {"text[]", `{"a b","x\"y",NULL,"NULL","",\\,é}`}, {"numeric[]", "{1.50,NaN,-0}"},
			{"date[]", "{2024-01-02,NULL}"}, {"bytea[]", `{"\\x00ff"}`}, {"boolean[]", "{t,f}"}, {"char(2)[]", "{a,bc}"},
			{"uuid[]", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"}, {"interval[]", "{P1M,PT-1S}"}, {"jsonb[]", `{"{\"a\": [1]}",null}`},
		}
		for _, c := range cases {
			ty := mustType(t, c.typ)
			want, err := pgText("select $1::"+c.typ+"::text", c.in)
			if err != nil {
				t.Fatal(err)
			}
			v, err := value.ParseArrayText(c.in, ty)
			if err != nil {
				t.Errorf("ParseArrayText(%q, %s): %v", c.in, c.typ, err)
				continue
			}
			v, err = value.Convert(v, ty)
			if err != nil {
				t.Errorf("Convert(%v, %s): %v", v, c.typ, err)
				continue
			}
			again, err := pgText("select $1::"+c.typ+"::text", v.PGText())
			if err != nil || again != want {
				t.Errorf("%s %q: Postgres reads our %q as %q (%v), want %q", c.typ, c.in, v.PGText(), again, err, want)
			}
		}
	})
}

func cmp2(ad, bd, ar, br int64) int {
	switch {
	case ad < bd || ad == bd && ar < br:
		return -1
	case ad == bd && ar == br:
		return 0
	}
	return 1
}

func mustNumeric(t testing.TB, s string) string {
	c, err := value.ParseNumeric(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomDecimal(r *rand.Rand) string {
	s := ""
	if r.IntN(3) == 0 {
		s = "-"
	}
	s += strconv.Itoa(r.IntN(100000))
	if r.IntN(2) == 0 {
		s += "." + strconv.Itoa(r.IntN(100000))
	}
	if r.IntN(4) == 0 {
		s += "e" + strconv.Itoa(r.IntN(10)-5)
	}
	return s
}

func randomInterval(r *rand.Rand) (int32, int32, int64) {
	pick := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	m := int32(pick(0, 0, 1, -1, 11, 12, 13, -13, 25, 1200, -1201))
	d := int32(pick(0, 0, 1, -1, 29, 30, 31, -30, 400))
	us := pick(0, 0, 1, -1, 500000, -500000, 1500000, -1500000, 86400e6, -86400e6, 3600e6, -5400e6, 90061000001, -90061000001) + r.Int64N(3)
	return m, d, us
}
