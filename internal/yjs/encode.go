package yjs

import "slices"

// Writing update format v1 (Yjs's encoding.js writeClientsStructs and
// writeStructs, Item.write, the content classes' write, and the merging of
// pending structs that encodeStateAsUpdate does with mergeUpdates).

// piece is a struct written from offset units into it.
type piece struct {
	s      *item
	offset uint64
}

// writeClientsStructs writes the structs the document holds beyond sv, from
// the highest client id. With pending, structs still waiting for their
// dependencies are written too, after a Skip over the gap, as Yjs's
// encodeStateAsUpdate merges them in.
func (d *Doc) writeClientsStructs(e *encoder, sv StateVector, pending bool) {
	var clients []uint64
	for c := range d.clients {
		clients = append(clients, c)
	}
	if pending && d.pending != nil {
		for c := range d.pending.clients {
			if _, ok := d.clients[c]; !ok {
				clients = append(clients, c)
			}
		}
	}
	slices.SortFunc(clients, cmpDesc)
	var sections [][]piece
	var written []uint64
	for _, c := range clients {
		var ps []piece
		svClock := sv[c]
		state := d.state(c)
		if structs := d.clients[c]; state > svClock {
			clock := max(svClock, structs[0].id.Clock)
			i := findIndex(structs, clock)
			ps = append(ps, piece{structs[i], clock - structs[i].id.Clock})
			for _, s := range structs[i+1:] {
				ps = append(ps, piece{s, 0})
			}
		}
		if pending && d.pending != nil {
			ps = appendPending(ps, c, d.pending.clients[c], max(svClock, state))
		}
		if len(ps) > 0 {
			sections = append(sections, ps)
			written = append(written, c)
		}
	}
	e.writeVarUint(uint64(len(sections)))
	for i, ps := range sections {
		e.writeVarUint(uint64(len(ps)))
		e.writeVarUint(written[i])
		e.writeVarUint(ps[0].s.id.Clock + ps[0].offset)
		for _, p := range ps {
			e.writeStruct(p.s, p.offset)
		}
	}
}

// appendPending appends the pending structs of client from clock from on,
// with Skip structs over the gaps.
func appendPending(ps []piece, client uint64, pend []*item, from uint64) []piece {
	next := from
	if len(ps) == 0 {
		next = 0 // no leading Skip: the section starts at its first struct
	}
	for _, s := range pend {
		end := s.id.Clock + s.length
		if end <= from {
			continue
		}
		offset := uint64(0)
		if s.id.Clock < from {
			offset = from - s.id.Clock
		}
		start := s.id.Clock + offset
		if len(ps) > 0 && start > next {
			ps = append(ps, piece{&item{id: ID{client, next}, length: start - next, kind: kindSkip}, 0})
		}
		ps = append(ps, piece{s, offset})
		next = end
	}
	return ps
}

// writeStruct writes one struct from offset units into it (Item.write,
// GC.write, Skip.write).
func (e *encoder) writeStruct(s *item, offset uint64) {
	switch s.kind {
	case kindGC:
		e.writeUint8(refGC)
		e.writeVarUint(s.length - offset)
		return
	case kindSkip:
		e.writeUint8(refSkip)
		e.writeVarUint(s.length - offset)
		return
	}
	hasOrigin := offset > 0 || s.has(flagOrigin)
	origin := s.origin
	if offset > 0 {
		origin = ID{s.id.Client, s.id.Clock + offset - 1}
	}
	info := byte(s.ckind) & 0x1f
	if hasOrigin {
		info |= 0x80
	}
	if s.has(flagRightOrig) {
		info |= 0x40
	}
	if s.has(flagParentSub) {
		info |= 0x20
	}
	e.writeUint8(info)
	if hasOrigin {
		e.writeID(origin)
	}
	if s.has(flagRightOrig) {
		e.writeID(s.rightOrigin)
	}
	if !hasOrigin && !s.has(flagRightOrig) {
		switch {
		case s.parent != nil && s.parent.owner == nil:
			e.writeVarUint(1)
			e.writeVarString(s.parent.name)
		case s.parent != nil:
			e.writeVarUint(0)
			e.writeID(s.parent.owner.id)
		case s.ext != nil && s.ext.hasParentKey:
			e.writeVarUint(1)
			e.writeVarString(s.ext.parentKey)
		case s.ext != nil && s.ext.hasParentID:
			e.writeVarUint(0)
			e.writeID(s.ext.parentID)
		default:
			// Unreachable: a struct without origins carries its parent.
			e.writeVarUint(1)
			e.writeVarString("")
		}
		if s.has(flagParentSub) {
			e.writeVarString(s.parentSub)
		}
	}
	e.writeContent(s, offset)
}

func (e *encoder) writeContent(s *item, offset uint64) {
	switch s.ckind {
	case contentDeleted:
		e.writeVarUint(s.length - offset)
	case contentString:
		str := s.str
		if offset > 0 {
			i, inPair := utf16Offset(str, int(offset), int(s.length))
			if inPair {
				// JavaScript's slice leaves a lone low surrogate, which UTF-8
				// encoding turns into U+FFFD.
				size := runeLen(str[i])
				e.writeVarUint(uint64(len(str) - i - size + len(replacement)))
				e.buf = append(e.buf, replacement...)
				e.buf = append(e.buf, str[i+size:]...)
				return
			}
			str = str[i:]
		}
		e.writeVarBytes(str)
	case contentJSON, contentAny:
		elems := s.ext.elems[offset:]
		e.writeVarUint(uint64(len(elems)))
		for _, el := range elems {
			e.buf = append(e.buf, el...)
		}
	default:
		e.buf = append(e.buf, s.ext.raw...)
	}
}

// runeLen is the length of a UTF-8 sequence from its first byte (valid input).
func runeLen(c byte) int {
	switch {
	case c < 0x80:
		return 1
	case c < 0xE0:
		return 2
	case c < 0xF0:
		return 3
	}
	return 4
}

// writeStateVector writes a state vector from the highest client id.
func (e *encoder) writeStateVector(sv StateVector) {
	e.writeVarUint(uint64(len(sv)))
	cs := make([]uint64, 0, len(sv))
	for c := range sv {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, cmpDesc)
	for _, c := range cs {
		e.writeVarUint(c)
		e.writeVarUint(sv[c])
	}
}

// Encode returns the state vector in Yjs's encoding (encodeStateVector).
func (sv StateVector) Encode() []byte {
	var e encoder
	e.writeStateVector(sv)
	return e.buf
}

// DecodeStateVector decodes a state vector encoded by Yjs's
// encodeStateVector (or StateVector.Encode). A client listed twice keeps its
// last clock, as in Yjs.
func DecodeStateVector(b []byte) (StateVector, error) {
	dec := &decoder{buf: b}
	n, err := dec.readCount("state vector entry", 2)
	if err != nil {
		return nil, err
	}
	sv := make(StateVector, n)
	for i := 0; i < n; i++ {
		c, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		clock, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		sv[c] = clock
	}
	return sv, nil
}
