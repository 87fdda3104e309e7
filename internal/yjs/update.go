package yjs

import (
	"slices"
)

// Applying updates (Yjs's integrateStructs and readUpdateV2): structs whose
// dependencies are missing wait as pending structs, deletes of structs not
// yet here wait as a pending delete set, and both are retried as Yjs retries
// them.

// pendingStructs are structs that wait for others (Yjs's
// store.pendingStructs, kept decoded instead of as an encoded update).
type pendingStructs struct {
	// missing maps a client to a clock: the pending structs are retried once
	// the document's state for that client passes it.
	missing map[uint64]uint64
	// clients holds each client's pending structs by clock, without overlap.
	clients map[uint64][]*item
}

// integrateStructs integrates what it can of refs and returns the structs
// that must wait, with the clocks they wait for (nil if none).
func (d *Doc) integrateStructs(tx *txn, refs map[uint64]*refList) (rest map[uint64][]*item, missing map[uint64]uint64) {
	ids := make([]uint64, 0, len(refs))
	for c := range refs {
		ids = append(ids, c)
	}
	slices.Sort(ids)
	// Take the highest client first: on conflicts the lower ids will probably
	// not conflict with it.
	next := func() *refList {
		for len(ids) > 0 {
			t := refs[ids[len(ids)-1]]
			if t.i < len(t.refs) {
				return t
			}
			ids = ids[:len(ids)-1]
		}
		return nil
	}
	cur := next()
	if cur == nil {
		return nil, nil
	}
	rest = map[uint64][]*item{}
	missing = map[uint64]uint64{}
	updateMissing := func(client, clock uint64) {
		if m, ok := missing[client]; !ok || m > clock {
			missing[client] = clock
		}
	}
	var stack []*item
	head := cur.refs[cur.i]
	cur.i++
	state := map[uint64]uint64{} // cached states
	addStackToRest := func() {
		for _, it := range stack {
			client := it.id.Client
			if inapp, ok := refs[client]; ok {
				// It was the last struct taken from its client's list.
				inapp.i--
				rest[client] = inapp.refs[inapp.i:]
				delete(refs, client)
				inapp.i = 0
				inapp.refs = nil
			} else {
				rest[client] = []*item{it}
			}
			ids = slices.DeleteFunc(ids, func(c uint64) bool { return c == client })
		}
		stack = stack[:0]
	}
	for {
		if head.kind != kindSkip {
			client := head.id.Client
			local, ok := state[client]
			if !ok {
				local = d.state(client)
				state[client] = local
			}
			if local < head.id.Clock {
				// A struct of the same client is missing.
				stack = append(stack, head)
				updateMissing(client, head.id.Clock-1)
				addStackToRest()
			} else if m, isMissing := d.getMissing(tx, head); isMissing {
				stack = append(stack, head)
				if r := refs[m]; r == nil || r.i == len(r.refs) {
					// It depends on an update that has not arrived.
					updateMissing(m, d.state(m))
					addStackToRest()
				} else {
					head = r.refs[r.i]
					r.i++
					continue
				}
			} else if offset := local - head.id.Clock; offset == 0 || offset < head.length {
				d.integrate(tx, head, offset)
				state[client] = head.id.Clock + head.length
			}
		}
		switch {
		case len(stack) > 0:
			head = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case cur != nil && cur.i < len(cur.refs):
			head = cur.refs[cur.i]
			cur.i++
		default:
			if cur = next(); cur == nil {
				if len(rest) == 0 {
					return nil, nil
				}
				return rest, missing
			}
			head = cur.refs[cur.i]
			cur.i++
		}
	}
}

// readUpdate integrates decoded structs and applies a delete set, then
// retries what is pending (Yjs's readUpdateV2).
func (d *Doc) readUpdate(tx *txn, refs map[uint64]*refList, ds []dsClient) {
	rest, missing := d.integrateStructs(tx, refs)
	retry := false
	if d.pending != nil {
		for c, clock := range d.pending.missing {
			if clock < d.state(c) {
				retry = true
				break
			}
		}
		if rest != nil {
			for c, clock := range missing {
				if m, ok := d.pending.missing[c]; !ok || m > clock {
					d.pending.missing[c] = clock
				}
			}
			d.pending.clients = mergePending(d.pending.clients, rest)
		}
	} else if rest != nil {
		d.pending = &pendingStructs{missing: missing, clients: mergePending(nil, rest)}
	}
	dsRest := d.applyDeleteSet(tx, ds)
	if d.pendingDS != nil {
		dsRest2 := d.applyDeleteSet(tx, d.pendingDS.asClients())
		d.pendingDS = mergeDeleteSets(dsRest, dsRest2)
	} else {
		d.pendingDS = dsRest
	}
	if len(d.pendingDS) == 0 {
		d.pendingDS = nil
	}
	if retry {
		p := d.pending
		d.pending = nil
		refs := make(map[uint64]*refList, len(p.clients))
		for c, structs := range p.clients {
			refs[c] = &refList{refs: structs}
		}
		d.readUpdate(tx, refs, nil)
	}
}

// mergePending adds the structs of b to those of a, per client by clock; where
// they overlap the one that starts first (or a's, at the same clock) keeps the
// overlap and the other is cut, as Yjs's mergeUpdates does.
func mergePending(a, b map[uint64][]*item) map[uint64][]*item {
	out := make(map[uint64][]*item, len(a)+len(b))
	for c, structs := range a {
		out[c] = structs
	}
	for c, add := range b {
		all := make([]*item, 0, len(out[c])+len(add))
		all = append(all, out[c]...)
		for _, s := range add {
			if s.kind != kindSkip {
				all = append(all, s)
			}
		}
		slices.SortStableFunc(all, func(x, y *item) int {
			switch {
			case x.id.Clock < y.id.Clock:
				return -1
			case x.id.Clock > y.id.Clock:
				return 1
			}
			return 0
		})
		merged := all[:0:0]
		var covered uint64
		for i, s := range all {
			end := s.id.Clock + s.length
			if i > 0 && end <= covered {
				continue
			}
			if i > 0 && s.id.Clock < covered {
				s = sliceStruct(s, covered-s.id.Clock)
			}
			merged = append(merged, s)
			covered = end
		}
		out[c] = merged
	}
	return out
}

// sliceStruct returns a copy of s without its first diff units (Yjs's
// sliceStruct in updates.js).
func sliceStruct(s *item, diff uint64) *item {
	r := *s
	r.id.Clock += diff
	r.length -= diff
	if s.kind != kindItem {
		return &r
	}
	// With an origin, the parent and its key are copied from the left
	// neighbour on integration (Yjs writes and reads them back that way).
	r.flags = r.flags&^flagParentSub | flagOrigin
	r.parentSub = ""
	r.origin = ID{s.id.Client, s.id.Clock + diff - 1}
	if s.ext != nil {
		ext := *s.ext
		ext.hasParentKey, ext.hasParentID, ext.parentKey = false, false, ""
		r.ext = &ext
	}
	switch s.ckind {
	case contentString:
		_, r.str = splitUTF16(s.str, int(diff), int(s.length))
	case contentJSON, contentAny:
		r.ext.elems = s.ext.elems[diff:len(s.ext.elems):len(s.ext.elems)]
	}
	return &r
}
