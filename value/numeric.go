package value

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Numeric values are exact decimals held as their canonical text, the form
// Postgres's numeric_out prints: an optional '-', the integer digits without
// leading zeros (at least one), and as many fraction digits as the value's
// display scale — the number of digits after the point that was written,
// less the exponent (1.50 keeps two, 1.5e1 is 15, 150e-2 is 1.50). Zero is
// never negative. "NaN", "Infinity" and "-Infinity" are the special values.
// Nothing goes through float64.

// Limits of Postgres's numeric.
const (
	maxNumericIntDigits  = 131072 // digits before the point
	maxNumericScale      = 16383  // digits after it
	numericExpansionFree = 1024   // bytes an exponent may add to its input for free (see ParseNumeric)
)

// ParseNumeric reads a decimal number and returns its canonical text. It
// accepts what Postgres's numeric input accepts, less spaces, underscores
// and non-decimal forms: [+-]digits[.digits][e[+-]digits], a number may
// start or end with the point (.5, 5.), and NaN, Infinity, inf (any case,
// with a sign for the infinities).
//
// An exponent makes short input long (1e100000 is 100,001 digits): beyond
// Postgres's limits the number is refused, and it is refused too when its
// canonical text would be more than 1024 bytes longer than twice the input
// — a bound on what a few bytes from a client can make a server hold.
func ParseNumeric(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("numeric %q: %s", clipString(s), why)
	}
	if s == "" {
		return bad("empty")
	}
	p := s
	neg := false
	switch p[0] {
	case '-':
		neg = true
		p = p[1:]
	case '+':
		p = p[1:]
	}
	switch strings.ToLower(p) {
	case "nan":
		if p != s {
			return bad("NaN has no sign")
		}
		return "NaN", nil
	case "infinity", "inf":
		if neg {
			return "-Infinity", nil
		}
		return "Infinity", nil
	}
	i := 0
	for i < len(p) && isDigit(p[i]) {
		i++
	}
	intp := p[:i]
	frac := ""
	if i < len(p) && p[i] == '.' {
		i++
		j := i
		for i < len(p) && isDigit(p[i]) {
			i++
		}
		frac = p[j:i]
	}
	if intp == "" && frac == "" {
		return bad("not a number")
	}
	var exp int64
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		eneg := false
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			eneg = p[i] == '-'
			i++
		}
		j := i
		for i < len(p) && isDigit(p[i]) {
			if exp < 1e9 {
				exp = exp*10 + int64(p[i]-'0')
			}
			i++
		}
		if i == j {
			return bad("exponent without digits")
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(p) {
		return bad("not a number")
	}
	// The digits, all of them, and where the point goes: value =
	// digits × 10^(exp − len(frac)).
	digits := strings.TrimLeft(intp+frac, "0")
	pointExp := exp - int64(len(frac)) // exponent of the last digit
	scale := max(int64(0), -pointExp)  // display scale
	if digits == "" {
		// Zero, with its scale: 0.00, never negative.
		if scale > maxNumericScale {
			return bad("value overflows numeric format")
		}
		return zeroText(int(scale)), nil
	}
	intDigits := int64(len(digits)) + pointExp // digits before the point
	if intDigits > maxNumericIntDigits || scale > maxNumericScale {
		return bad("value overflows numeric format")
	}
	if n := max(intDigits, 1) + scale + 2; n > int64(2*len(s)+numericExpansionFree) {
		return bad(fmt.Sprintf("its exponent makes it %d digits long, too many for %d bytes of input", n, len(s)))
	}
	return numericText(neg, digits, pointExp), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func zeroText(scale int) string {
	if scale == 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", scale)
}

// numericText writes digits × 10^pointExp (digits without leading zeros,
// not empty) in canonical form: the scale is max(0, -pointExp).
func numericText(neg bool, digits string, pointExp int64) string {
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if pointExp >= 0 {
		b.WriteString(digits)
		for range pointExp {
			b.WriteByte('0')
		}
		return b.String()
	}
	scale := int(-pointExp)
	if len(digits) > scale {
		b.WriteString(digits[:len(digits)-scale])
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-scale:])
		return b.String()
	}
	b.WriteString("0.")
	for range scale - len(digits) {
		b.WriteByte('0')
	}
	b.WriteString(digits)
	return b.String()
}

// splitNumeric splits canonical numeric text into its sign, integer and
// fraction digits. ok is false for the special values.
func splitNumeric(s string) (neg bool, intp, frac string, ok bool) {
	if s == "" || s[0] == 'N' || s[0] == 'I' || s == "-Infinity" {
		return false, "", "", false
	}
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intp, frac, _ = strings.Cut(s, ".")
	return neg, intp, frac, true
}

// RoundNumeric rounds canonical numeric text to scale digits after the
// point (negative: to tens, hundreds, …), half away from zero, and checks
// that at most precision - scale digits remain before the point: Postgres's
// numeric(precision, scale). NaN passes; the infinities do not fit.
func RoundNumeric(s string, precision, scale int) (string, error) {
	neg, intp, frac, ok := splitNumeric(s)
	if !ok {
		if s == "NaN" {
			return s, nil
		}
		return "", fmt.Errorf("numeric(%d,%d) cannot hold an infinite value", precision, scale)
	}
	digits := intp + frac
	pointExp := -len(frac) // exponent of the last digit
	keep := len(digits) - (-scale - pointExp)
	// keep: how many leading digits of `digits` survive rounding to 10^-scale.
	if cut := -scale - pointExp; cut > 0 {
		// Drop cut digits, rounding half away from zero.
		var up bool
		if keep < 0 {
			digits, up = "", false
		} else {
			up = digits[keep] >= '5'
			digits = digits[:keep]
		}
		if up {
			digits = incrementDigits(digits)
		}
		pointExp = -scale
	}
	// Pad to the scale (numeric(10,2) shows 1.5 as 1.50).
	if scale > 0 && -pointExp < scale {
		digits += strings.Repeat("0", scale+pointExp)
		pointExp = -scale
	}
	trim := strings.TrimLeft(digits, "0")
	if trim == "" {
		return zeroText(max(scale, 0)), nil
	}
	if intDigits := len(trim) + pointExp; intDigits > precision-scale {
		return "", fmt.Errorf("numeric field overflow: numeric(%d,%d) must round to an absolute value less than 10^%d", precision, scale, precision-scale)
	}
	if pointExp > 0 {
		return numericText(neg, trim, int64(pointExp)), nil
	}
	return numericText(neg, trim, int64(pointExp)), nil
}

// incrementDigits adds one to a decimal digit string ("" is 0).
func incrementDigits(d string) string {
	b := []byte(d)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// numericOfFloat returns the canonical numeric of a float: its shortest
// decimal form (0.1 is exactly 0.1), or NaN and the infinities.
func numericOfFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s, err := ParseNumeric(strconv.FormatFloat(f, 'e', -1, bits))
	if err != nil { // cannot happen: a float is far inside numeric's limits
		panic(err)
	}
	return s
}

// numericFloat converts canonical numeric text to the nearest float64
// (±Inf beyond its range, as strconv rounds), the way Postgres casts
// numeric to double precision.
func numericFloat(s string) float64 {
	switch s {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// numericInt returns canonical numeric text as an int64 when it is an
// integer in range.
func numericInt(s string) (int64, bool) {
	neg, intp, frac, ok := splitNumeric(s)
	if !ok || strings.Trim(frac, "0") != "" {
		return 0, false
	}
	if neg {
		intp = "-" + intp
	}
	i, err := strconv.ParseInt(intp, 10, 64)
	return i, err == nil
}
