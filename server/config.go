package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ankurah/ankurah-go/server/auth"
)

// Defaults.
const (
	DefaultListen           = "127.0.0.1:9797"
	DefaultMaxFrameBytes    = 1 << 20
	DefaultMaxSubscriptions = 1000
	DefaultMaxCommitEvents  = 1000
	DefaultQueueFrames      = 1024
	DefaultWriteTimeout     = 10 * time.Second
	DefaultMaxLag           = 10 * time.Second
	DefaultCloseTimeout     = 2 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultRequestsPerSec   = 500
	DefaultRequestBurst     = 1000
	DefaultMaxQueryNodes    = 512
	DefaultMaxInList        = 1000
	DefaultMaxNewFields     = 64
	DefaultTokenRefreshLead = 30 * time.Second
)

// Config configures a Server. The zero value of every field means its
// default: WithDefaults fills them in (on a copy), and Validate reports
// every problem at once. New does both.
type Config struct {
	// Listen is the TCP address ListenAndServe binds. Default
	// DefaultListen (127.0.0.1:9797).
	Listen string
	// MaxFrameBytes is the largest frame a client may send; a larger one
	// closes its connection with status 1009. Default DefaultMaxFrameBytes
	// (1 MiB); at least 1024.
	MaxFrameBytes int
	// MaxSubscriptions is how many live queries one connection may hold.
	// Default DefaultMaxSubscriptions (1000).
	MaxSubscriptions int
	// MaxCommitEvents is how many events one commit may carry. Default
	// DefaultMaxCommitEvents (1000).
	MaxCommitEvents int
	// QueueFrames bounds each connection's queue of outgoing frames (those
	// queued and not yet written to its socket). A client whose queue is
	// full is disconnected as a slow consumer. Default DefaultQueueFrames
	// (1024).
	QueueFrames int
	// MaxLag bounds how far behind the stream a client may fall: a client
	// for which a frame has waited longer than this in its queue (judged
	// when another frame is queued for it, and when the frame's turn to
	// be written comes) is disconnected as a slow consumer, however few
	// frames wait. Default DefaultMaxLag (10 s).
	MaxLag time.Duration
	// WriteTimeout is how long writing one frame to a client may take
	// before the client is disconnected as a slow consumer; it also bounds
	// the wait for the answer to a ping. Default DefaultWriteTimeout
	// (10 s).
	WriteTimeout time.Duration
	// CloseTimeout bounds the end of a session the server ends (a slow
	// consumer, an expired token, a failed handshake): finishing a write
	// that is blocked, the error frame saying why, the close frame and the
	// closing handshake must all fit in it, or the TCP connection is cut
	// without them. Default DefaultCloseTimeout (2 s).
	CloseTimeout time.Duration
	// HandshakeTimeout is how long a new connection has to send hello.
	// Default DefaultHandshakeTimeout (10 s).
	HandshakeTimeout time.Duration
	// PingInterval is how often connections are pinged. Default
	// DefaultPingInterval (30 s).
	PingInterval time.Duration
	// OriginPatterns, when set, restricts the browser origins allowed to
	// open a WebSocket (host patterns as in path.Match, e.g.
	// "app.example.com"). Empty allows every origin: the protocol carries
	// its credentials in hello, never in cookies, so a cross-site page
	// gains nothing a direct client does not have. Default: empty.
	OriginPatterns []string
	// Tokens verifies the tokens clients send in hello and auth
	// (*auth.Verifier). Nil: tokens are not checked, and every connection
	// acts for the anonymous principal.
	Tokens TokenVerifier
	// Policy is the authorisation policy in force (auth.Static, or an
	// *auth.PolicyFileSource that reloads its file). Nil: no policy —
	// everyone may read, write and change the schema (auth.AllowAll), which
	// is only for development: Validate then refuses a Listen address that
	// is not loopback unless InsecureAllowAnonymous is set.
	Policy auth.Source
	// InsecureAllowAnonymous lets a server without a policy listen on an
	// address that is not loopback. Default false.
	InsecureAllowAnonymous bool
	// RequestsPerSecond and RequestBurst limit each connection's requests
	// (a token bucket); a request over the limit is answered rate_limited.
	// Defaults DefaultRequestsPerSec (500) and DefaultRequestBurst (1000).
	RequestsPerSecond int
	RequestBurst      int
	// MaxQueryNodes bounds a query's predicate (its AST nodes), and
	// MaxInList an IN list (after ? expands); a larger query is refused
	// with too_complex. Defaults DefaultMaxQueryNodes (512) and
	// DefaultMaxInList (1000).
	MaxQueryNodes int
	MaxInList     int
	// MaxNewFields bounds the fields one request may add to the schema
	// (register_schema, or new fields in a commit), collections counted as
	// fields too. Default DefaultMaxNewFields (64).
	MaxNewFields int
	// TokenRefreshLead is how long before a connection's token expires
	// the server asks for a fresh one (token_expiring). Default
	// DefaultTokenRefreshLead (30 s), or a fifth of the token's life when
	// that is shorter.
	TokenRefreshLead time.Duration
	// NoInspector leaves the inspector (/inspect and its data endpoints,
	// docs/inspector.md) out of Handler. Default false: it is served, to
	// administrators (a role marked admin in the policy) or, without a
	// policy, to loopback only.
	NoInspector bool
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// TracerProvider receives the server's OpenTelemetry spans: each client
	// request, and each transaction's way through the fan-out (decode,
	// match, queue, write; docs/inspector.md). Default nil: otel's global
	// provider, which drops them unless the program installs one
	// (ankurah serve --otlp-endpoint does).
	TracerProvider trace.TracerProvider
}

// TokenVerifier checks a token and says who it stands for.
// *auth.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*auth.Principal, error)
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	set := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	set(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	set(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	set(&c.MaxCommitEvents, DefaultMaxCommitEvents)
	set(&c.QueueFrames, DefaultQueueFrames)
	setD(&c.WriteTimeout, DefaultWriteTimeout)
	setD(&c.MaxLag, DefaultMaxLag)
	setD(&c.CloseTimeout, DefaultCloseTimeout)
	setD(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setD(&c.PingInterval, DefaultPingInterval)
	set(&c.RequestsPerSecond, DefaultRequestsPerSec)
	set(&c.RequestBurst, DefaultRequestBurst)
	set(&c.MaxQueryNodes, DefaultMaxQueryNodes)
	set(&c.MaxInList, DefaultMaxInList)
	set(&c.MaxNewFields, DefaultMaxNewFields)
	setD(&c.TokenRefreshLead, DefaultTokenRefreshLead)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem with the configuration (defaults applied)
// at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Listen, err))
	}
	positive := func(name string, v int, min int) {
		if v < min {
			errs = append(errs, fmt.Errorf("%s must be at least %d (got %d)", name, min, v))
		}
	}
	positive("max frame bytes", c.MaxFrameBytes, 1024)
	positive("max subscriptions", c.MaxSubscriptions, 1)
	positive("max commit events", c.MaxCommitEvents, 1)
	positive("queue frames", c.QueueFrames, 1)
	positive("requests per second", c.RequestsPerSecond, 1)
	positive("request burst", c.RequestBurst, 1)
	positive("max query nodes", c.MaxQueryNodes, 1)
	positive("max IN list", c.MaxInList, 1)
	positive("max new fields", c.MaxNewFields, 1)
	if err := c.checkExposure(c.Listen); err != nil {
		errs = append(errs, err)
	}
	for name, d := range map[string]time.Duration{"write timeout": c.WriteTimeout, "max lag": c.MaxLag, "close timeout": c.CloseTimeout, "handshake timeout": c.HandshakeTimeout, "ping interval": c.PingInterval, "token refresh lead": c.TokenRefreshLead} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (got %s)", name, d))
		}
	}
	return errors.Join(errs...)
}

// ErrExposedWithoutPolicy is what serving anonymously beyond loopback is
// refused with (errors.Is).
var ErrExposedWithoutPolicy = errors.New("no policy: anyone who reaches this server may read, write and change everything, so it serves only on a loopback address")

// checkExposure refuses to serve addr without a policy unless addr is
// loopback or the operator insisted.
func (c Config) checkExposure(addr string) error {
	if c.Policy != nil || c.InsecureAllowAnonymous {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil // reported by Validate
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q: %w; give a policy (--policy) or, to serve anonymously anyway, --insecure-allow-anonymous", addr, ErrExposedWithoutPolicy)
}
