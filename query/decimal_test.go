package query

import (
	"math"
	"testing"
)

func TestCmpDecimal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
	}{
		{"9", "9", 0},
		{"9", "9.0", 0},
		{"9", "9e0", 0},
		{"900", "9e2", 0},
		{"9", "10", -1},
		{"9.5", "10", -1},
		{"9", "9.5", -1},
		{"0.1", "0.10000000000000001", -1},
		{"-0", "0", 0},
		{"-0.0", "0e5", 0},
		{"-2", "1", -1},
		{"-2", "-10", 1},
		{"1.5E1", "15", 0},
		{"15", "1.5e+1", 0},
		{"0.015", "1.5e-2", 0},
		{"12345678901234567890", "12345678901234567891", -1},
		{"9007199254740993", "9007199254740992", 1},
		{"100", "99.999", 1},
		{"0.001", "0.01", -1},
		{"1e-5", "0.00001", 0},
		{"1e400", "1e399", 1},
		{"2.50", "2.5", 0},
	}
	for _, c := range cases {
		a, ok1 := parseDecimal(c.a)
		b, ok2 := parseDecimal(c.b)
		if !ok1 || !ok2 {
			t.Errorf("parse %q %q: %v %v", c.a, c.b, ok1, ok2)
			continue
		}
		if got := cmpDecimal(&a, &b); got != c.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := cmpDecimal(&b, &a); got != -c.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
	for _, bad := range []string{"", "-", "1.2.3", "1e", "e5", "abc", "1x", "+1"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("parseDecimal(%q) accepted", bad)
		}
	}
}

// TestDecimalSpecials: literal NaN and infinities against JSON numbers order
// as Postgres's numeric does: -Infinity < numbers < Infinity < NaN.
func TestDecimalSpecials(t *testing.T) {
	t.Parallel()
	n, _ := parseDecimal("1e300")
	for _, c := range []struct {
		f    float64
		want int
	}{{math.Inf(1), -1}, {math.NaN(), -1}, {math.Inf(-1), 1}, {1e300, 0}} {
		d, _ := decimalOfFloat(c.f)
		if got := cmpDecimal(&n, &d); got != c.want {
			t.Errorf("cmp(1e300, %v) = %d, want %d", c.f, got, c.want)
		}
	}
	nan, _ := decimalOfFloat(math.NaN())
	inf, _ := decimalOfFloat(math.Inf(1))
	if cmpDecimal(&nan, &nan) != 0 || cmpDecimal(&inf, &nan) != -1 {
		t.Error("NaN must equal NaN and exceed Infinity")
	}
}
