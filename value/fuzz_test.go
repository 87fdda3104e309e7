package value_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ankurah/ankurah-go/value"
)

// FuzzDecode checks that Decode never panics, that whatever it accepts has
// the asked-for type (or is NULL), and that its natural JSON form is valid
// JSON which decodes back to an Equal value. Infer gets the same treatment.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		raw string
		typ value.Type
	}{
		{`null`, value.Text},
		{`"héllo \"x\" \\ \u00e9"`, value.Text},
		{`""`, value.Ref},
		{`9223372036854775807`, value.Int},
		{`-9223372036854775808`, value.Int},
		{`2.0`, value.Int},
		{`1.5`, value.Int},
		{`-0`, value.Float},
		{`1e300`, value.Float},
		{`"NaN"`, value.Float},
		{`"-Infinity"`, value.Float},
		{`true`, value.Bool},
		{`"\\x0aff"`, value.Bytes},
		{`"AQID"`, value.Bytes},
		{`"abc"`, value.Bytes},
		{`"2024-01-02T03:04:05.123456789+05:30"`, value.Time},
		{`"bad"`, value.Time},
		{` { "b" : [1, {"c": null}], "a": "x" } `, value.JSON},
		{`"scalar"`, value.JSON},
		{`1`, value.Null},
		{`1`, value.Type(9)},
	}
	for _, s := range seeds {
		f.Add([]byte(s.raw), uint8(s.typ))
	}
	f.Fuzz(func(t *testing.T, raw []byte, typ uint8) {
		in := bytes.Clone(raw)
		typ %= 10 // every type, Null, and one invalid type
		vt := value.Type(typ)
		v, err := value.Decode(raw, vt)
		if !bytes.Equal(raw, in) {
			t.Fatalf("Decode modified its input")
		}
		if err == nil {
			roundTrip(t, v, vt)
		} else if !v.IsNull() {
			t.Fatalf("Decode(%q, %v) failed (%v) but returned %s", raw, vt, err, describe(v))
		}

		if iv, err := value.Infer(raw); err == nil {
			roundTrip(t, iv, iv.Type())
		}
	})
}

func roundTrip(t *testing.T, v value.Value, vt value.Type) {
	t.Helper()
	if !v.IsNull() && v.Type() != vt {
		t.Fatalf("decoded %s as %v", describe(v), vt)
	}
	if v.Type() == value.Time {
		if err := v.CheckTime(); err != nil {
			t.Fatalf("Decode produced %s: %v", describe(v), err)
		}
	}
	enc, err := v.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON(%s): %v", describe(v), err)
	}
	if !json.Valid(enc) {
		t.Fatalf("MarshalJSON(%s) = %q is not valid JSON", describe(v), enc)
	}
	if v.IsNull() {
		if string(enc) != "null" {
			t.Fatalf("MarshalJSON(NULL) = %s", enc)
		}
		return
	}
	back, err := value.Decode(enc, vt)
	if err != nil {
		t.Fatalf("Decode(MarshalJSON(%s) = %s, %v): %v", describe(v), enc, vt, err)
	}
	if !value.Equal(back, v) {
		t.Fatalf("round trip of %s through %s gave %s", describe(v), enc, describe(back))
	}
	enc2, _ := back.MarshalJSON()
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("MarshalJSON not stable: %s then %s", enc, enc2)
	}
	if !value.Equal(v, v) {
		t.Fatalf("%s is not Equal to itself", describe(v))
	}
}
