package client

import (
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
)

// RejectedError is a queued commit (or schema registration) the server
// refused. Its local effects have been rolled back.
type RejectedError struct {
	Events []event.Event      // the transaction's events (nil for a schema)
	Schema *schema.Collection // the schema registration (nil for a commit)
	Err    error              // the server's answer, usually a *protocol.Error
}

func (e *RejectedError) Error() string {
	if e.Schema != nil {
		return fmt.Sprintf("ankurah client: the server refused to register collection %s: %v", e.Schema.Name, e.Err)
	}
	return fmt.Sprintf("ankurah client: the server rejected a transaction of %d event(s): %v", len(e.Events), e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// ErrClosed is returned by a client that has been closed.
var ErrClosed = errors.New("ankurah client: closed")

// NotConfirmedError: a commit made with Confirmed(ctx) whose context ended
// before the server answered. The commit is applied locally and still
// queued; it is sent when the client can.
type NotConfirmedError struct{ Err error }

func (e *NotConfirmedError) Error() string {
	return "ankurah client: committed locally and queued, but not yet confirmed by the server: " + e.Err.Error()
}

func (e *NotConfirmedError) Unwrap() error { return e.Err }
