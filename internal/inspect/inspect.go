// Package inspect is the server's inspector: a web page at /inspect and the
// read-only JSON endpoints under /inspect/api/ that it (and any other tool)
// reads — collections, live connections and subscriptions, the change
// stream over the last minutes, entity histories as graphs, and queries
// with the SQL they become on Postgres (docs/inspector.md).
//
// The package knows nothing of the server: package server mounts it and
// hands it what it shows through Options (functions that take a snapshot
// of the server's state, the store, the access check). Nothing here
// writes: every endpoint is a GET and reads.
//
// # Goroutines
//
// Run samples the change stream once per SampleInterval until its context
// ends; the server runs it beside the stream and waits for it. Handlers
// start no goroutines.
//
// # Locks
//
// Inspector.mu guards the samples and the previous connection counters;
// nothing is taken under it (the snapshot functions are called before it
// is taken).
package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// Defaults.
const (
	// DefaultSampleInterval is how often the change stream is sampled.
	DefaultSampleInterval = time.Second
	// DefaultSamples is how many samples are kept (ten minutes at the
	// default interval).
	DefaultSamples = 600
)

// Options are what the inspector shows and how it decides who may see it.
type Options struct {
	// Store is the server's store (reads only).
	Store storage.Store
	// Postgres is the same store when it is Postgres (nil otherwise): for
	// the catalog (adopted tables, row counts), the events' origins and
	// the SQL a query becomes.
	Postgres *postgres.Store
	// Backend names the store for people: "postgres", "embedded", "memory".
	Backend string
	// Server is the server's name and version (welcome's server).
	Server string
	// Started is when the server started.
	Started time.Time
	// Connections returns every live connection with its subscriptions
	// and their counters (cumulative; the inspector derives rates).
	Connections func() []Connection
	// SlowConsumers returns the connections most recently disconnected as
	// slow consumers, newest first.
	SlowConsumers func() []SlowConsumer
	// Counters returns the change stream's cumulative counters.
	Counters func(ctx context.Context) Counters
	// Access decides whether a request may see the inspector: nil to
	// allow, or an error whose Status (see AccessError) is the answer.
	Access func(r *http.Request) error
	// Auth is the access rule in force: AccessLoopback (no policy: the
	// inspector is served to loopback only, page included) or AccessAdmin
	// (a policy: the endpoints need an administrator; the page, which
	// holds no data, is served so that it can ask for a token).
	Auth string
	// SampleInterval and Samples: see the defaults.
	SampleInterval time.Duration
	Samples        int
	Logger         *slog.Logger
}

// Access rules (Options.Auth).
const (
	AccessLoopback = "loopback"
	AccessAdmin    = "admin"
)

// AccessError is a refusal: the HTTP status and why.
type AccessError struct {
	Status  int
	Message string
}

func (e *AccessError) Error() string { return e.Message }

// Inspector serves the page and its endpoints.
type Inspector struct {
	o Options

	mu      sync.Mutex
	samples []Sample // oldest first, at most o.Samples
	last    *Counters
	lastAt  time.Time
	prev    map[string]subCounters // previous connection counters by key
	prevAt  time.Time
	colls   []collCount // per-collection change totals, one per sample
}

// New returns an inspector; Run samples the stream, Handler serves it.
func New(o Options) *Inspector {
	if o.SampleInterval <= 0 {
		o.SampleInterval = DefaultSampleInterval
	}
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Inspector{o: o, prev: map[string]subCounters{}}
}

// Run samples the change stream every SampleInterval until ctx ends.
func (in *Inspector) Run(ctx context.Context) {
	t := time.NewTicker(in.o.SampleInterval)
	defer t.Stop()
	in.sample(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			in.sample(ctx, now)
		}
	}
}

// Handler serves the page at / and the endpoints at /api/ (mount it with
// the prefix stripped: http.StripPrefix("/inspect", h)).
func (in *Inspector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/server", in.api(in.serverInfo))
	mux.HandleFunc("GET /api/collections", in.api(in.collections))
	mux.HandleFunc("GET /api/connections", in.api(in.connections))
	mux.HandleFunc("GET /api/replication", in.api(in.replication))
	mux.HandleFunc("GET /api/history", in.api(in.history))
	mux.HandleFunc("GET /api/query", in.api(in.query))
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint; docs/inspector.md lists them")
	})
	mux.Handle("GET /", in.assets())
	return in.guard(mux)
}

// guard refuses what is not a read, and applies the access rule. The
// page's assets carry no data: when a policy is configured they are served
// to anyone who reaches the server (the page then asks for a token), and
// every endpoint requires an administrator. Without a policy, nothing is
// served beyond loopback.
func (in *Inspector) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "the inspector is read-only: GET only")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		api := strings.HasPrefix(r.URL.Path, "/api/")
		if in.o.Access != nil {
			if err := in.o.Access(r); err != nil {
				var ae *AccessError
				if !errors.As(err, &ae) {
					ae = &AccessError{Status: http.StatusForbidden, Message: err.Error()}
				}
				// The page itself (no data) is served when the refusal is
				// only the missing administrator token, so that it can ask
				// for one.
				if api || in.o.Auth == AccessLoopback {
					if ae.Status == http.StatusUnauthorized {
						w.Header().Set("WWW-Authenticate", `Bearer realm="ankurah inspector"`)
					}
					writeError(w, ae.Status, ae.Message)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (in *Inspector) assets() http.Handler {
	sub := pageFS{}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every path that is not a file is the page (it routes itself).
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "" || p == "index.html" {
			serveIndex(w, sub)
			return
		}
		if _, err := fs.Stat(sub, p); err != nil {
			serveIndex(w, sub)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, sub fs.FS) {
	b, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		http.Error(w, "the inspector's page is missing from this build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// api adapts an endpoint: its value as JSON, or its error.
func (in *Inspector) api(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			var be *badRequest
			status, msg := http.StatusInternalServerError, "internal error; the server log has the details"
			switch {
			case errors.As(err, &be):
				status, msg = be.status, be.msg
			case errors.Is(err, storage.ErrNoCollection), errors.Is(err, storage.ErrNotFound):
				status, msg = http.StatusNotFound, err.Error()
			case storage.CodeOf(err) != storage.CodeInternal:
				status, msg = http.StatusBadRequest, err.Error()
			default:
				in.o.Logger.Error("inspector: request failed", "path", r.URL.Path, "err", err)
			}
			writeError(w, status, msg)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		if r.URL.Query().Has("pretty") {
			enc.SetIndent("", "  ")
		}
		_ = enc.Encode(v)
	}
}

type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error {
	return &badRequest{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &badRequest{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status})
}

// ServerInfo is /api/server.
type ServerInfo struct {
	Server        string    `json:"server"`
	Backend       string    `json:"backend"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Access        string    `json:"access"`
	// SampleIntervalSeconds is the spacing of /api/replication's samples.
	SampleIntervalSeconds float64 `json:"sample_interval_seconds"`
}

func (in *Inspector) serverInfo(*http.Request) (any, error) {
	return ServerInfo{Server: in.o.Server, Backend: in.o.Backend, StartedAt: in.o.Started.UTC(),
		UptimeSeconds: time.Since(in.o.Started).Seconds(), Access: in.o.Auth,
		SampleIntervalSeconds: in.o.SampleInterval.Seconds()}, nil
}

func intParam(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, bad("%s must be a positive integer", name)
	}
	return min(n, max), nil
}
