// Package protocol holds Ankurah's wire protocol, version 1 (docs/protocol.md):
// the frames clients and servers exchange over WebSocket, their decoding and
// validation, and the conversions between wire objects and the core types.
//
// Decoding is strict about what it accepts and exact about why it refuses:
// every refusal is an *Error with a stable code that goes back to the client.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package protocol

import (
	"encoding/json"
	"fmt"
)

// Version is the protocol version this package speaks.
const Version = 1

// Frame types sent by clients.
const (
	TypeHello              = "hello"
	TypeSubscribe          = "subscribe"
	TypeUpdateSubscription = "update_subscription"
	TypeUnsubscribe        = "unsubscribe"
	TypeFetch              = "fetch"
	TypeGet                = "get"
	TypeGetEvents          = "get_events"
	TypeCommit             = "commit"
	TypeRegisterSchema     = "register_schema"
	TypeCollections        = "collections"
	// TypePing asks for an empty result: a client's own keepalive (browsers
	// cannot send WebSocket pings).
	TypePing = "ping"
)

// Frame types sent by servers.
const (
	TypeWelcome = "welcome"
	TypeResult  = "result"
	TypeError   = "error"
	TypeChanges = "changes"
)

// Error codes of the protocol layer. Storage and query codes (no_collection,
// type_mismatch, parse_error, …) pass through unchanged.
const (
	CodeBadFrame              = "bad_frame"
	CodeUnsupportedFrame      = "unsupported_frame"
	CodeUnknownType           = "unknown_type"
	CodeBadRequest            = "bad_request"
	CodeHandshakeRequired     = "handshake_required"
	CodeUnsupportedProtocol   = "unsupported_protocol"
	CodeDuplicateSubscription = "duplicate_subscription"
	CodeUnknownSubscription   = "unknown_subscription"
	CodeTooManySubscriptions  = "too_many_subscriptions"
	CodeTooManyEvents         = "too_many_events"
	CodeSlowConsumer          = "slow_consumer"
	CodeShuttingDown          = "shutting_down"
	CodeInternal              = "internal"
)

// WebSocket close statuses of our own (4000–4999 is the application range).
const (
	CloseSlowConsumer    = 4001
	CloseHandshakeFailed = 4002
)

// Limits on what one request may carry.
const (
	MaxSubName = 64   // bytes of a subscription name
	MaxIDs     = 1000 // ids in a get / get_events request
	MaxKnown   = 100_000
	maxReqID   = 1<<53 - 1
)

// Error is a coded protocol error: what travels in an error frame.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Offset is the byte offset in the query text, for query errors.
	Offset *int `json:"offset,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Request is any frame a client sends. Which members matter depends on Type;
// Decode checks that the ones a type needs are present and well formed.
type Request struct {
	Type string `json:"type"`
	ID   uint64 `json:"id,omitempty"`

	// hello
	Protocol int    `json:"protocol,omitempty"`
	Token    string `json:"token,omitempty"`
	Client   string `json:"client,omitempty"`

	// subscribe, update_subscription, unsubscribe, fetch, get, get_events
	Sub        string              `json:"sub,omitempty"`
	Collection string              `json:"collection,omitempty"`
	Query      string              `json:"query,omitempty"`
	Args       []json.RawMessage   `json:"args,omitempty"`
	Known      map[string][]string `json:"known,omitempty"`
	IDs        []string            `json:"ids,omitempty"`
	EntityID   string              `json:"entity_id,omitempty"`

	// commit
	Events []Event `json:"events,omitempty"`

	// register_schema
	Collections []Collection `json:"collections,omitempty"`
}

// Event is an event on the wire. Operations are kept raw until the
// collection's schema says what type each value has.
type Event struct {
	ID         string                     `json:"id"`
	Collection string                     `json:"collection"`
	EntityID   string                     `json:"entity_id"`
	Parents    []string                   `json:"parents"`
	Operations map[string]json.RawMessage `json:"operations"`
	Delete     bool                       `json:"delete,omitempty"`
}

// Entity is an entity's state on the wire.
type Entity struct {
	ID         string                     `json:"id"`
	Collection string                     `json:"collection,omitempty"`
	Head       []string                   `json:"head"`
	Values     map[string]json.RawMessage `json:"values,omitempty"`
	// Yjs holds the Yjs documents of ytext fields (docs/text.md), field →
	// the document's state (a Yjs update, format v1) in standard base64,
	// where the sender has them at hand (see docs/protocol.md).
	Yjs       map[string]string `json:"yjs,omitempty"`
	Deleted   bool              `json:"deleted,omitempty"`
	Unchanged bool              `json:"unchanged,omitempty"`
}

// Collection is a collection's schema on the wire.
type Collection struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
}

// Field is one typed field; Type is a type name (text, bigint, …).
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Limits are what a server tells a client in its welcome.
type Limits struct {
	MaxFrameBytes    int `json:"max_frame_bytes"`
	MaxSubscriptions int `json:"max_subscriptions"`
	MaxCommitEvents  int `json:"max_commit_events"`
}

// Welcome is the server's answer to hello.
type Welcome struct {
	Type     string `json:"type"`
	Protocol int    `json:"protocol"`
	Server   string `json:"server"`
	Session  string `json:"session"`
	Limits   Limits `json:"limits"`
}

// Item is one entry of a changes frame.
type Item struct {
	Sub    string  `json:"sub"`
	Kind   string  `json:"kind"` // add, update, remove
	Entity Entity  `json:"entity"`
	Events []Event `json:"events,omitempty"`
}

// ServerFrame is any frame a server sends, as a client decodes it.
type ServerFrame struct {
	Type   string          `json:"type"`
	ID     uint64          `json:"id,omitempty"`
	Sub    string          `json:"sub,omitempty"` // an error that ended this subscription
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	Items  []Item          `json:"items,omitempty"`

	// welcome
	Protocol int    `json:"protocol,omitempty"`
	Server   string `json:"server,omitempty"`
	Session  string `json:"session,omitempty"`
	Limits   Limits `json:"limits,omitempty"`
}

// SubscribeResult is the result of subscribe and update_subscription.
type SubscribeResult struct {
	Sub      string   `json:"sub"`
	Entities []Entity `json:"entities"`
	Removed  []string `json:"removed"`
}

// EntitiesResult is the result of fetch, get and commit.
type EntitiesResult struct {
	Entities []Entity `json:"entities"`
}

// EventsResult is the result of get_events.
type EventsResult struct {
	Events []Event `json:"events"`
}

// CollectionsResult is the result of register_schema and collections.
type CollectionsResult struct {
	Collections []Collection `json:"collections"`
}
