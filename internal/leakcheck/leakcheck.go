// Package leakcheck fails a test package whose goroutines outlive its
// tests. It is the project's one leak check: every package whose code or
// tests start goroutines runs it from TestMain,
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// and a test that wants to check one piece of code on its own (start and
// stop it, then see that nothing is left) uses Count and Wait.
package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Grace is how long goroutines get to end after the tests (or the code
// under test) returned: a goroutine that is ending — a closed connection's
// reader, a timer's callback — may need a moment to be scheduled.
const Grace = 10 * time.Second

// Main runs the tests, then waits up to Grace for the goroutine count to
// return to what it was before them; if it does not, it prints every
// goroutine's stack and fails the package.
func Main(m *testing.M) {
	before := Count()
	code := m.Run()
	// Fuzzing (-test.fuzz) starts the runtime's signal loop, which lives as
	// long as the process: the count cannot tell then.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(code)
	}
	if code == 0 {
		if err := Wait(before, Grace); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Count returns how many goroutines are running.
func Count() int { return runtime.NumGoroutine() }

// Wait waits up to timeout for the goroutine count to fall to before (a
// Count taken earlier). If it does not, the error lists every goroutine's
// stack.
func Wait(before int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("goroutine leak: %d goroutines before, %d after:\n%s",
				before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling the runtime, with a deadline
	}
	return nil
}
