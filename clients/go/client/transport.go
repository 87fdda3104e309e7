package client

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// transport is one protocol session: a *wire.Conn dialled with the
// client's Handler (pushes), so that answers and pushed changes reach the
// client in exactly the order the server sent them, from the connection's
// one reader goroutine — a subscription's result is applied before the
// changes that follow it, and an update_subscription's result after the
// changes that preceded it. Tests wrap one (resubscribe_test.go).
type transport interface {
	Send(req *protocol.Request, fn func(json.RawMessage, error)) error
	Welcome() protocol.Welcome
	Done() <-chan struct{}
	Err() error
	Close() error
}

var _ transport = (*wire.Conn)(nil)

// pushes is the client's wire.Handler.
type pushes struct{ c *Client }

func (p pushes) Changes(items []protocol.Item)         { p.c.pushed(items) }
func (p pushes) Ended(sub string, err *protocol.Error) { p.c.subEnded(sub, err) }
func (p pushes) TokenExpiring(at time.Time)            { p.c.tokenExpiring(at) }
func (p pushes) Schema(f *protocol.ServerFrame) {
	if f.Change != nil {
		p.c.schemaChanged(*f.Change, f.Collection)
	}
}

// call sends a request and waits for its answer; fn (may be nil) runs on
// the reader goroutine with the result, before any later frame is handled.
// When ctx ends first, call returns and fn still runs when the answer
// arrives.
func call(ctx context.Context, t transport, req *protocol.Request, fn func(json.RawMessage) error) error {
	done := make(chan error, 1)
	err := t.Send(req, func(raw json.RawMessage, err error) {
		if err == nil && fn != nil {
			err = fn(raw)
		}
		done <- err
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
