package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/ankurah/ankurah-go/server"
)

// servePprof serves Go's profiler on a listener of its own (--pprof-addr),
// behind the inspector's access rule: an administrator's token with a
// policy, loopback only without one. It is kept off the main listener so
// that exposing the WebSocket port never exposes the profiler. stop shuts
// it down and waits for its goroutine.
func servePprof(addr string, srv *server.Server, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, failed("cannot listen on %s for the profiler: %v", addr, innermost(err)).withFix("pass --pprof-addr HOST:PORT with a free address of this machine")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: srv.AdminOnly(mux), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the profiler's listener failed", "err", err)
		}
	}()
	log.Info("profiler serving", "pprof", fmt.Sprintf("http://%s/debug/pprof/", ln.Addr()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close() // a profile still being taken
		}
		<-done
	}, nil
}

// loopback reports whether a HOST:PORT names a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
