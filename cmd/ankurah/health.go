package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthCommand asks a running server whether it is ready (/readyz). It is
// the container's health check: a minimal image has no curl, so the binary
// checks itself.
func healthCommand() *command {
	return &command{
		name: "health", args: []string{""}, summary: "exit 0 when the server on --listen is ready (for health checks)",
		doc: `Asks the server listening on --listen (the same flag and variable as
serve's) for /readyz: ready means the change stream is connected and caught
up. Prints "ready" and exits 0, or says why not and exits 1. A server that
listens on every interface (0.0.0.0 or [::]) is asked on the loopback
address. Docker's HEALTHCHECK runs it (see the Dockerfile).`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			listen := fs.String("listen", envOr(e.getenv, "ANKURAH_LISTEN", defaultListen), "the `address` the server listens on (env ANKURAH_LISTEN)")
			timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
			return func(ctx context.Context, _ []string) error {
				host, port, err := net.SplitHostPort(*listen)
				if err != nil {
					return usageError("--listen %q is not an address", *listen).withFix("use HOST:PORT, e.g. %s", defaultListen)
				}
				if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
					host = "127.0.0.1"
				}
				u := "http://" + net.JoinHostPort(host, port) + "/readyz"
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if err != nil {
					return usageError("%v", err)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return failed("no answer from %s: %s", u, oneLine(innermost(err).Error())).withFix("start the server (`ankurah serve`), or pass the --listen it uses")
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
				if res.StatusCode != http.StatusOK {
					return failed("%s", strings.TrimSpace(string(body)))
				}
				fmt.Fprintln(e.stdout, strings.TrimSpace(string(body)))
				return nil
			}
		},
	}
}
