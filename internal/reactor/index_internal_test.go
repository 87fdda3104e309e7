package reactor

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The range lists in blocks of two to four entries, against a plain scan:
// after random insertions and removals (many equal bounds among them),
// every stabbing query visits exactly the ranges that contain the point.
func TestRangeSetMatchesScan(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		rs := newRangeSet()
		rs.lower.size, rs.upper.size, rs.both.size = 2, 2, 2
		type reg struct {
			rangeReg
			s *Subscription
		}
		var live []reg
		key := func() rkey { return intKey(int64(r.IntN(12))) }
		for step := 0; step < 300; step++ {
			if r.IntN(3) > 0 || len(live) == 0 {
				g := reg{rangeReg: rangeReg{hasLo: r.IntN(3) > 0, lo: key(), hi: key()}, s: &Subscription{id: uint64(step)}}
				g.hasHi = !g.hasLo || r.IntN(2) == 0
				rs.add(g.rangeReg, g.s)
				live = append(live, g)
			} else {
				i := r.IntN(len(live))
				rs.remove(live[i].rangeReg, live[i].s)
				live = slices.Delete(live, i, i+1)
			}
			k := intKey(int64(r.IntN(14) - 1))
			var got, want []uint64
			rs.stab(k, func(s *Subscription) { got = append(got, s.id) })
			for _, g := range live {
				if (!g.hasLo || g.lo.cmp(k) <= 0) && (!g.hasHi || g.hi.cmp(k) >= 0) {
					want = append(want, g.s.id)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d: stabbing %v visits %v, want %v", seed, step, k, got, want)
			}
			var n int
			rs.each(func(*Subscription) { n++ })
			if n != len(live) || rs.empty() != (len(live) == 0) {
				t.Fatalf("seed %d step %d: %d entries, want %d", seed, step, n, len(live))
			}
		}
	}
}
