package server

import (
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/replication"
)

// TestWALClock: the lag in seconds is how long ago the oldest WAL position
// not yet acknowledged was first seen; 0 once everything seen is
// acknowledged; since the first look while nothing is.
func TestWALClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var c walClock
	c.observe(100, t0)
	c.observe(100, t0.Add(time.Second)) // no new WAL: the first sighting counts
	c.observe(200, t0.Add(2*time.Second))
	c.observe(300, t0.Add(3*time.Second))
	for _, tc := range []struct {
		acked uint64
		want  time.Duration
	}{
		{0, 10 * time.Second},  // never streamed: since the first look
		{99, 10 * time.Second}, // behind the first position seen
		{100, 8 * time.Second}, // past it: the next one's age
		{250, 7 * time.Second},
		{300, 0}, // caught up
		{100, 0}, // and what was acknowledged is forgotten
	} {
		if got := c.behind(replication.LSN(tc.acked), t0.Add(10*time.Second)); got != tc.want {
			t.Errorf("acked %d: %v, want %v", tc.acked, got, tc.want)
		}
	}
	c.observe(400, t0.Add(20*time.Second))
	if got := c.behind(300, t0.Add(25*time.Second)); got != 5*time.Second {
		t.Errorf("after new WAL: %v", got)
	}
}
