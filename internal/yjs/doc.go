// Package yjs is a Go implementation of Yjs documents holding text: update
// format v1, byte-compatible with the yjs npm package. A Doc applies updates
// from any replica in any order, makes local edits at UTF-16 positions and
// returns their updates, and encodes its state, its state vector and diffs.
// It is proved against the real yjs package by TestDifferential (see
// docs/text.md). It is internal: its API may change with its users.
package yjs

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// DefaultTextName is the name of the root type that holds the text, unless
// Options.TextName says otherwise: a TypeScript client reads it with
// doc.getText("text").
const DefaultTextName = "text"

// Options configure a Doc. The zero value is valid.
type Options struct {
	// TextName is the name of the root type holding the text. Default:
	// DefaultTextName.
	TextName string
	// ClientID is this replica's client id. Default (0): a random uint32, as
	// Yjs picks. Two replicas editing at once must not share one.
	ClientID uint64
	// DisableGC keeps the content of deleted text (Yjs's gc: false). By
	// default, as in Yjs, deleted content is dropped when the transaction
	// that deleted it ends: only its length stays, so states stay small.
	DisableGC bool
}

// ErrInvalidEdit is wrapped by the errors of local edits that cannot be made:
// a position or range outside the text, one that would cut a surrogate pair
// (an emoji, say) in two, or text that is not valid UTF-8.
var ErrInvalidEdit = errors.New("yjs: invalid edit")

// ErrInternal is wrapped by the error of an operation that hit a broken
// invariant of this package (a bug). The Doc refuses every later operation
// with that error rather than go on from an unknown state.
var ErrInternal = errors.New("yjs: internal error")

// Doc is a Yjs document holding one text (a Y.Text under one root name),
// compatible with the yjs npm package's update format v1. Other content in
// the document (other root types, formatting marks, embeds) is kept and
// passed on but is not part of Text.
//
// A Doc is not safe for concurrent use.
type Doc struct {
	textName string
	gc       bool
	clientID uint64

	share   map[string]*ytype
	clients map[uint64][]*item

	pending   *pendingStructs
	pendingDS deleteSet

	broken error
}

// NewDoc returns an empty document.
func NewDoc(opts Options) *Doc {
	d := &Doc{
		textName: opts.TextName,
		gc:       !opts.DisableGC,
		clientID: opts.ClientID,
		share:    map[string]*ytype{},
		clients:  map[uint64][]*item{},
	}
	if d.textName == "" {
		d.textName = DefaultTextName
	}
	if d.clientID == 0 {
		d.clientID = d.newClientID()
	}
	return d
}

// Load returns a document holding state (an update, typically one returned
// by EncodeStateAsUpdate). The client id is set after the state is applied,
// so a replica may reload its own state and keep its id.
func Load(state []byte, opts Options) (*Doc, error) {
	id := opts.ClientID
	opts.ClientID = 1
	d := NewDoc(opts)
	if err := d.ApplyUpdate(state); err != nil {
		return nil, err
	}
	if id == 0 {
		id = d.newClientID()
	}
	d.clientID = id
	return d, nil
}

func (d *Doc) newClientID() uint64 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return uint64(binary.LittleEndian.Uint32(b[:]))
}

// ClientID returns the client id that local edits are made with. Applying an
// update that holds structs of this id (another replica using it) makes the
// document take a new random one, as Yjs does.
func (d *Doc) ClientID() uint64 { return d.clientID }

// SetClientID sets the client id of the next local edits.
func (d *Doc) SetClientID(id uint64) { d.clientID = id }

// TextName returns the name of the root type holding the text.
func (d *Doc) TextName() string { return d.textName }

// guard turns a panic (a bug of this package) into an error that wraps
// ErrInternal and marks the document broken.
func (d *Doc) guard(err *error) {
	if r := recover(); r != nil {
		d.broken = fmt.Errorf("%w: %v", ErrInternal, r)
		*err = d.broken
	}
}

// ApplyUpdate applies an update (format v1) from any replica, in any order
// and any number of times. Structs whose dependencies have not arrived wait
// in the document, as in Yjs, and are integrated when they do; so do deletes
// of content not yet here. A malformed update (an error wrapping
// ErrMalformed) changes nothing.
func (d *Doc) ApplyUpdate(update []byte) (err error) {
	if d.broken != nil {
		return d.broken
	}
	u, err := decodeUpdate(update)
	if err != nil {
		return err
	}
	defer d.guard(&err)
	tx := d.begin(false)
	d.readUpdate(tx, u.clients, u.ds)
	d.finish(tx, false)
	return nil
}

// EncodeStateAsUpdate returns the whole document as one update (Yjs's
// encodeStateAsUpdate), pending structs and deletes included. Deleted content
// is already collected unless DisableGC is set.
func (d *Doc) EncodeStateAsUpdate() []byte {
	return d.encodeDiff(nil)
}

// EncodeDiff returns what a replica whose encoded state vector is sv lacks,
// as one update (Yjs's encodeStateAsUpdate(doc, sv)). Like Yjs's, it carries
// the document's whole delete set.
func (d *Doc) EncodeDiff(sv []byte) ([]byte, error) {
	v, err := DecodeStateVector(sv)
	if err != nil {
		return nil, err
	}
	return d.encodeDiff(v), nil
}

func (d *Doc) encodeDiff(sv StateVector) []byte {
	var e encoder
	d.writeClientsStructs(&e, sv, true)
	ds := d.deleteSetFromStore()
	if d.pending != nil || d.pendingDS != nil {
		ds = mergeDeleteSets(ds, d.pendingDS)
	}
	e.writeDeleteSet(ds)
	return e.buf
}

// StateVector returns the document's state vector: for each client, the
// number of its units integrated (pending structs not counted).
func (d *Doc) StateVector() StateVector { return d.stateVector() }

// EncodeStateVector returns the encoded state vector (Yjs's
// encodeStateVector).
func (d *Doc) EncodeStateVector() []byte { return d.stateVector().Encode() }

// Pending reports whether structs or deletes wait for updates that have not
// arrived.
func (d *Doc) Pending() bool { return d.pending != nil || d.pendingDS != nil }
