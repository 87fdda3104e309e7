package yjs

import (
	"encoding/json"
	"unicode/utf8"
)

// Reading update format v1 (Yjs's readClientsStructRefs, the content
// readers, readDeleteSet). The whole update is decoded and checked before
// anything is applied, so a malformed update changes nothing.

type refList struct {
	i    int
	refs []*item
}

type decodedUpdate struct {
	clients map[uint64]*refList
	ds      []dsClient
}

// minStructBytes is the least input one struct takes (an info byte and a
// length).
const minStructBytes = 2

func decodeUpdate(b []byte) (*decodedUpdate, error) {
	dec := &decoder{buf: b}
	n, err := dec.readCount("client section", 3)
	if err != nil {
		return nil, err
	}
	u := &decodedUpdate{clients: make(map[uint64]*refList, n)}
	for i := 0; i < n; i++ {
		count, err := dec.readCount("struct", minStructBytes)
		if err != nil {
			return nil, err
		}
		client, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		clock, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		refs := make([]*item, 0, count)
		for j := 0; j < count; j++ {
			s, err := readStruct(dec, ID{client, clock})
			if err != nil {
				return nil, err
			}
			if s.length == 0 {
				return nil, malformed("empty struct at %d:%d", client, clock)
			}
			clock += s.length
			if clock > maxSafeInteger {
				return nil, malformed("clock of client %d passes 2^53-1", client)
			}
			refs = append(refs, s)
		}
		// A client named twice keeps its last section, as in Yjs.
		u.clients[client] = &refList{refs: refs}
	}
	if u.ds, err = readDeleteSet(dec); err != nil {
		return nil, err
	}
	return u, nil
}

func readStruct(dec *decoder, id ID) (*item, error) {
	info, err := dec.readUint8()
	if err != nil {
		return nil, err
	}
	switch info & 0x1f {
	case refGC, refSkip:
		length, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		kind := kindGC
		if info&0x1f == refSkip {
			kind = kindSkip
		}
		return &item{id: id, length: length, kind: kind}, nil
	}
	it := &item{id: id, kind: kindItem}
	if info&0x80 != 0 {
		if it.origin, err = readID(dec); err != nil {
			return nil, err
		}
		it.flags |= flagOrigin
		if it.origin.Client == id.Client && it.origin.Clock >= id.Clock {
			return nil, malformed("struct %d:%d has a later origin of its own client", id.Client, id.Clock)
		}
	}
	if info&0x40 != 0 {
		if it.rightOrigin, err = readID(dec); err != nil {
			return nil, err
		}
		it.flags |= flagRightOrig
		if it.rightOrigin.Client == id.Client && it.rightOrigin.Clock >= id.Clock {
			return nil, malformed("struct %d:%d has a later right origin of its own client", id.Client, id.Clock)
		}
	}
	if info&0xc0 == 0 {
		isKey, err := dec.readVarUint()
		if err != nil {
			return nil, err
		}
		ext := it.ensureExt()
		if isKey == 1 {
			if ext.parentKey, err = dec.readVarString(); err != nil {
				return nil, err
			}
			ext.hasParentKey = true
		} else {
			if ext.parentID, err = readID(dec); err != nil {
				return nil, err
			}
			ext.hasParentID = true
			if ext.parentID.Client == id.Client && ext.parentID.Clock >= id.Clock {
				return nil, malformed("struct %d:%d has a later parent of its own client", id.Client, id.Clock)
			}
		}
		if info&0x20 != 0 {
			if it.parentSub, err = dec.readVarString(); err != nil {
				return nil, err
			}
			it.flags |= flagParentSub
		}
	}
	// With an origin the parent and its key are not written: they are copied
	// from a neighbour on integration (BIT6 is then ignored, as in Yjs).
	if err := readContent(dec, it, contentKind(info&0x1f)); err != nil {
		return nil, err
	}
	if isCountable(it.ckind) {
		it.flags |= flagCountable
	}
	return it, nil
}

func readID(dec *decoder) (ID, error) {
	c, err := dec.readVarUint()
	if err != nil {
		return ID{}, err
	}
	k, err := dec.readVarUint()
	if err != nil {
		return ID{}, err
	}
	return ID{c, k}, nil
}

func readContent(dec *decoder, it *item, k contentKind) error {
	it.ckind = k
	start := dec.pos
	switch k {
	case contentDeleted:
		n, err := dec.readVarUint()
		if err != nil {
			return err
		}
		it.length = n
		return nil
	case contentString:
		b, err := dec.readVarBytes()
		if err != nil {
			return err
		}
		if !utf8.Valid(b) {
			return malformed("string is not valid UTF-8 at byte %d", dec.pos-len(b))
		}
		it.str = append([]byte(nil), b...)
		it.length = uint64(utf16Len(b))
		return nil
	case contentJSON, contentAny:
		n, err := dec.readCount("element", 1)
		if err != nil {
			return err
		}
		elems := make([][]byte, 0, n)
		for i := 0; i < n; i++ {
			at := dec.pos
			if k == contentJSON {
				s, err := dec.readVarString()
				if err != nil {
					return err
				}
				if s != "undefined" && !json.Valid([]byte(s)) {
					return malformed("JSON element is not JSON at byte %d", at)
				}
			} else if err := dec.skipAny(0); err != nil {
				return err
			}
			elems = append(elems, append([]byte(nil), dec.buf[at:dec.pos]...))
		}
		it.ensureExt().elems = elems
		it.length = uint64(n)
		return nil
	case contentBinary:
		if _, err := dec.readVarBytes(); err != nil {
			return err
		}
	case contentEmbed:
		if err := readJSON(dec); err != nil {
			return err
		}
	case contentFormat:
		if _, err := dec.readVarString(); err != nil {
			return err
		}
		if err := readJSON(dec); err != nil {
			return err
		}
	case contentType:
		ref, err := dec.readVarUint()
		if err != nil {
			return err
		}
		switch ref {
		case 3, 5: // YXmlElement and YXmlHook carry a name
			if _, err := dec.readVarString(); err != nil {
				return err
			}
		case 0, 1, 2, 4, 6:
		default:
			return malformed("unknown type reference %d at byte %d", ref, start)
		}
	case contentDoc:
		if _, err := dec.readVarString(); err != nil {
			return err
		}
		if err := dec.skipAny(0); err != nil {
			return err
		}
	default:
		return malformed("unknown content reference %d at byte %d", k, start-1)
	}
	it.ensureExt().raw = append([]byte(nil), dec.buf[start:dec.pos]...)
	it.length = 1
	return nil
}

func readJSON(dec *decoder) error {
	at := dec.pos
	s, err := dec.readVarString()
	if err != nil {
		return err
	}
	if !json.Valid([]byte(s)) {
		return malformed("value is not JSON at byte %d", at)
	}
	return nil
}
