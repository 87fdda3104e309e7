package value

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Dates, times of day, timestamps without time zone and intervals, in the
// text forms Postgres's to_jsonb writes (which are also the ISO forms its
// input functions read whatever DateStyle and IntervalStyle say):
//
//	date       2024-01-02
//	time       03:04:05, 03:04:05.5 (fraction trimmed of trailing zeros), 24:00:00
//	timestamp  2024-01-02T03:04:05, 2024-01-02T03:04:05.123456
//	interval   ISO 8601 as IntervalStyle iso_8601 prints it: P1Y2M3DT4H5M6.5S,
//	           P-1M, PT-0.5S, PT0S (each field carries its own sign)
//
// Years are 0001–9999, as for timestamptz: the four-digit forms order as
// text, and no BC or 'infinity' value is accepted (Postgres has both; a row
// holding one is reported, not read as something else). Fractions beyond
// microseconds are truncated, as TimeOf truncates nanoseconds.

const (
	microsPerSecond = 1_000_000
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
	// MaxTimeOfDay is 24:00:00, which Postgres's time allows.
	MaxTimeOfDay = microsPerDay
)

// unixDays returns the days from 1970-01-01 to the civil date (proleptic
// Gregorian), for any year.
func unixDays(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// civil returns the date of a day number.
func civil(days int64) (y, m, d int) {
	t := time.Unix(days*86400, 0).UTC()
	return t.Year(), int(t.Month()), t.Day()
}

var (
	minDay = unixDays(1, 1, 1)
	maxDay = unixDays(9999, 12, 31)
	// Timestamps: 0001-01-01T00:00:00 to 9999-12-31T23:59:59.999999.
	minTimestamp = minDay * microsPerDay
	maxTimestamp = (maxDay+1)*microsPerDay - 1
)

// parseDate reads YYYY-MM-DD (a four-digit year, 0001–9999).
func parseDate(s string) (int64, error) {
	bad := func(why string) (int64, error) { return 0, fmt.Errorf("date %q: %s", clipString(s), why) }
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		if strings.HasSuffix(s, " BC") || s == "infinity" || s == "-infinity" || len(s) > 10 && s[4] != '-' {
			return bad("years outside 0001–9999, BC dates and infinity are not supported")
		}
		return bad("want YYYY-MM-DD")
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return bad("want YYYY-MM-DD")
	}
	if y < 1 {
		return bad("year 0000 does not exist (years are 0001–9999)")
	}
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return bad("no such day")
	}
	return unixDays(y, m, d), nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

func daysInMonth(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, m, 2)
	b = append(b, '-')
	return appendPad(b, d, 2)
}

func appendPad(b []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// parseClock reads HH:MM[:SS[.fraction]] and returns microseconds since
// midnight; 24:00:00 is allowed. Fraction digits beyond six are truncated.
func parseClock(s string) (int64, error) {
	bad := func(why string) (int64, error) { return 0, fmt.Errorf("time %q: %s", clipString(s), why) }
	if len(s) < 5 || s[2] != ':' {
		return bad("want HH:MM:SS[.ffffff]")
	}
	h, ok1 := digits(s[0:2])
	mi, ok2 := digits(s[3:5])
	if !ok1 || !ok2 {
		return bad("want HH:MM:SS[.ffffff]")
	}
	p := s[5:]
	sec, frac := 0, int64(0)
	if p != "" {
		if len(p) < 3 || p[0] != ':' {
			return bad("want HH:MM:SS[.ffffff]")
		}
		var ok bool
		if sec, ok = digits(p[1:3]); !ok {
			return bad("want HH:MM:SS[.ffffff]")
		}
		p = p[3:]
		if p != "" {
			f, err := parseFraction(p)
			if err != nil {
				return bad(err.Error())
			}
			frac = f
		}
	}
	if mi > 59 || sec > 59 {
		return bad("minutes and seconds are 00–59")
	}
	us := int64(h)*microsPerHour + int64(mi)*microsPerMinute + int64(sec)*microsPerSecond + frac
	if us > MaxTimeOfDay {
		return bad("a time of day is at most 24:00:00")
	}
	return us, nil
}

// parseFraction reads .digits (at least one) as microseconds, truncating.
func parseFraction(p string) (int64, error) {
	if len(p) < 2 || p[0] != '.' {
		return 0, fmt.Errorf("want .digits")
	}
	var us int64
	for i := 1; i < len(p); i++ {
		if !isDigit(p[i]) {
			return 0, fmt.Errorf("want .digits")
		}
		if i <= 6 {
			us = us*10 + int64(p[i]-'0')
		}
	}
	for i := len(p) - 1; i < 6; i++ {
		us *= 10
	}
	return us, nil
}

// appendClock writes HH:MM:SS and a fraction without trailing zeros.
func appendClock(b []byte, us int64) []byte {
	b = appendPad(b, int(us/microsPerHour), 2)
	b = append(b, ':')
	b = appendPad(b, int(us/microsPerMinute%60), 2)
	b = append(b, ':')
	b = appendPad(b, int(us/microsPerSecond%60), 2)
	return appendFraction(b, us%microsPerSecond)
}

// appendFraction writes .digits of a microsecond count (0 ≤ f < 1e6),
// trailing zeros trimmed; nothing for 0.
func appendFraction(b []byte, f int64) []byte {
	if f == 0 {
		return b
	}
	s := strconv.FormatInt(f+microsPerSecond, 10)[1:] // six digits
	b = append(b, '.')
	return append(b, strings.TrimRight(s, "0")...)
}

// parseTimestamp reads a date and a time separated by 'T' or a space, with
// an optional UTC offset (Z or ±HH[:MM[:SS]]): the wall-clock time, in
// microseconds since 1970-01-01T00:00:00, and whether an offset was given
// (the time then is converted to UTC).
func parseTimestamp(s string) (us int64, offset bool, err error) {
	bad := func(why string) (int64, bool, error) {
		return 0, false, fmt.Errorf("timestamp %q: %s", clipString(s), why)
	}
	if len(s) < 16 || s[10] != 'T' && s[10] != ' ' && s[10] != 't' {
		if strings.HasSuffix(s, " BC") || s == "infinity" || s == "-infinity" {
			return bad("years outside 0001–9999, BC dates and infinity are not supported")
		}
		return bad("want YYYY-MM-DDTHH:MM:SS[.ffffff]")
	}
	days, err := parseDate(s[:10])
	if err != nil {
		return 0, false, fmt.Errorf("timestamp %q: %v", clipString(s), err)
	}
	clock := s[11:]
	zone := ""
	if i := strings.IndexAny(clock, "Zz+-"); i >= 0 {
		clock, zone = clock[:i], clock[i:]
	}
	c, err := parseClock(clock)
	if err != nil {
		return 0, false, fmt.Errorf("timestamp %q: %v", clipString(s), err)
	}
	if c == MaxTimeOfDay {
		return bad("24:00:00 is a time of day, not of a timestamp")
	}
	us = days*microsPerDay + c
	if zone != "" {
		off, err := parseOffset(zone)
		if err != nil {
			return bad(err.Error())
		}
		us -= off * microsPerSecond
		offset = true
	}
	if us < minTimestamp || us > maxTimestamp {
		return bad("years are 0001–9999")
	}
	return us, offset, nil
}

// parseOffset reads Z or ±HH[:MM[:SS]] (or ±HHMM) and returns seconds east of UTC.
func parseOffset(z string) (int64, error) {
	if z == "Z" || z == "z" {
		return 0, nil
	}
	sign := int64(1)
	if z[0] == '-' {
		sign = -1
	}
	p := strings.ReplaceAll(z[1:], ":", "")
	if len(p) != 2 && len(p) != 4 && len(p) != 6 {
		return 0, fmt.Errorf("want an offset Z or ±HH[:MM[:SS]]")
	}
	n, ok := digits(p)
	if !ok {
		return 0, fmt.Errorf("want an offset Z or ±HH[:MM[:SS]]")
	}
	var h, m, sec int
	switch len(p) {
	case 2:
		h = n
	case 4:
		h, m = n/100, n%100
	case 6:
		h, m, sec = n/10000, n/100%100, n%100
	}
	if h > 15 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("offset out of range")
	}
	return sign * int64(h*3600+m*60+sec), nil
}

// appendTimestamp writes YYYY-MM-DDTHH:MM:SS[.fraction] (sep: 'T' for the
// JSON form, ' ' for Postgres input).
func appendTimestamp(b []byte, us int64, sep byte) []byte {
	days := floorDiv(us, microsPerDay)
	b = appendDate(b, days)
	b = append(b, sep)
	return appendClock(b, us-days*microsPerDay)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// roundMicros rounds a microsecond count to precision fractional digits,
// half away from zero, as Postgres's time(p), timestamp(p) and interval(p) do.
func roundMicros(us int64, precision int) int64 {
	if precision >= 6 {
		return us
	}
	scale := int64(math.Pow10(6 - precision))
	if us >= 0 {
		return (us + scale/2) / scale * scale
	}
	return -((-us + scale/2) / scale * scale)
}

// An interval is months, days and microseconds, each with its own sign,
// as in Postgres. They compare as Postgres compares them: as one span in
// which a month is 30 days and a day 24 hours (so 1 mon = 30 days).
type interval struct {
	months, days int32
	micros       int64
}

// parseInterval reads ISO 8601 as Postgres's IntervalStyle iso_8601 writes
// it: P[nY][nM][nW][nD][T[nH][nM][n[.f]S]], each n an integer with an
// optional sign, seconds with an optional fraction; at least one field.
func parseInterval(s string) (interval, error) {
	bad := func(why string) (interval, error) {
		return interval{}, fmt.Errorf("interval %q: %s", clipString(s), why)
	}
	if len(s) < 3 || s[0] != 'P' && s[0] != 'p' {
		return bad("want ISO 8601, e.g. P1Y2M3DT4H5M6.5S")
	}
	p := s[1:]
	var months, days, micros int64
	timePart, fields := false, 0
	order := "YMWD"
	for p != "" {
		if p[0] == 'T' || p[0] == 't' {
			if timePart {
				return bad("T twice")
			}
			timePart, order = true, "HMS"
			p = p[1:]
			if p == "" {
				return bad("T without a field")
			}
			continue
		}
		// A signed number, then a unit.
		i := 0
		if p[0] == '-' || p[0] == '+' {
			i++
		}
		j := i
		for i < len(p) && isDigit(p[i]) {
			i++
		}
		if i == j || i-j > 18 {
			return bad("want a number before each unit")
		}
		n, _ := strconv.ParseInt(p[:i], 10, 64)
		var frac int64
		if i < len(p) && p[i] == '.' {
			k := i
			i++
			for i < len(p) && isDigit(p[i]) {
				i++
			}
			f, err := parseFraction(p[k:i])
			if err != nil {
				return bad("bad fraction")
			}
			if p[0] == '-' {
				f = -f
			}
			frac = f
		}
		if i == len(p) {
			return bad("a number without a unit")
		}
		unit := p[i] &^ 0x20 // upper case
		k := strings.IndexByte(order, unit)
		if k < 0 {
			return bad(fmt.Sprintf("unexpected %q (fields go Y M W D, then T H M S)", p[i]))
		}
		order = order[k+1:]
		if frac != 0 && unit != 'S' {
			return bad("only seconds may have a fraction")
		}
		var ok bool
		switch {
		case !timePart && unit == 'Y':
			months, ok = addMul(months, n, 12)
		case !timePart && unit == 'M':
			months, ok = addMul(months, n, 1)
		case unit == 'W':
			days, ok = addMul(days, n, 7)
		case unit == 'D':
			days, ok = addMul(days, n, 1)
		case unit == 'H':
			micros, ok = addMul(micros, n, microsPerHour)
		case timePart && unit == 'M':
			micros, ok = addMul(micros, n, microsPerMinute)
		case unit == 'S':
			micros, ok = addMul(micros, n, microsPerSecond)
			if ok {
				micros, ok = addMul(micros, frac, 1)
			}
		}
		if !ok || months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
			return bad("out of range")
		}
		fields++
		p = p[i+1:]
	}
	if fields == 0 {
		return bad("no fields")
	}
	return interval{months: int32(months), days: int32(days), micros: micros}, nil
}

// addMul returns a + n*m, and false on overflow.
func addMul(a, n, m int64) (int64, bool) {
	if n != 0 && (n > math.MaxInt64/m || n < math.MinInt64/m) {
		return 0, false
	}
	x := n * m
	s := a + x
	if (x > 0 && s < a) || (x < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// appendInterval writes an interval exactly as Postgres's EncodeInterval
// does with IntervalStyle iso_8601.
func appendInterval(b []byte, iv interval) []byte {
	year, mon := iv.months/12, iv.months%12
	t := iv.micros
	hour := t / microsPerHour
	t -= hour * microsPerHour
	min := t / microsPerMinute
	t -= min * microsPerMinute
	sec := t / microsPerSecond
	fsec := t - sec*microsPerSecond
	if year == 0 && mon == 0 && iv.days == 0 && hour == 0 && min == 0 && sec == 0 && fsec == 0 {
		return append(b, "PT0S"...)
	}
	b = append(b, 'P')
	part := func(n int64, unit byte) {
		if n != 0 {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, unit)
		}
	}
	part(int64(year), 'Y')
	part(int64(mon), 'M')
	part(int64(iv.days), 'D')
	if hour != 0 || min != 0 || sec != 0 || fsec != 0 {
		b = append(b, 'T')
	}
	part(hour, 'H')
	part(min, 'M')
	if sec != 0 || fsec != 0 {
		if sec < 0 || fsec < 0 {
			b = append(b, '-')
		}
		b = strconv.AppendInt(b, abs64(sec), 10)
		b = appendFraction(b, abs64(fsec))
		b = append(b, 'S')
	}
	return b
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// span returns an interval as Postgres compares it: (months·30 + days)
// days and the microseconds, normalised so that 0 ≤ rem < one day.
func (iv interval) span() (days, rem int64) {
	d := int64(iv.months)*30 + int64(iv.days)
	q := floorDiv(iv.micros, microsPerDay)
	return d + q, iv.micros - q*microsPerDay
}

// parseUUID reads a UUID as Postgres's uuid_in does: 32 hex digits, a
// hyphen allowed after any group of four (except the last), optionally in
// braces; any case. It returns the canonical lowercase 8-4-4-4-12 form.
func parseUUID(s string) (string, error) {
	bad := func() (string, error) {
		return "", fmt.Errorf("uuid %q: want 32 hex digits like a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", clipString(s))
	}
	p := s
	braces := len(p) > 0 && p[0] == '{'
	if braces {
		p = p[1:]
	}
	var raw [16]byte
	for i := 0; i < 16; i++ {
		if len(p) < 2 {
			return bad()
		}
		hi, ok1 := hexVal(p[0])
		lo, ok2 := hexVal(p[1])
		if !ok1 || !ok2 {
			return bad()
		}
		raw[i] = hi<<4 | lo
		p = p[2:]
		if len(p) > 0 && p[0] == '-' && i%2 == 1 && i < 15 {
			p = p[1:]
		}
	}
	if braces {
		if len(p) == 0 || p[0] != '}' {
			return bad()
		}
		p = p[1:]
	}
	if p != "" {
		return bad()
	}
	return formatUUID(raw), nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func formatUUID(raw [16]byte) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[c>>4], hexd[c&0xf])
	}
	return string(b)
}
