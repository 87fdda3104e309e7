package leakcheck_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Wait passes once goroutines started after Count have ended, and reports
// (with their stacks) those that have not by the deadline.
func TestWait(t *testing.T) {
	before := leakcheck.Count()
	release := make(chan struct{})
	ended := make(chan struct{})
	go func() { <-release; close(ended) }() // blocked until released: a leak for now
	err := leakcheck.Wait(before, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "goroutine leak") || !strings.Contains(err.Error(), "TestWait") {
		t.Fatalf("a blocked goroutine: %v", err)
	}
	close(release)
	<-ended
	if err := leakcheck.Wait(before, leakcheck.Grace); err != nil {
		t.Fatalf("after it ended: %v", err)
	}
}
