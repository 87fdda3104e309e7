package yjs

import (
	"unicode/utf8"
)

// ID names one unit of content: the client that created it and that client's
// clock (a counter of the units it has created, from 0).
type ID struct {
	Client uint64
	Clock  uint64
}

// structKind is what a struct is (Yjs's Item, GC and Skip classes).
type structKind uint8

const (
	kindItem structKind = iota
	kindGC              // a run of garbage-collected units: length only
	kindSkip            // a gap in an update (never stored in a document)
)

// contentKind is an item's content reference number, as written in the low
// five bits of a struct's info byte.
type contentKind uint8

const (
	contentDeleted contentKind = 1
	contentJSON    contentKind = 2
	contentBinary  contentKind = 3
	contentString  contentKind = 4
	contentEmbed   contentKind = 5
	contentFormat  contentKind = 6
	contentType    contentKind = 7
	contentAny     contentKind = 8
	contentDoc     contentKind = 9

	refGC   = 0
	refSkip = 10
)

// Item flags.
const (
	flagDeleted   uint8 = 1 << iota
	flagCountable       // content counts towards positions (not formats nor deleted content)
	flagOrigin          // origin is set
	flagRightOrig       // rightOrigin is set
	flagParentSub       // parentSub is set (a map entry)
	flagDead            // merged into its left neighbour or replaced by a GC struct: no longer in the document
)

// item is a struct of an update or a document: Yjs's Item, or (by kind) GC
// and Skip. One type for all three keeps the store a plain slice.
type item struct {
	id     ID
	length uint64 // in units: UTF-16 code units for strings, elements otherwise
	kind   structKind
	ckind  contentKind
	flags  uint8

	origin      ID // the unit this item was inserted after (flagOrigin)
	rightOrigin ID // the unit it was inserted before (flagRightOrig)

	left, right *item  // neighbours in the parent's list, once integrated
	parent      *ytype // nil until integrated (and for items integrated as GC)
	parentSub   string // map key (flagParentSub)

	// str is the content of a string item, in UTF-8 (Yjs holds UTF-16; a
	// string split inside a surrogate pair holds U+FFFD on both sides, as in
	// Yjs). Its length in UTF-16 units is length.
	str []byte
	ext *itemExt // rarely used fields
}

// itemExt holds what text items never need: the unresolved parent of a
// decoded struct and the content of foreign kinds, kept encoded so that it is
// passed on byte for byte.
type itemExt struct {
	parentKey    string // a root type's name, before integration
	parentID     ID     // the item holding the parent type, before integration
	hasParentKey bool
	hasParentID  bool

	raw   []byte   // encoded content of binary, embed, format, type and doc items
	elems [][]byte // encoded elements of JSON and any items
	typ   *ytype   // the type a type item holds, once integrated
}

func (it *item) has(f uint8) bool { return it.flags&f != 0 }

func (it *item) deleted() bool {
	return it.kind != kindItem || it.flags&flagDeleted != 0
}

func (it *item) lastID() ID { return ID{it.id.Client, it.id.Clock + it.length - 1} }

func (it *item) ensureExt() *itemExt {
	if it.ext == nil {
		it.ext = &itemExt{}
	}
	return it.ext
}

func isCountable(k contentKind) bool {
	return k != contentDeleted && k != contentFormat
}

// spliceContent cuts the content at offset units: it keeps the left part and
// puts the right part in right (Yjs's content.splice). it.length must still be
// the length before the cut. For strings a cut inside a surrogate pair leaves U+FFFD on
// both sides, as Yjs's ContentString does.
func (it *item) spliceContent(offset uint64, right *item) {
	right.ckind = it.ckind
	switch it.ckind {
	case contentString:
		l, r := splitUTF16(it.str, int(offset), int(it.length))
		it.str, right.str = l, r
	case contentJSON, contentAny:
		right.ext = &itemExt{elems: it.ext.elems[offset:len(it.ext.elems):len(it.ext.elems)]}
		it.ext.elems = it.ext.elems[:offset:offset]
	}
}

// dropContentPrefix removes the first offset units of the content (an item
// integrated from an offset); it.length must still be the length before.
func (it *item) dropContentPrefix(offset uint64) {
	switch it.ckind {
	case contentString:
		_, it.str = splitUTF16(it.str, int(offset), int(it.length))
	case contentJSON, contentAny:
		it.ext.elems = it.ext.elems[offset:len(it.ext.elems):len(it.ext.elems)]
	}
}

// mergeContent appends right's content to it's if the kind merges (Yjs's
// content.mergeWith).
func (it *item) mergeContent(right *item) bool {
	switch it.ckind {
	case contentString:
		it.str = append(it.str, right.str...)
		return true
	case contentDeleted:
		return true
	case contentJSON, contentAny:
		it.ext.elems = append(it.ext.elems, right.ext.elems...)
		return true
	}
	return false
}

// replacement is U+FFFD in UTF-8.
const replacement = "\uFFFD"

// utf16Len is the length of a UTF-8 string in UTF-16 code units.
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			i++
		case c < 0xE0:
			i += 2
		case c < 0xF0:
			i += 3
		default:
			i += 4
			n++ // a surrogate pair
		}
		n++
	}
	return n
}

// utf16Offset returns the byte index in b of UTF-16 unit u, and whether u
// falls between the two halves of a surrogate pair (then the index is that of
// the pair's code point).
// total is b's length in UTF-16 units: when it equals the byte length, b is
// ASCII and the answer is immediate.
func utf16Offset(b []byte, u, total int) (idx int, inPair bool) {
	if total == len(b) {
		return u, false
	}
	n := 0
	for i := 0; i < len(b); {
		if n == u {
			return i, false
		}
		c := b[i]
		switch {
		case c < 0x80:
			i++
		case c < 0xE0:
			i += 2
		case c < 0xF0:
			i += 3
		default:
			if n+1 == u {
				return i, true
			}
			i += 4
			n++
		}
		n++
	}
	return len(b), false
}

// splitUTF16 cuts b at UTF-16 unit u. The left part has its capacity capped so
// that appending to it never writes into the right part.
func splitUTF16(b []byte, u, total int) (left, right []byte) {
	i, inPair := utf16Offset(b, u, total)
	if !inPair {
		return b[:i:i], b[i:]
	}
	_, size := utf8.DecodeRune(b[i:])
	left = append(append(make([]byte, 0, i+3), b[:i]...), replacement...)
	right = append(append(make([]byte, 0, len(b)-i-size+3), replacement...), b[i+size:]...)
	return left, right
}
