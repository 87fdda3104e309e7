package client

import (
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
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

// IsRejected reports whether err is, or wraps, a *RejectedError: the server
// refused a queued commit or schema registration, and its local effects
// have been rolled back. Sending it again would be refused again.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// IsNotConfirmed reports whether err is, or wraps, a *NotConfirmedError: a
// commit made with Confirmed(ctx) returned before the server answered. It is
// applied locally and still queued; Sync waits for its answer.
func IsNotConfirmed(err error) bool {
	var n *NotConfirmedError
	return errors.As(err, &n)
}

// IsDisconnected reports whether err says that the connection ended before
// the server answered a request (a read, a live query's subscription): its
// fate is unknown, and it may be sent again once the client is connected
// (WaitConnected).
func IsDisconnected(err error) bool { return errors.Is(err, wire.ErrClosed) }

// Code returns the error code carried by err — a *protocol.Error's, the
// server's (e.g. "missing_parents", "type_mismatch", "bad_query";
// docs/protocol.md lists them), a local *storage.Error's, or a
// *query.Error's (e.g. "parse_error", or "unknown_field" for a query that
// names a field its model lacks) — or "" when err carries none. Compare it
// with the protocol.Code*, storage.Code* and query.Code* constants, never
// with error text.
func Code(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return se.Code
	}
	var qe *query.Error
	if errors.As(err, &qe) {
		return qe.Code
	}
	return ""
}
