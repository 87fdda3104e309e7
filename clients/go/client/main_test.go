package client

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package when goroutines outlive its tests: every
// client, live query and connection must end with Close.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines before the tests, %d after:\n%s\n",
					before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				code = 1
				break
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.Exit(code)
}
