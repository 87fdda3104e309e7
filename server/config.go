package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Defaults.
const (
	DefaultListen           = "127.0.0.1:9797"
	DefaultMaxFrameBytes    = 1 << 20
	DefaultMaxSubscriptions = 1000
	DefaultMaxCommitEvents  = 1000
	DefaultQueueFrames      = 1024
	DefaultWriteTimeout     = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = 30 * time.Second
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
	// QueueFrames bounds each connection's queue of outgoing frames. A
	// client whose queue is full is disconnected as a slow consumer.
	// Default DefaultQueueFrames (1024).
	QueueFrames int
	// WriteTimeout is how long writing one frame to a client may take
	// before the client is disconnected as a slow consumer. Default
	// DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration
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
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
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
	setD(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setD(&c.PingInterval, DefaultPingInterval)
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
	for name, d := range map[string]time.Duration{"write timeout": c.WriteTimeout, "handshake timeout": c.HandshakeTimeout, "ping interval": c.PingInterval} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (got %s)", name, d))
		}
	}
	return errors.Join(errs...)
}
