package yjs

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// Seeds are in testdata/fuzz/<target> (written from real Yjs output by
// testdata/fuzzseeds.mjs) and below; fuzz longer with
//   go test ./internal/yjs -run '^$' -fuzz FuzzApplyUpdate -fuzztime 1m
// (or make fuzz).

// FuzzApplyUpdate applies arbitrary bytes as an update, to an empty document
// and to one with content. It must never panic nor hit an internal error; a
// refused update must be refused as malformed and change nothing; an
// accepted one must leave a document whose encoded state loads into a fresh
// document with the same text, state vector and pending work, and that can
// still be edited and diffed.
func FuzzApplyUpdate(f *testing.F) {
	base := NewDoc(Options{ClientID: 3})
	base.Insert(0, "base 😀 text")
	base.Delete(2, 3)
	f.Add(base.EncodeStateAsUpdate())
	u, _ := base.Insert(4, "é")
	f.Add(u)
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, update []byte) {
		in := bytes.Clone(update)
		for _, withContent := range []bool{false, true} {
			d := NewDoc(Options{ClientID: 1})
			if withContent {
				if err := d.ApplyUpdate(base.EncodeStateAsUpdate()); err != nil {
					t.Fatal(err)
				}
			}
			before := d.EncodeStateAsUpdate()
			err := d.ApplyUpdate(update)
			if !bytes.Equal(update, in) {
				t.Fatal("ApplyUpdate modified its input")
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("refused with %v, not as malformed", err)
				}
				if !bytes.Equal(d.EncodeStateAsUpdate(), before) {
					t.Fatal("a refused update changed the document")
				}
				continue
			}
			state := d.EncodeStateAsUpdate()
			re := NewDoc(Options{ClientID: 2})
			if err := re.ApplyUpdate(state); err != nil {
				t.Fatalf("the document's own state is refused: %v", err)
			}
			if !d.Pending() {
				if re.Text() != d.Text() || !maps.Equal(re.StateVector(), d.StateVector()) || re.Pending() {
					t.Fatalf("reloaded: text %q sv %v pending %v; document: %q %v",
						re.Text(), re.StateVector(), re.Pending(), d.Text(), d.StateVector())
				}
			} else {
				// As in Yjs, a pending struct that overlaps integrated clocks
				// (possible only with inconsistent updates) is written cut
				// at the document's state, its origin then being its own
				// client's previous unit: reloaded, it may integrate. So the
				// reloaded document holds at least what the document does.
				for c, clock := range d.StateVector() {
					if re.StateVector()[c] < clock {
						t.Fatalf("reloaded: sv %v, document %v", re.StateVector(), d.StateVector())
					}
				}
			}
			if _, err := d.EncodeDiff(NewDoc(Options{}).EncodeStateVector()); err != nil {
				t.Fatal(err)
			}
			text := d.Text()
			if _, err := d.Insert(0, "x"); err != nil || d.Text() != "x"+text {
				t.Fatalf("insert after the update: text %q, %v", d.Text(), err)
			}
			if _, err := d.ReplaceText(""); err != nil || d.Text() != "" {
				t.Fatalf("clearing after the update: text %q, %v", d.Text(), err)
			}
		}
	})
}

// FuzzDecodeStateVector decodes arbitrary bytes as a state vector: no panic;
// what is accepted encodes and decodes back to itself, and a diff for it
// applies to a fresh document.
func FuzzDecodeStateVector(f *testing.F) {
	f.Add([]byte{0})
	f.Add(StateVector{1: 5, 1 << 40: 2}.Encode())
	d := NewDoc(Options{ClientID: 7})
	d.Insert(0, "some text")
	d.Delete(1, 2)
	f.Fuzz(func(t *testing.T, b []byte) {
		sv, err := DecodeStateVector(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refused with %v, not as malformed", err)
			}
			return
		}
		again, err := DecodeStateVector(sv.Encode())
		if err != nil || !maps.Equal(sv, again) {
			t.Fatalf("%v round-tripped to %v (%v)", sv, again, err)
		}
		diff, err := d.EncodeDiff(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := NewDoc(Options{}).ApplyUpdate(diff); err != nil {
			t.Fatalf("the diff for %v is refused: %v", sv, err)
		}
	})
}
