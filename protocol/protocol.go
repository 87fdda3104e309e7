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
	"time"
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
	// TypeAuth replaces the connection's token (a refresh, before it
	// expires) without touching its subscriptions.
	TypeAuth = "auth"
)

// Frame types sent by servers.
const (
	TypeWelcome = "welcome"
	TypeResult  = "result"
	TypeError   = "error"
	TypeChanges = "changes"
	TypeSchema  = "schema" // a collection's schema changed (made with SQL: a field added, dropped, renamed or retyped, the table renamed or dropped)
	// TypeTokenExpiring says the connection's token expires soon: send a
	// fresh one with auth, or the connection ends (close 4003).
	TypeTokenExpiring = "token_expiring"
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
	// Authentication and authorisation (docs/security.md).
	CodeUnauthenticated  = "unauthenticated"   // no token where one is needed, or one that does not verify
	CodeTokenExpired     = "token_expired"     // the connection's token expired without a refresh
	CodePermissionDenied = "permission_denied" // the policy does not allow this principal to do this
	CodeRateLimited      = "rate_limited"      // the connection sent more than its limit allows
	CodeTooComplex       = "too_complex"       // a query or schema change over the server's limits
)

// WebSocket close statuses of our own (4000–4999 is the application range).
const (
	CloseSlowConsumer    = 4001
	CloseHandshakeFailed = 4002
	CloseTokenExpired    = 4003
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

	// hello, auth
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
	// Author is who made the change (set by the server; ignored in commits).
	Author string `json:"author,omitempty"`
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
// Refers names the collection whose keys a field's values are (a foreign
// key between adopted tables; the values stay the app's keys).
type Field struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Refers string `json:"refers,omitempty"`
}

// SchemaChange is one change of a collection's schema, pushed in a
// schema frame: Kind is add_field, drop_field, rename_field,
// retype_field, rename_table, drop_table, adopt or key_changed.
type SchemaChange struct {
	ID         string `json:"id"` // a ULID: changes are ordered by it
	Collection string `json:"collection"`
	Kind       string `json:"kind"`
	Field      string `json:"field,omitempty"`    // the field (after a rename, its new name)
	OldName    string `json:"old_name,omitempty"` // rename_field: the old field name; rename_table: the old schema.table
	OldType    string `json:"old_type,omitempty"`
	NewType    string `json:"new_type,omitempty"`
	Detail     string `json:"detail,omitempty"`
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
	// Subject is who the connection acts for (its token's sub), absent for
	// an anonymous connection; ExpiresAt is when its token expires.
	Subject   string     `json:"subject,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// TokenExpiring is the push that asks for a fresh token.
type TokenExpiring struct {
	Type      string    `json:"type"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AuthResult answers auth: who the connection now acts for.
type AuthResult struct {
	Subject   string     `json:"subject,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
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

	// schema
	Change     *SchemaChange `json:"change,omitempty"`
	Collection *Collection   `json:"collection,omitempty"` // the collection's schema after the change (absent: the collection was dropped)

	// welcome
	Protocol int    `json:"protocol,omitempty"`
	Server   string `json:"server,omitempty"`
	Session  string `json:"session,omitempty"`
	Limits   Limits `json:"limits,omitempty"`
	Subject  string `json:"subject,omitempty"`

	// welcome, token_expiring
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
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
