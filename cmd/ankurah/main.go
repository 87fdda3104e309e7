// Command ankurah is the Ankurah server's single binary. This file only
// parses the command line and the ANKURAH_* environment; the work is done by
// the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// signalContext ends on SIGINT or SIGTERM: the server then shuts down
// gracefully, and subscribe stops.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
