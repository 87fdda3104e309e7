package yjs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The text and local edits. Positions count UTF-16 code units of the text, as
// Y.Text's do (and JavaScript's string indexes); content that is not text
// (embeds, formatting marks from other clients) is not counted.

// Text returns the current text.
func (d *Doc) Text() string {
	t := d.share[d.textName]
	if t == nil {
		return ""
	}
	var b strings.Builder
	for it := t.start; it != nil; it = it.right {
		if it.ckind == contentString && !it.deleted() {
			b.Write(it.str)
		}
	}
	return b.String()
}

// Len returns the length of the text in UTF-16 code units.
func (d *Doc) Len() int {
	t := d.share[d.textName]
	if t == nil {
		return 0
	}
	n := 0
	for it := t.start; it != nil; it = it.right {
		if it.ckind == contentString && !it.deleted() {
			n += int(it.length)
		}
	}
	return n
}

// UTF16Len returns the length of s in UTF-16 code units: the unit of text
// positions.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// Insert inserts text at UTF-16 position pos and returns the update that
// describes the edit (nil if text is empty).
func (d *Doc) Insert(pos int, text string) ([]byte, error) {
	return d.edit(pos, 0, text)
}

// Delete deletes n UTF-16 code units of text from position pos and returns
// the update that describes the edit (nil if n is 0).
func (d *Doc) Delete(pos, n int) ([]byte, error) {
	return d.edit(pos, n, "")
}

// ReplaceText makes the text equal to text by one deletion and one insertion
// that keep the longest common prefix and suffix (whole code points), and
// returns the update that describes it (nil if the text is already equal).
// It is how a whole new value (an SQL UPDATE, say) becomes an edit that
// merges with concurrent ones.
func (d *Doc) ReplaceText(text string) ([]byte, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidEdit)
	}
	old := d.Text()
	if old == text {
		return nil, nil
	}
	p := 0
	for p < len(old) && p < len(text) && old[p] == text[p] {
		p++
	}
	for p > 0 && p < len(old) && !utf8.RuneStart(old[p]) {
		p--
	}
	s := 0
	for s < len(old)-p && s < len(text)-p && old[len(old)-1-s] == text[len(text)-1-s] {
		s++
	}
	for s > 0 && !utf8.RuneStart(old[len(old)-s]) {
		s--
	}
	pos := UTF16Len(old[:p])
	return d.edit(pos, UTF16Len(old[p:len(old)-s]), text[p:len(text)-s])
}

// edit deletes del units at pos, then inserts ins there, in one transaction.
func (d *Doc) edit(pos, del int, ins string) (update []byte, err error) {
	if d.broken != nil {
		return nil, d.broken
	}
	if !utf8.ValidString(ins) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidEdit)
	}
	if pos < 0 || del < 0 {
		return nil, fmt.Errorf("%w: negative position or length", ErrInvalidEdit)
	}
	if del == 0 && ins == "" {
		return nil, nil
	}
	t := d.rootType(d.textName)
	left, right, in, offset, err := d.seekChecked(t, pos)
	if err != nil {
		return nil, err
	}
	if del > 0 {
		if _, _, _, _, err := d.seekChecked(t, pos+del); err != nil {
			return nil, err
		}
	}
	defer d.guard(&err)
	tx := d.begin(true)
	if in != nil {
		r := d.getItemCleanStart(tx, ID{in.id.Client, in.id.Clock + offset})
		left, right = r.left, r
	}
	if del > 0 {
		n := uint64(del)
		for r := right; n > 0 && r != nil; r = r.right {
			if r.ckind != contentString || r.deleted() {
				continue
			}
			if n < r.length {
				d.getItemCleanStart(tx, ID{r.id.Client, r.id.Clock + n})
			}
			n -= r.length
			d.deleteItem(tx, r)
		}
	}
	if ins != "" {
		// Insert after deleted items at the position, as Yjs does.
		for right != nil && right.deleted() {
			left, right = right, right.right
		}
		it := &item{
			id:     ID{d.clientID, d.state(d.clientID)},
			length: uint64(UTF16Len(ins)),
			kind:   kindItem,
			ckind:  contentString,
			flags:  flagCountable,
			left:   left,
			right:  right,
			parent: t,
			str:    []byte(ins),
		}
		if left != nil {
			it.origin = left.lastID()
			it.flags |= flagOrigin
		}
		if right != nil {
			it.rightOrigin = right.id
			it.flags |= flagRightOrig
		}
		d.integrate(tx, it, 0)
	}
	return d.finish(tx, true), nil
}

// seek finds position pos without changing anything: the neighbours left and
// right of the position, or the item it falls inside (in, at offset units).
func (d *Doc) seek(t *ytype, pos int) (left, right, in *item, offset uint64, ok bool) {
	count := uint64(pos)
	right = t.start
	for right != nil && count > 0 {
		if right.ckind == contentString && !right.deleted() {
			if count < right.length {
				return nil, nil, right, count, true
			}
			count -= right.length
		}
		left, right = right, right.right
	}
	return left, right, nil, 0, count == 0
}

// seekChecked is seek that refuses a position past the end of the text or
// inside a surrogate pair.
func (d *Doc) seekChecked(t *ytype, pos int) (left, right, in *item, offset uint64, err error) {
	left, right, in, offset, ok := d.seek(t, pos)
	if !ok {
		return nil, nil, nil, 0, fmt.Errorf("%w: position %d is past the end of the text (%d)", ErrInvalidEdit, pos, d.Len())
	}
	if in != nil {
		if _, inPair := utf16Offset(in.str, int(offset), int(in.length)); inPair {
			return nil, nil, nil, 0, fmt.Errorf("%w: position %d is inside a surrogate pair", ErrInvalidEdit, pos)
		}
	}
	return left, right, in, offset, nil
}
