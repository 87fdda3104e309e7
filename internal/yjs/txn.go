package yjs

import "slices"

// Transactions (Yjs's Transaction.js): every change runs in one, and its
// cleanup collects deleted content and merges structs exactly as Yjs's
// cleanupTransactions does, so that a document's structs (and so its encoded
// state) come out as Yjs's would.

type txn struct {
	local        bool
	beforeState  StateVector
	ds           deleteSet
	mergeStructs []*item
}

func (d *Doc) begin(local bool) *txn {
	return &txn{local: local, beforeState: d.stateVector(), ds: deleteSet{}}
}

func (tx *txn) before(client uint64) uint64 { return tx.beforeState[client] }

// finish cleans up after a transaction and, if update is true, returns the
// update that describes it (nil if it changed nothing), as Yjs's 'update'
// event carries.
func (d *Doc) finish(tx *txn, update bool) []byte {
	tx.ds.sortAndMerge()
	after := d.stateVector()
	if d.gc {
		d.tryGCDeleteSet(tx.ds)
	}
	d.tryMergeDeleteSet(tx.ds)
	for _, c := range sortedKeys(after) {
		clock := after[c]
		before := tx.before(c)
		if before == clock {
			continue
		}
		structs := d.clients[c]
		first := max(findIndex(structs, before), 1)
		for i := len(structs) - 1; i >= first; {
			i -= 1 + d.tryToMergeWithLefts(c, i)
		}
	}
	for i := len(tx.mergeStructs) - 1; i >= 0; i-- {
		id := tx.mergeStructs[i].id
		structs := d.clients[id.Client]
		pos := findIndex(structs, id.Clock)
		if pos+1 < len(structs) && d.tryToMergeWithLefts(id.Client, pos+1) > 1 {
			continue // both are merged already
		}
		if pos > 0 {
			d.tryToMergeWithLefts(id.Client, pos)
		}
	}
	if !tx.local && after[d.clientID] != tx.before(d.clientID) {
		// Another replica uses this client id: take a new one, as Yjs does.
		d.clientID = d.newClientID()
	}
	if !update {
		return nil
	}
	changed := len(tx.ds) > 0
	for c, clock := range after {
		if tx.before(c) != clock {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	var e encoder
	d.writeClientsStructs(&e, tx.beforeState, false)
	e.writeDeleteSet(tx.ds)
	return e.buf
}

func sortedKeys(sv StateVector) []uint64 {
	ks := make([]uint64, 0, len(sv))
	for c := range sv {
		ks = append(ks, c)
	}
	slices.Sort(ks)
	return ks
}

// tryGCDeleteSet replaces the content of the items deleted in ds by its length
// (Yjs's tryGcDeleteSet).
func (d *Doc) tryGCDeleteSet(ds deleteSet) {
	for c, dels := range ds {
		for di := len(dels) - 1; di >= 0; di-- {
			r := dels[di]
			end := r.clock + r.len
			structs := d.clients[c]
			si := findIndex(structs, r.clock)
			if si < 0 {
				continue
			}
			for ; si < len(structs) && structs[si].id.Clock < end; si++ {
				if s := structs[si]; s.kind == kindItem && s.deleted() {
					d.gcItem(s, false)
				}
			}
		}
	}
}

// tryMergeDeleteSet merges deleted structs with their left neighbours (Yjs's
// tryMergeDeleteSet).
func (d *Doc) tryMergeDeleteSet(ds deleteSet) {
	for c, dels := range ds {
		for di := len(dels) - 1; di >= 0; di-- {
			r := dels[di]
			structs := d.clients[c]
			idx := findIndex(structs, r.clock+r.len-1)
			if idx < 0 {
				continue
			}
			si := min(len(structs)-1, 1+idx)
			for si > 0 && d.clients[c][si].id.Clock >= r.clock {
				si -= 1 + d.tryToMergeWithLefts(c, si)
			}
		}
	}
}

// tryToMergeWithLefts merges the struct at pos into its left neighbours while
// they merge, and returns how many were merged away.
func (d *Doc) tryToMergeWithLefts(client uint64, pos int) int {
	structs := d.clients[client]
	right := structs[pos]
	i := pos
	for ; i > 0; i-- {
		left := structs[i-1]
		if left.deleted() != right.deleted() || left.kind != right.kind || !mergeWith(left, right) {
			break
		}
		if right.kind == kindItem && right.has(flagParentSub) && right.parent != nil && right.parent.m[right.parentSub] == right {
			right.parent.m[right.parentSub] = left
		}
		right = left
	}
	merged := pos - i
	if merged > 0 {
		d.clients[client] = slices.Delete(structs, pos+1-merged, pos+1)
	}
	return merged
}
