package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/ankurah/ankurah-go/internal/wire"
)

// Options configure a client. The zero value is usable.
type Options struct {
	// Token is sent in the handshake (a JWT once authorisation exists).
	Token string
	// ClientName names the program in the server's logs, e.g. "my-app/1.0".
	ClientName string
	// CacheFile, when set, keeps the cache and the queue of unconfirmed
	// commits in this file, so that they survive a restart. One client
	// at a time may use a file.
	CacheFile string
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (doubling from min to max, with jitter). Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one connection attempt. Default 10 s.
	DialTimeout time.Duration
	// Logger receives the client's logs. Default slog.Default().
	Logger *slog.Logger
	// OnRejected, when set, is called (from an internal goroutine) for
	// every queued commit or schema registration the server refused; the
	// local change has been rolled back.
	OnRejected func(*RejectedError)

	// dial replaces the WebSocket transport (tests).
	dial func(ctx context.Context, h wire.Handler) (transport, error)
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
