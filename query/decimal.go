package query

import (
	"cmp"
	"math"
	"strconv"
)

// JSON numbers compare exactly, as Postgres compares them (jsonb numbers are
// numeric): 9 = 9.0 = 9e0, 0.1 < 0.10000000000000001, and integers beyond
// 2^53 stay exact. A decimal is a view into the number's text, so parsing
// allocates nothing.
type decimal struct {
	neg        bool
	intp, frac string // digits before and after the point
	exp        int64  // the exponent after e, clamped
	special    int8   // 0 finite; +1 +Infinity, -1 -Infinity, 2 NaN (literals only)
}

// parseDecimal parses a JSON number: -?digits[.digits][(e|E)[+-]digits].
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	d.intp = s[start:i]
	if d.intp == "" {
		return d, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		d.frac = s[start:i]
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i >= len(s) {
			return d, false
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return d, false
			}
			if d.exp < 1e12 { // beyond any numeric Postgres stores
				d.exp = d.exp*10 + int64(c-'0')
			}
		}
		if eneg {
			d.exp = -d.exp
		}
	}
	return d, i == len(s)
}

// decimalOfFloat returns the decimal a float literal stands for: its
// shortest round-tripping form, which is also what the SQL translation binds.
func decimalOfFloat(f float64) (decimal, string) {
	switch {
	case math.IsNaN(f):
		return decimal{special: 2}, "NaN"
	case math.IsInf(f, 1):
		return decimal{special: 1}, "Infinity"
	case math.IsInf(f, -1):
		return decimal{special: -1}, "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	d, _ := parseDecimal(s)
	return d, s
}

func (d *decimal) digit(k int) byte {
	if k < len(d.intp) {
		return d.intp[k]
	}
	if k -= len(d.intp); k < len(d.frac) {
		return d.frac[k]
	}
	return '0'
}

// norm returns the index of the first significant digit in intp+frac
// (-1 for zero) and the decimal exponent of that digit's position.
func (d *decimal) norm() (lead int, pos int64) {
	n := len(d.intp) + len(d.frac)
	for k := 0; k < n; k++ {
		if d.digit(k) != '0' {
			return k, int64(len(d.intp)-k) + d.exp
		}
	}
	return -1, 0
}

// rank orders specials around the finite numbers: -Inf < finite < +Inf < NaN.
func (d *decimal) rank() int {
	switch d.special {
	case -1:
		return 0
	case 1:
		return 2
	case 2:
		return 3
	}
	return 1
}

// cmpDecimal compares two decimals numerically.
func cmpDecimal(a, b *decimal) int {
	if ra, rb := a.rank(), b.rank(); ra != 1 || rb != 1 {
		return cmp.Compare(int64(ra), int64(rb))
	}
	la, pa := a.norm()
	lb, pb := b.norm()
	sa, sb := sign(a, la), sign(b, lb)
	if sa != sb {
		return cmp.Compare(int64(sa), int64(sb))
	}
	if sa == 0 {
		return 0
	}
	c := 0
	if pa != pb {
		c = cmp.Compare(pa, pb)
	} else {
		na, nb := len(a.intp)+len(a.frac)-la, len(b.intp)+len(b.frac)-lb
		for k := 0; k < na || k < nb; k++ {
			da, db := a.digit(la+k), b.digit(lb+k)
			if k >= na {
				da = '0'
			}
			if k >= nb {
				db = '0'
			}
			if da != db {
				c = cmp.Compare(int64(da), int64(db))
				break
			}
		}
	}
	return c * sa
}

func sign(d *decimal, lead int) int {
	switch {
	case lead < 0:
		return 0
	case d.neg:
		return -1
	}
	return 1
}
