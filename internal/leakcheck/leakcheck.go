// Package leakcheck fails a test package whose goroutines outlive its
// tests. Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs the tests, then waits up to 10 s for the goroutine count to
// return to what it was before them; if it does not, it prints every
// goroutine's stack and fails.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		code = check(before, 10*time.Second)
	}
	os.Exit(code)
}

func check(before int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines before the tests, %d after:\n%s\n",
				before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
			return 1
		}
		time.Sleep(10 * time.Millisecond) // polling the runtime, with a deadline
	}
	return 0
}
