package event

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// tail returns the id whose last bytes are b (the rest zero).
func tail(b ...byte) ID {
	var id ID
	copy(id[16-len(b):], b)
	return id
}

func TestIDAdd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id   ID
		n    uint64
		want ID
	}{
		{tail(1), 0, tail(1)},
		{tail(1), 1, tail(2)},
		{tail(0xff), 1, tail(1, 0)},
		{tail(0xff, 0xff), 1, tail(1, 0, 0)},
		{tail(0x01, 0xff), 0x101, tail(0x03, 0x00)},
		{tail(), 1 << 32, tail(1, 0, 0, 0, 0)},
		{tail(0xff, 0xff, 0xff, 0xff), 1 << 32, tail(1, 0xff, 0xff, 0xff, 0xff)},
		{tail(0xff, 0xff, 0xff, 0xff, 0xff), 1 << 32, tail(1, 0, 0xff, 0xff, 0xff, 0xff)},
		{tail(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ^uint64(0), tail(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)},
	}
	for _, c := range cases {
		if got := c.id.add(c.n); got != c.want {
			t.Errorf("%x + %#x = %x, want %x", c.id[:], c.n, got[:], c.want[:])
		}
	}

	// Against math/big on random values (mod 2^128).
	r := rand.New(rand.NewPCG(3, 4))
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	for range 10_000 {
		var id ID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		n := r.Uint64() >> (r.Uint32() % 64)
		want := new(big.Int).SetBytes(id[:])
		want.Add(want, new(big.Int).SetUint64(n)).Mod(want, mod)
		got := id.add(n)
		if new(big.Int).SetBytes(got[:]).Cmp(want) != 0 {
			t.Fatalf("%x + %#x = %x, want %x", id[:], n, got[:], want.Bytes())
		}
	}
}

func TestIDAddCarriesIntoTime(t *testing.T) {
	t.Parallel()
	var id ID
	copy(id[:6], []byte{0, 0, 0, 0, 1, 0xff})
	copy(id[6:], bytes.Repeat([]byte{0xff}, 10))
	got := id.add(1)
	var want ID
	copy(want[:6], []byte{0, 0, 0, 0, 2, 0})
	if got != want {
		t.Errorf("%x + 1 = %x, want %x", id[:], got[:], want[:])
	}
	if d := got.Time().Sub(id.Time()); d != time.Millisecond {
		t.Errorf("the carry moved the time by %v, want 1ms", d)
	}
}

func TestRandomStepRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fill byte
		want uint64
	}{{0, 1}, {0xff, 1 << 32}, {0x01, 0x01010102}} {
		g := &Generator{entropy: bytes.NewReader(bytes.Repeat([]byte{c.fill}, 4))}
		if got := g.randomStep(); got != c.want {
			t.Errorf("randomStep over %#x bytes = %#x, want %#x", c.fill, got, c.want)
		}
	}
}
