package yjs

import "sort"

// Integration of structs into the document (Yjs's Item.js, GC.js): YATA
// conflict resolution, deletion, garbage collection and merging. The code
// follows Yjs line by line where the outcome depends on it, so that any order
// of delivery converges to the same document as Yjs's.

// parentKnown reports whether a decoded struct carries parent information of
// its own (a root name or a parent item), rather than copying it from a
// neighbour.
func (it *item) parentKnown() bool {
	return it.parent != nil || (it.ext != nil && (it.ext.hasParentKey || it.ext.hasParentID))
}

// getMissing returns the client of a struct that it depends on and that the
// document lacks, or else resolves its neighbours and parent and returns
// ok == false (Yjs's Item.getMissing).
func (d *Doc) getMissing(tx *txn, it *item) (client uint64, missing bool) {
	if it.kind != kindItem {
		return 0, false
	}
	if it.has(flagOrigin) && it.origin.Client != it.id.Client && it.origin.Clock >= d.state(it.origin.Client) {
		return it.origin.Client, true
	}
	if it.has(flagRightOrig) && it.rightOrigin.Client != it.id.Client && it.rightOrigin.Clock >= d.state(it.rightOrigin.Client) {
		return it.rightOrigin.Client, true
	}
	if it.ext != nil && it.ext.hasParentID {
		p := it.ext.parentID
		if p.Client != it.id.Client && p.Clock >= d.state(p.Client) {
			return p.Client, true
		}
	}
	// Everything referenced is here: find the neighbours.
	if it.has(flagOrigin) {
		it.left = d.getItemCleanEnd(tx, it.origin)
		it.origin = it.left.lastID()
	}
	if it.has(flagRightOrig) {
		it.right = d.getItemCleanStart(tx, it.rightOrigin)
		it.rightOrigin = it.right.id
	}
	switch {
	case (it.left != nil && it.left.kind == kindGC) || (it.right != nil && it.right.kind == kindGC):
		it.parent = nil
		it.clearParentRef()
	case !it.parentKnown():
		// Copy the parent from a neighbour (only if this is not to be collected).
		if it.left != nil && it.left.kind == kindItem {
			it.copyParent(it.left)
		} else if it.right != nil && it.right.kind == kindItem {
			it.copyParent(it.right)
		}
	case it.ext != nil && it.ext.hasParentID:
		p := d.find(it.ext.parentID)
		it.clearParentRef()
		if p.kind == kindItem && p.ckind == contentType && p.ext.typ != nil {
			it.parent = p.ext.typ
		} else {
			it.parent = nil // a collected parent, or an item that holds no type
		}
	case it.ext != nil && it.ext.hasParentKey:
		it.parent = d.rootType(it.ext.parentKey)
		it.clearParentRef()
	}
	return 0, false
}

func (it *item) clearParentRef() {
	if it.ext != nil {
		it.ext.hasParentKey, it.ext.hasParentID = false, false
		it.ext.parentKey = ""
	}
}

func (it *item) copyParent(from *item) {
	it.parent = from.parent
	it.parentSub = from.parentSub
	it.flags = it.flags&^flagParentSub | from.flags&flagParentSub
}

// integrate links a struct into the document, offset units from its start
// being known already (Yjs's Item.integrate and GC.integrate).
func (d *Doc) integrate(tx *txn, it *item, offset uint64) {
	if it.kind == kindGC {
		if offset > 0 {
			it.id.Clock += offset
			it.length -= offset
		}
		d.addStruct(it)
		return
	}
	if offset > 0 {
		it.id.Clock += offset
		it.left = d.getItemCleanEnd(tx, ID{it.id.Client, it.id.Clock - 1})
		it.origin = it.left.lastID()
		it.flags |= flagOrigin
		it.dropContentPrefix(offset)
		it.length -= offset
		if it.left.kind != kindItem {
			// Yjs would fail here; a struct after a collected one is collected.
			it.parent = nil
		}
	}
	parent := it.parent
	if parent == nil {
		d.addStruct(&item{id: it.id, length: it.length, kind: kindGC})
		it.flags |= flagDead
		return
	}
	if (it.left == nil && (it.right == nil || it.right.left != nil)) || (it.left != nil && it.left.right != it.right) {
		left := it.left
		var o *item
		switch {
		case left != nil:
			o = left.right
		case it.has(flagParentSub):
			o = parent.m[it.parentSub]
			for o != nil && o.left != nil {
				o = o.left
			}
		default:
			o = parent.start
		}
		// Let c be in conflicting, b in beforeOrigin:
		// ***{origin}bbbb{this}{c,b}{c,b}{o}***
		// conflicting is a subset of beforeOrigin.
		conflicting := map[*item]struct{}{}
		beforeOrigin := map[*item]struct{}{}
		for o != nil && o != it.right {
			beforeOrigin[o] = struct{}{}
			conflicting[o] = struct{}{}
			if sameOrigin(it, o) {
				// case 1
				if o.id.Client < it.id.Client {
					left = o
					clear(conflicting)
				} else if sameRightOrigin(it, o) {
					// Same integration points: the id decides, and this goes first.
					break
				}
			} else if o.has(flagOrigin) && isIn(beforeOrigin, d.find(o.origin)) {
				// case 2
				if !isIn(conflicting, d.find(o.origin)) {
					left = o
					clear(conflicting)
				}
			} else {
				break
			}
			o = o.right
		}
		it.left = left
	}
	// Link left and right, and the parent's start or map entry.
	if it.left != nil {
		it.right = it.left.right
		it.left.right = it
	} else {
		var r *item
		if it.has(flagParentSub) {
			r = parent.m[it.parentSub]
			for r != nil && r.left != nil {
				r = r.left
			}
		} else {
			r = parent.start
			parent.start = it
		}
		it.right = r
	}
	if it.right != nil {
		it.right.left = it
	} else if it.has(flagParentSub) {
		if parent.m == nil {
			parent.m = map[string]*item{}
		}
		parent.m[it.parentSub] = it
		if it.left != nil {
			// This is the key's value now: the previous one is deleted.
			d.deleteItem(tx, it.left)
		}
	}
	d.addStruct(it)
	switch it.ckind {
	case contentDeleted:
		tx.ds.add(it.id.Client, it.id.Clock, it.length)
		it.flags |= flagDeleted
	case contentType:
		if it.ext.typ == nil {
			it.ext.typ = &ytype{}
		}
		it.ext.typ.owner = it
	}
	if (parent.owner != nil && parent.owner.deleted()) || (it.has(flagParentSub) && it.right != nil) {
		// A child of a deleted type, or not the key's current value.
		d.deleteItem(tx, it)
	}
}

func isIn(set map[*item]struct{}, it *item) bool {
	_, ok := set[it]
	return ok
}

// sameOrigin is Yjs's compareIDs(a.origin, b.origin).
func sameOrigin(a, b *item) bool {
	ha, hb := a.has(flagOrigin), b.has(flagOrigin)
	return ha == hb && (!ha || a.origin == b.origin)
}

func sameRightOrigin(a, b *item) bool {
	ha, hb := a.has(flagRightOrig), b.has(flagRightOrig)
	return ha == hb && (!ha || a.rightOrigin == b.rightOrigin)
}

// deleteItem marks an item deleted and records it in the transaction (Yjs's
// Item.delete); a type item deletes its children.
func (d *Doc) deleteItem(tx *txn, it *item) {
	if it.deleted() {
		return
	}
	it.flags |= flagDeleted
	tx.ds.add(it.id.Client, it.id.Clock, it.length)
	if it.ckind == contentType && it.ext.typ != nil {
		t := it.ext.typ
		for c := t.start; c != nil; c = c.right {
			if !c.deleted() {
				d.deleteItem(tx, c)
			} else if c.id.Clock < tx.before(c.id.Client) {
				// Collected later; merge it then.
				tx.mergeStructs = append(tx.mergeStructs, c)
			}
		}
		for _, c := range sortedMapValues(t.m) {
			if !c.deleted() {
				d.deleteItem(tx, c)
			} else if c.id.Clock < tx.before(c.id.Client) {
				tx.mergeStructs = append(tx.mergeStructs, c)
			}
		}
	}
}

// sortedMapValues returns a type's map entries in key order, so that the
// order of side effects does not depend on Go's map iteration.
func sortedMapValues(m map[string]*item) []*item {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*item, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// gcItem drops the content of a deleted item (Yjs's Item.gc): it becomes
// deleted content of the same length, or a GC struct if its parent is
// collected too.
func (d *Doc) gcItem(it *item, parentGCd bool) {
	if it.kind != kindItem || !it.deleted() {
		return
	}
	if it.ckind == contentType && it.ext.typ != nil {
		t := it.ext.typ
		for c := t.start; c != nil; c = c.right {
			d.gcItem(c, true)
		}
		t.start = nil
		for _, c := range sortedMapValues(t.m) {
			for ; c != nil; c = c.left {
				d.gcItem(c, true)
			}
		}
		t.m = nil
	}
	if parentGCd {
		d.replaceStruct(it, &item{id: it.id, length: it.length, kind: kindGC})
		return
	}
	it.ckind = contentDeleted
	it.str = nil
	it.ext = nil
}

// mergeWith appends right to left if Yjs would (Item.mergeWith,
// GC.mergeWith); right is then dead.
func mergeWith(left, right *item) bool {
	if left.kind != right.kind {
		return false
	}
	if left.kind != kindItem {
		left.length += right.length
		right.flags |= flagDead
		return true
	}
	if !right.has(flagOrigin) || right.origin != left.lastID() ||
		left.right != right ||
		!sameRightOrigin(left, right) ||
		left.id.Client != right.id.Client ||
		left.id.Clock+left.length != right.id.Clock ||
		left.deleted() != right.deleted() ||
		left.ckind != right.ckind ||
		!left.mergeContent(right) {
		return false
	}
	left.right = right.right
	if left.right != nil {
		left.right.left = left
	}
	left.length += right.length
	right.flags |= flagDead
	return true
}
