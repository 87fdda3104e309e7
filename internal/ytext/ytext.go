// Package ytext holds the Yjs documents of ytext fields (docs/text.md) on
// behalf of the packages that merge, store and edit them: entity (merging
// events), the stores (the runs the SQL triggers need), node (local edits)
// and the clients.
//
// A document travels and is stored as its state (internal/yjs's
// EncodeStateAsUpdate). Rebuilding a document from its state costs about a
// millisecond for a long-edited one (docs/benchmarks.md), while applying a
// keystroke's update costs microseconds, so the documents last produced are
// kept in a process-wide cache keyed by their state's bytes: the next
// update to the same document finds it there instead of loading it again.
// A state is not canonical — two replicas that merged the same updates
// hold the same text and state vector, but their encoded states may split
// the text into items differently — so nothing compares states byte for
// byte.
package ytext

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/ankurah/ankurah-go/internal/yjs"
)

// Doc is a document's state and what callers need of it.
type Doc struct {
	State   []byte // the document as one update (format v1)
	Text    string
	Pending bool // structs or deletes wait for updates not applied
}

// ErrMalformed is wrapped by the errors of updates or states that do not
// decode (yjs.ErrMalformed).
var ErrMalformed = yjs.ErrMalformed

// Check reports whether update is a well-formed Yjs update (format v1), by
// applying it to an empty document. It changes nothing anywhere.
func Check(update []byte) error {
	if len(update) == 0 {
		return fmt.Errorf("%w: an empty update", yjs.ErrMalformed)
	}
	return yjs.NewDoc(yjs.Options{ClientID: 1}).ApplyUpdate(update)
}

// Merge applies updates, in order, to the document whose state is state
// (nil or empty: a new document) and returns the result. A malformed update
// is an error and the result is not produced.
func Merge(state []byte, updates ...[]byte) (Doc, error) {
	d, err := open(state)
	if err != nil {
		return Doc{}, err
	}
	for _, u := range updates {
		if err := d.ApplyUpdate(u); err != nil {
			// ApplyUpdate refuses a malformed update whole, so d still
			// holds state: keep it for the next caller.
			cached.put(bytes.Clone(state), d)
			return Doc{}, err
		}
	}
	return finish(d), nil
}

// Editor makes local edits to a document: a transaction's edits of one
// ytext field. Its document is its own; its client id is random, as a Yjs
// replica's is. Positions are UTF-16 code units, as in Yjs.
type Editor struct {
	d       *yjs.Doc
	before  yjs.StateVector
	updates [][]byte
}

// NewEditor returns an editor of the document whose state is state (nil or
// empty: a new document).
func NewEditor(state []byte) (*Editor, error) {
	d, err := yjs.Load(state, yjs.Options{})
	if len(state) == 0 {
		d, err = yjs.NewDoc(yjs.Options{}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("stored Yjs document: %w", err)
	}
	return &Editor{d: d, before: d.StateVector()}, nil
}

// Insert inserts s at position pos.
func (e *Editor) Insert(pos int, s string) error { return e.add(e.d.Insert(pos, s)) }

// Delete deletes n units from position pos.
func (e *Editor) Delete(pos, n int) error { return e.add(e.d.Delete(pos, n)) }

// Replace makes the text s with one deletion and one insertion around the
// longest common prefix and suffix.
func (e *Editor) Replace(s string) error { return e.add(e.d.ReplaceText(s)) }

// Apply merges a remote update into the editor's document.
func (e *Editor) Apply(update []byte) error { return e.d.ApplyUpdate(update) }

func (e *Editor) add(u []byte, err error) error {
	if err != nil {
		return err
	}
	if u != nil {
		e.updates = append(e.updates, u)
	}
	return nil
}

// Text returns the document's text; Len its length in UTF-16 units.
func (e *Editor) Text() string { return e.d.Text() }
func (e *Editor) Len() int     { return e.d.Len() }

// Changed reports whether any edit changed the document.
func (e *Editor) Changed() bool { return len(e.updates) > 0 }

// Update returns one update holding every edit made: the edit's own update
// (byte for byte what Yjs would send) when there was one, else what the
// document gained since the editor opened it, with its whole delete set
// (as Yjs's diffs carry it).
func (e *Editor) Update() ([]byte, error) {
	switch len(e.updates) {
	case 0:
		return nil, nil
	case 1:
		return e.updates[0], nil
	}
	return e.d.EncodeDiff(e.before.Encode())
}

// Text returns the text of a stored document.
func Text(state []byte) (string, error) {
	d, err := open(state)
	if err != nil {
		return "", err
	}
	cached.put(bytes.Clone(state), d)
	return d.Text(), nil
}

// Runs returns the visible text of a stored document as runs of ids in
// document order (yjs.Doc.Runs) and the document's state vector.
func Runs(state []byte) ([]yjs.Run, yjs.StateVector, error) {
	d, err := open(state)
	if err != nil {
		return nil, nil, err
	}
	runs, sv := d.Runs(), d.StateVector()
	cached.put(bytes.Clone(state), d)
	return runs, sv, nil
}

// Open returns a document holding state for the caller to keep and edit
// (a new one for an empty state).
func Open(state []byte) (*yjs.Doc, error) { return open(state) }

func finish(d *yjs.Doc) Doc {
	out := Doc{State: d.EncodeStateAsUpdate(), Text: d.Text(), Pending: d.Pending()}
	cached.put(out.State, d)
	return out
}

// open takes the document of state out of the cache, or loads it. The
// caller owns it; it goes back into the cache under the state it ends
// with (finish, or put).
func open(state []byte) (*yjs.Doc, error) {
	if len(state) == 0 {
		return yjs.NewDoc(yjs.Options{}), nil
	}
	if d := cached.take(state); d != nil {
		return d, nil
	}
	d, err := yjs.Load(state, yjs.Options{})
	if err != nil {
		return nil, fmt.Errorf("stored Yjs document: %w", err)
	}
	return d, nil
}

// The cache: documents by the exact bytes of their state, least recently
// used first out, within a budget of estimated memory (a document holds
// roughly ten to twelve times its state in memory: BenchmarkApplyKeystrokes).
const (
	cacheBudget   = 64 << 20
	memPerByte    = 12
	minCacheState = 256 // smaller states load in microseconds: not worth a slot
)

type entry struct {
	key   uint64
	state []byte
	doc   *yjs.Doc
}

type docCache struct {
	mu    sync.Mutex
	seed  maphash.Seed
	byKey map[uint64][]*list.Element
	lru   list.List // front: most recent
	bytes int
}

var cached = &docCache{seed: maphash.MakeSeed(), byKey: map[uint64][]*list.Element{}}

func (c *docCache) take(state []byte) *yjs.Doc {
	if len(state) < minCacheState {
		return nil
	}
	k := maphash.Bytes(c.seed, state)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byKey[k] {
		e := el.Value.(*entry)
		if bytes.Equal(e.state, state) {
			c.remove(el)
			return e.doc
		}
	}
	return nil
}

func (c *docCache) put(state []byte, d *yjs.Doc) {
	if len(state) < minCacheState || len(state)*memPerByte > cacheBudget/4 {
		return
	}
	k := maphash.Bytes(c.seed, state)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byKey[k] {
		if bytes.Equal(el.Value.(*entry).state, state) {
			return // the same document is cached already
		}
	}
	el := c.lru.PushFront(&entry{key: k, state: state, doc: d})
	c.byKey[k] = append(c.byKey[k], el)
	c.bytes += len(state) * memPerByte
	for c.bytes > cacheBudget {
		c.remove(c.lru.Back())
	}
}

func (c *docCache) remove(el *list.Element) {
	e := el.Value.(*entry)
	c.lru.Remove(el)
	c.bytes -= len(e.state) * memPerByte
	els := c.byKey[e.key]
	for i, x := range els {
		if x == el {
			els = append(els[:i], els[i+1:]...)
			break
		}
	}
	if len(els) == 0 {
		delete(c.byKey, e.key)
	} else {
		c.byKey[e.key] = els
	}
}

// IsMalformed reports an error caused by bytes that are not a Yjs update.
func IsMalformed(err error) bool { return errors.Is(err, yjs.ErrMalformed) }
