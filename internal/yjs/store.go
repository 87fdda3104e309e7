package yjs

import "sort"

// The struct store (Yjs's StructStore.js): per client, the structs it
// created, sorted by clock and contiguous from clock 0.

// ytype is a shared type: a root type (named in Doc.share) or a type nested in
// a type item. Its sequence is the list from start; map entries are the
// rightmost item of each key's list.
type ytype struct {
	start *item
	m     map[string]*item
	owner *item // the item holding this type; nil for a root type
	name  string
}

func (d *Doc) rootType(name string) *ytype {
	t := d.share[name]
	if t == nil {
		t = &ytype{name: name}
		d.share[name] = t
	}
	return t
}

// state is the next clock expected from client.
func (d *Doc) state(client uint64) uint64 {
	structs := d.clients[client]
	if len(structs) == 0 {
		return 0
	}
	last := structs[len(structs)-1]
	return last.id.Clock + last.length
}

// StateVector maps each client to the next clock expected from it (the number
// of units of that client the document holds).
type StateVector map[uint64]uint64

func (d *Doc) stateVector() StateVector {
	sv := make(StateVector, len(d.clients))
	for c := range d.clients {
		sv[c] = d.state(c)
	}
	return sv
}

// findIndex returns the index of the struct holding clock, or -1.
func findIndex(structs []*item, clock uint64) int {
	i := sort.Search(len(structs), func(i int) bool {
		s := structs[i]
		return s.id.Clock+s.length > clock
	})
	if i < len(structs) && structs[i].id.Clock <= clock {
		return i
	}
	return -1
}

// find returns the struct holding id. The caller knows it is there (its clock
// is below the client's state).
func (d *Doc) find(id ID) *item {
	structs := d.clients[id.Client]
	return structs[findIndex(structs, id.Clock)]
}

func (d *Doc) addStruct(it *item) {
	d.clients[it.id.Client] = append(d.clients[it.id.Client], it)
}

func (d *Doc) insertStruct(client uint64, at int, it *item) {
	structs := append(d.clients[client], nil)
	copy(structs[at+1:], structs[at:])
	structs[at] = it
	d.clients[client] = structs
}

// findIndexCleanStart returns the index of the struct that starts at clock,
// splitting an item if clock falls inside it.
func (d *Doc) findIndexCleanStart(tx *txn, client, clock uint64) int {
	structs := d.clients[client]
	i := findIndex(structs, clock)
	s := structs[i]
	if s.id.Clock < clock && s.kind == kindItem {
		d.insertStruct(client, i+1, d.splitItem(tx, s, clock-s.id.Clock))
		return i + 1
	}
	return i
}

// getItemCleanStart returns the struct that starts at id.
func (d *Doc) getItemCleanStart(tx *txn, id ID) *item {
	// The index first: findIndexCleanStart may split an item and so replace
	// d.clients[id.Client], and Go does not order the evaluation of the map
	// read against the call within one expression (with -race it read the
	// old slice first).
	i := d.findIndexCleanStart(tx, id.Client, id.Clock)
	return d.clients[id.Client][i]
}

// getItemCleanEnd returns the struct that ends at id (a GC struct is not
// split and may end later).
func (d *Doc) getItemCleanEnd(tx *txn, id ID) *item {
	structs := d.clients[id.Client]
	i := findIndex(structs, id.Clock)
	s := structs[i]
	if id.Clock != s.id.Clock+s.length-1 && s.kind == kindItem {
		d.insertStruct(id.Client, i+1, d.splitItem(tx, s, id.Clock-s.id.Clock+1))
	}
	return s
}

// splitItem cuts left at diff units and returns the right part, linked after
// it (Yjs's splitItem). The caller puts it in the store.
func (d *Doc) splitItem(tx *txn, left *item, diff uint64) *item {
	c, k := left.id.Client, left.id.Clock
	right := &item{
		id:          ID{c, k + diff},
		length:      left.length - diff,
		kind:        kindItem,
		flags:       left.flags&(flagRightOrig|flagParentSub|flagDeleted|flagCountable) | flagOrigin,
		origin:      ID{c, k + diff - 1},
		rightOrigin: left.rightOrigin,
		left:        left,
		right:       left.right,
		parent:      left.parent,
		parentSub:   left.parentSub,
	}
	left.spliceContent(diff, right)
	left.right = right
	if right.right != nil {
		right.right.left = right
	}
	tx.mergeStructs = append(tx.mergeStructs, right)
	if right.has(flagParentSub) && right.right == nil && right.parent != nil {
		right.parent.m[right.parentSub] = right
	}
	left.length = diff
	return right
}

// replaceStruct puts with in the place of it in the store.
func (d *Doc) replaceStruct(it, with *item) {
	structs := d.clients[it.id.Client]
	structs[findIndex(structs, it.id.Clock)] = with
	it.flags |= flagDead
}
