package yjs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The binary primitives of lib0 (github.com/dmonad/lib0, encoding.js and
// decoding.js) that update format v1 is made of. Every read is bounded by the
// bytes that remain, so a short hostile input can neither panic nor make the
// decoder allocate more than a small multiple of its own size.

// ErrMalformed is wrapped by every error that reports undecodable bytes (an
// update or a state vector): test with errors.Is.
var ErrMalformed = errors.New("yjs: malformed input")

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: lib0 refuses larger
// variable-length integers, and Yjs's clocks and client ids are JS numbers.
const maxSafeInteger = 1<<53 - 1

// maxAnyDepth bounds the nesting of lib0 "any" values (objects and arrays);
// deeper input is refused rather than recursed into.
const maxAnyDepth = 256

type decoder struct {
	buf []byte
	pos int
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func (d *decoder) remaining() int { return len(d.buf) - d.pos }

func (d *decoder) readUint8() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, malformed("unexpected end of input at byte %d", d.pos)
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

// readVarUint reads lib0's unsigned LEB128 integer, refusing values above
// 2^53-1 as lib0 does.
func (d *decoder) readVarUint() (uint64, error) {
	var num uint64
	for shift := uint(0); ; shift += 7 {
		if d.pos >= len(d.buf) {
			return 0, malformed("unexpected end of input in an integer at byte %d", d.pos)
		}
		r := d.buf[d.pos]
		d.pos++
		if shift >= 63 {
			return 0, malformed("integer too long at byte %d", d.pos-1)
		}
		num |= uint64(r&0x7f) << shift
		if num > maxSafeInteger {
			return 0, malformed("integer above 2^53-1 at byte %d", d.pos-1)
		}
		if r < 0x80 {
			return num, nil
		}
	}
}

// skipVarInt skips lib0's signed variable-length integer (sign in bit 7 of the
// first byte).
func (d *decoder) skipVarInt() error {
	r, err := d.readUint8()
	if err != nil {
		return err
	}
	for n := 1; r >= 0x80; n++ {
		if n > 9 {
			return malformed("integer too long at byte %d", d.pos-1)
		}
		if r, err = d.readUint8(); err != nil {
			return err
		}
	}
	return nil
}

// readLen reads a length and checks it against the bytes that remain, each
// counted thing taking at least minBytes bytes of input.
func (d *decoder) readCount(what string, minBytes int) (int, error) {
	n, err := d.readVarUint()
	if err != nil {
		return 0, err
	}
	if n > uint64(d.remaining()/minBytes) {
		return 0, malformed("%s count %d exceeds the %d bytes left", what, n, d.remaining())
	}
	return int(n), nil
}

// readVarBytes reads a length-prefixed byte string, returning a slice of the
// input (callers copy what they keep).
func (d *decoder) readVarBytes() ([]byte, error) {
	n, err := d.readVarUint()
	if err != nil {
		return nil, err
	}
	if n > uint64(d.remaining()) {
		return nil, malformed("byte string of %d bytes exceeds the %d bytes left", n, d.remaining())
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

// readVarString reads a length-prefixed UTF-8 string. lib0 decodes with a
// fatal TextDecoder, so invalid UTF-8 is an error there and here.
func (d *decoder) readVarString() (string, error) {
	b, err := d.readVarBytes()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", malformed("string is not valid UTF-8 at byte %d", d.pos-len(b))
	}
	return string(b), nil
}

// skipAny checks and skips one value of lib0's writeAny format.
func (d *decoder) skipAny(depth int) error {
	if depth > maxAnyDepth {
		return malformed("value nested deeper than %d at byte %d", maxAnyDepth, d.pos)
	}
	t, err := d.readUint8()
	if err != nil {
		return err
	}
	switch t {
	case 127, 126, 121, 120: // undefined, null, false, true
		return nil
	case 125: // integer
		return d.skipVarInt()
	case 124: // float32
		return d.skipFixed(4)
	case 123, 122: // float64, bigint64
		return d.skipFixed(8)
	case 119: // string
		_, err := d.readVarString()
		return err
	case 118: // object
		n, err := d.readCount("object entry", 2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if _, err := d.readVarString(); err != nil {
				return err
			}
			if err := d.skipAny(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case 117: // array
		n, err := d.readCount("array element", 1)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := d.skipAny(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case 116: // Uint8Array
		_, err := d.readVarBytes()
		return err
	default:
		return malformed("unknown value type %d at byte %d", t, d.pos-1)
	}
}

func (d *decoder) skipFixed(n int) error {
	if d.remaining() < n {
		return malformed("unexpected end of input at byte %d", d.pos)
	}
	d.pos += n
	return nil
}

// encoder appends lib0 primitives to a byte slice.
type encoder struct {
	buf []byte
}

func (e *encoder) writeUint8(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) writeVarUint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }

func (e *encoder) writeVarBytes(b []byte) {
	e.writeVarUint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) writeVarString(s string) {
	e.writeVarUint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) writeID(id ID) {
	e.writeVarUint(id.Client)
	e.writeVarUint(id.Clock)
}
