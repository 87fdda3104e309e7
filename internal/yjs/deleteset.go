package yjs

import (
	"slices"
	"sort"
)

// Delete sets (Yjs's DeleteSet.js): per client, sorted ranges of deleted
// clocks.

type delRange struct {
	clock, len uint64
}

type deleteSet map[uint64][]delRange

func (ds deleteSet) add(client, clock, length uint64) {
	ds[client] = append(ds[client], delRange{clock, length})
}

// sortAndMerge sorts each client's ranges and joins those that overlap or
// touch (Yjs's sortAndMergeDeleteSet).
func (ds deleteSet) sortAndMerge() {
	for c, dels := range ds {
		sort.SliceStable(dels, func(i, j int) bool { return dels[i].clock < dels[j].clock })
		j := 1
		for i := 1; i < len(dels); i++ {
			left, right := dels[j-1], dels[i]
			if left.clock+left.len >= right.clock {
				dels[j-1] = delRange{left.clock, max(left.len, right.clock+right.len-left.clock)}
			} else {
				dels[j] = right
				j++
			}
		}
		ds[c] = dels[:min(j, len(dels))]
	}
}

// mergeDeleteSets returns the sorted and merged union of sets (nil if all are
// nil or empty).
func mergeDeleteSets(sets ...deleteSet) deleteSet {
	var out deleteSet
	for _, s := range sets {
		for c, dels := range s {
			if out == nil {
				out = deleteSet{}
			}
			out[c] = append(out[c], dels...)
		}
	}
	out.sortAndMerge()
	return out
}

// sortedClients returns the clients of a delete set from the highest id, the
// order in which Yjs writes them.
func (ds deleteSet) sortedClients() []uint64 {
	cs := make([]uint64, 0, len(ds))
	for c := range ds {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b uint64) int { return cmpDesc(a, b) })
	return cs
}

func cmpDesc(a, b uint64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// deleteSetFromStore is the delete set of everything deleted in the document
// (Yjs's createDeleteSetFromStructStore).
func (d *Doc) deleteSetFromStore() deleteSet {
	ds := deleteSet{}
	for c, structs := range d.clients {
		var dels []delRange
		for i := 0; i < len(structs); i++ {
			s := structs[i]
			if !s.deleted() {
				continue
			}
			clock, length := s.id.Clock, s.length
			for i+1 < len(structs) && structs[i+1].deleted() {
				i++
				length += structs[i].length
			}
			dels = append(dels, delRange{clock, length})
		}
		if len(dels) > 0 {
			ds[c] = dels
		}
	}
	return ds
}

func (e *encoder) writeDeleteSet(ds deleteSet) {
	e.writeVarUint(uint64(len(ds)))
	for _, c := range ds.sortedClients() {
		dels := ds[c]
		e.writeVarUint(c)
		e.writeVarUint(uint64(len(dels)))
		for _, r := range dels {
			e.writeVarUint(r.clock)
			e.writeVarUint(r.len)
		}
	}
}

// dsClient is one client's section of a delete set as read from an update,
// before anything is sorted or merged.
type dsClient struct {
	client uint64
	dels   []delRange
}

func readDeleteSet(dec *decoder) ([]dsClient, error) {
	n, err := dec.readCount("delete set client", 2)
	if err != nil {
		return nil, err
	}
	out := make([]dsClient, 0, n)
	for i := 0; i < n; i++ {
		client, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		m, err := dec.readCount("delete range", 2)
		if err != nil {
			return nil, err
		}
		dels := make([]delRange, 0, m)
		for j := 0; j < m; j++ {
			clock, err := dec.readVarUint()
			if err != nil {
				return nil, err
			}
			length, err := dec.readVarUint()
			if err != nil {
				return nil, err
			}
			if clock+length > maxSafeInteger {
				return nil, malformed("delete range ends past 2^53-1")
			}
			dels = append(dels, delRange{clock, length})
		}
		out = append(out, dsClient{client, dels})
	}
	return out, nil
}

func (ds deleteSet) asClients() []dsClient {
	out := make([]dsClient, 0, len(ds))
	for _, c := range ds.sortedClients() {
		out = append(out, dsClient{c, ds[c]})
	}
	return out
}

// applyDeleteSet deletes what ds names and returns what it names beyond the
// document's state, to be applied when it arrives (Yjs's
// readAndApplyDeleteSet).
func (d *Doc) applyDeleteSet(tx *txn, ds []dsClient) deleteSet {
	var unapplied deleteSet
	keep := func(client, clock, length uint64) {
		if length == 0 {
			return
		}
		if unapplied == nil {
			unapplied = deleteSet{}
		}
		unapplied.add(client, clock, length)
	}
	for _, sec := range ds {
		c := sec.client
		state := d.state(c)
		for _, r := range sec.dels {
			clock, end := r.clock, r.clock+r.len
			if clock >= state {
				keep(c, clock, end-clock)
				continue
			}
			if state < end {
				keep(c, state, end-state)
			}
			structs := d.clients[c]
			index := findIndex(structs, clock)
			s := structs[index]
			if !s.deleted() && s.id.Clock < clock {
				d.insertStruct(c, index+1, d.splitItem(tx, s, clock-s.id.Clock))
				index++
			}
			for {
				structs = d.clients[c]
				if index >= len(structs) {
					break
				}
				s = structs[index]
				index++
				if s.id.Clock >= end {
					break
				}
				if !s.deleted() {
					if end < s.id.Clock+s.length {
						d.insertStruct(c, index, d.splitItem(tx, s, end-s.id.Clock))
					}
					d.deleteItem(tx, s)
				}
			}
		}
	}
	unapplied.sortAndMerge()
	return unapplied
}
