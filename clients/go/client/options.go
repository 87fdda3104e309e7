package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ankurah/ankurah-go/internal/wire"
)

// Defaults of Options.
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultDialTimeout = 10 * time.Second
)

// Options configure a client. The zero value of every field means its
// default: WithDefaults fills them in (on a copy), and Validate reports
// every problem at once. Dial and Open do both.
type Options struct {
	// Token is sent in the handshake: a JWT the server accepts (see
	// docs/security.md). For tokens that expire, set TokenSource instead.
	Token string
	// TokenSource, when set, is called for the token on every connection
	// and again when the server says the connection's token expires soon
	// (the client then sends the new one without losing its live queries).
	// An error fails that connection attempt (retried with backoff).
	// Default: none (Token is used).
	TokenSource func(ctx context.Context) (string, error)
	// ClientName names the program in the server's logs, e.g. "my-app/1.0".
	ClientName string
	// CacheFile, when set, keeps the cache and the queue of unconfirmed
	// commits in this file, so that they survive a restart. One client
	// at a time may use a file. Default: none (memory only).
	CacheFile string
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts, and between retries of a commit the server could not take
	// (doubling from min to max, with jitter). Defaults DefaultMinBackoff
	// (100 ms) and DefaultMaxBackoff (10 s), or MinBackoff if larger.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one connection attempt. Default DefaultDialTimeout
	// (10 s).
	DialTimeout time.Duration
	// Logger receives the client's logs. Default slog.Default().
	Logger *slog.Logger
	// OnRejected, when set, is called (from an internal goroutine) for
	// every queued commit or schema registration the server refused; the
	// local change has been rolled back. Default: none (the rejection is
	// logged, and returned to a commit made with Confirmed).
	OnRejected func(*RejectedError)

	// dial replaces the WebSocket transport (tests).
	dial func(ctx context.Context, h wire.Handler) (transport, error)
}

// WithDefaults returns o with every unset field set to its default.
func (o Options) WithDefaults() Options {
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports every problem with the options (defaults applied) at
// once.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	if o.MinBackoff < 0 {
		errs = append(errs, fmt.Errorf("MinBackoff %v: must be positive", o.MinBackoff))
	}
	if o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("MaxBackoff %v: must be at least MinBackoff (%v)", o.MaxBackoff, o.MinBackoff))
	}
	if o.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("DialTimeout %v: must be positive", o.DialTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("client options: %w", errors.Join(errs...))
	}
	return nil
}
