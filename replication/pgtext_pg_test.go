package replication

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/internal/pgtest"
)

// The parsers agree with what Postgres itself prints: timestamps in
// DateStyle ISO under time zones with odd offsets (the consumer pins UTC, but
// the parser must not depend on it), and text[] with every character that
// forces quoting.
func TestParsersAgreeWithPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	stamps := []string{"2024-01-02 03:04:05.123456+00", "1850-01-01 00:00:00+00", "1969-12-31 23:59:59.999999+00",
		"0044-03-15 12:00:00+00 BC", "12345-06-07 08:09:10.5+00", "2024-03-10 10:00:00+00", "1900-06-01 12:00:00.000001+00"}
	for _, tz := range []string{"UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham", "America/Los_Angeles", "Asia/Kathmandu"} {
		if _, err := conn.Exec(ctx, "set datestyle = 'ISO, MDY'; set timezone = '"+tz+"'"); err != nil {
			t.Fatal(err)
		}
		for _, s := range stamps {
			var printed string
			var want time.Time
			if err := conn.QueryRow(ctx, "select $1::timestamptz::text, $1::timestamptz", s).Scan(&printed, &want); err != nil {
				t.Fatal(err)
			}
			got, err := parseTimestamptz(printed)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s in %s printed %q: parsed %v, %v; want %v", s, tz, printed, got, err, want)
			}
		}
	}

	arrays := [][]string{{}, {"01J0000000000000000000000A"}, {"a b", `x"y`, `back\slash`, "", "{}", ",", "NULL", "null", "\ttab", "new\nline", "日本"},
		{" lead", "trail ", "a,b", "}", "{"}}
	for _, a := range arrays {
		var printed string
		if err := conn.QueryRow(ctx, "select $1::text[]::text", a).Scan(&printed); err != nil {
			t.Fatal(err)
		}
		got, err := parseTextArray(printed)
		if err != nil || !slices.Equal(got, a) {
			t.Errorf("%q printed %s: parsed %q, %v", a, printed, got, err)
		}
		if printed != formatTextArray(a) {
			t.Errorf("formatTextArray(%q) = %s, Postgres prints %s", a, formatTextArray(a), printed)
		}
	}
}
