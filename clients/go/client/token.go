package client

import (
	"context"
	"fmt"
	"time"

	"github.com/ankurah/ankurah-go/protocol"
)

// token is the token for a new connection.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.opts.TokenSource == nil {
		return c.opts.Token, nil
	}
	tok, err := c.opts.TokenSource(ctx)
	if err != nil {
		return "", fmt.Errorf("ankurah client: getting a token: %w", err)
	}
	return tok, nil
}

// tokenExpiring: the server says the connection's token expires at the
// given time (from pushes). With a TokenSource, a fresh token is sent on
// the same connection (auth), so the live queries carry on; without one,
// the connection ends then and the next one uses Token again.
func (c *Client) tokenExpiring(at time.Time) {
	t, _ := c.current()
	if t == nil {
		return
	}
	if c.opts.TokenSource == nil {
		c.log.Warn("ankurah client: the connection's token expires soon and there is no TokenSource to refresh it", "expires", at)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithDeadline(c.ctx, at)
		defer cancel()
		tok, err := c.opts.TokenSource(ctx)
		if err == nil {
			err = call(ctx, t, &protocol.Request{Type: protocol.TypeAuth, Token: tok}, nil)
		}
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("ankurah client: refreshing the token failed; the connection ends when it expires", "expires", at, "err", err)
		}
	}()
}
