package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/value"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		frame string
		code  string // "" = accepted
		id    uint64
	}{
		{`{"type":"hello","protocol":1,"token":"x"}`, "", 0},
		{`{"type":"subscribe","id":1,"sub":"s","collection":"album","query":"year > ?","args":[2000],"known":{"01ARZ3NDEKTSV4RRFFQ69G5FAV":["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}}`, "", 1},
		{`{"type":"update_subscription","id":2,"sub":"s","query":""}`, "", 2},
		{`{"type":"unsubscribe","id":3,"sub":"s"}`, "", 3},
		{`{"type":"fetch","id":4,"collection":"album"}`, "", 4},
		{`{"type":"get","id":5,"collection":"album","ids":[]}`, "", 5},
		{`{"type":"get_events","id":6,"ids":["x"]}`, "", 6},
		{`{"type":"get_events","id":7,"collection":"album","entity_id":"x"}`, "", 7},
		{`{"type":"commit","id":8,"events":[{}]}`, "", 8},
		{`{"type":"register_schema","id":9,"collections":[{"name":"a","fields":[]}]}`, "", 9},
		{`{"type":"collections","id":10}`, "", 10},
		{` {"type":"collections","id":11} `, "", 11},

		{``, protocol.CodeBadFrame, 0},
		{`null`, protocol.CodeBadFrame, 0},
		{`{"type":"collections","id":1`, protocol.CodeBadFrame, 0},
		{"{\"type\":\"\xff\"}", protocol.CodeBadFrame, 0},
		{`{"id":3}`, protocol.CodeBadFrame, 3},
		{`{"type":7}`, protocol.CodeBadRequest, 0},
		{`{"type":"nope","id":1}`, protocol.CodeUnknownType, 1},
		{`{"type":"collections"}`, protocol.CodeBadRequest, 0},
		{`{"type":"collections","id":-1}`, protocol.CodeBadRequest, 0},
		{`{"type":"collections","id":9007199254740992}`, protocol.CodeBadRequest, 0}, // not a valid id: answered with "id": null
		{`{"type":"collections","id":1.5}`, protocol.CodeBadRequest, 0},
		{`{"type":"subscribe","id":1,"collection":"a"}`, protocol.CodeBadRequest, 1},
		{`{"type":"subscribe","id":1,"sub":"s"}`, protocol.CodeBadRequest, 1},
		{`{"type":"subscribe","id":1,"sub":"s","collection":"a","args":{}}`, protocol.CodeBadRequest, 1},
		{`{"type":"subscribe","id":1,"sub":"s","collection":"a","known":[]}`, protocol.CodeBadRequest, 1},
		{`{"type":"get","id":1,"collection":"a","ids":"x"}`, protocol.CodeBadRequest, 1},
		{`{"type":"get","id":1,"collection":"a","ids":[` + strings.Repeat(`"x",`, 1000) + `"x"]}`, protocol.CodeBadRequest, 1},
		{`{"type":"get_events","id":1}`, protocol.CodeBadRequest, 1},
		{`{"type":"get_events","id":1,"ids":["x"],"collection":"a","entity_id":"x"}`, protocol.CodeBadRequest, 1},
		{`{"type":"get_events","id":1,"entity_id":"x"}`, protocol.CodeBadRequest, 1},
		{`{"type":"commit","id":1,"events":[]}`, protocol.CodeBadRequest, 1},
		{`{"type":"commit","id":1,"events":[{"parents":"x"}]}`, protocol.CodeBadRequest, 1},
		{`{"type":"register_schema","id":1}`, protocol.CodeBadRequest, 1},
	}
	for _, tc := range cases {
		req, id, err := protocol.Decode([]byte(tc.frame))
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%.60s: %v", tc.frame, err)
		case tc.code == "" && req.ID != tc.id:
			t.Errorf("%.60s: id %d", tc.frame, req.ID)
		case tc.code != "" && (err == nil || err.Code != tc.code || id != tc.id):
			t.Errorf("%.60s: got %v (id %d), want %s (id %d)", tc.frame, err, id, tc.code, tc.id)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	args, err := protocol.ParseArgs([]json.RawMessage{[]byte(`1`), []byte(`1.5`), []byte(`"x"`), []byte(`true`), []byte(`null`), []byte(`[1,"a"]`), []byte(`9223372036854775808`)})
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) value.Value {
		v, err := value.NumericOf(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Numbers with a fraction or beyond 64 bits are exact numerics.
	want := []any{int64(1), num("1.5"), "x", true, nil, []any{int64(1), "a"}, num("9223372036854775808")}
	for i := range want {
		if a, b := json.RawMessage(mustJSON(args[i])), json.RawMessage(mustJSON(want[i])); string(a) != string(b) {
			t.Errorf("arg %d: %#v, want %#v", i, args[i], want[i])
		}
	}
	for _, bad := range []string{`{}`, `[[1]]`, `1e999999`, `nul`} {
		if _, err := protocol.ParseArgs([]json.RawMessage{[]byte(bad)}); err == nil || err.Code != "bad_argument" {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	types := func(_, f string) (value.Type, bool) {
		switch f {
		case "year":
			return value.Int, true
		case "at":
			return value.Time, true
		case "blob":
			return value.Bytes, true
		}
		return 0, false
	}
	w := protocol.Event{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAW", Collection: "album", EntityID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", Parents: []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"},
		Operations: map[string]json.RawMessage{"year": []byte(`2001`), "at": []byte(`"2001-06-18T00:00:00Z"`), "blob": []byte(`"\\x00ff"`), "extra": []byte(`"new field"`), "gone": []byte(`null`)}}
	e, err := protocol.EventFromWire(w, types, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if e.Ops["year"].Type() != value.Int || e.Ops["at"].Type() != value.Time || e.Ops["blob"].Type() != value.Bytes || e.Ops["extra"].Type() != value.Text || !e.Ops["gone"].IsNull() {
		t.Fatalf("ops: %v", e.Ops)
	}
	back := protocol.AppendEvent(nil, &e)
	var w2 protocol.Event
	if err := json.Unmarshal(back, &w2); err != nil {
		t.Fatal(err)
	}
	e2, err := protocol.EventFromWire(w2, types, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(protocol.AppendEvent(nil, &e2)) != string(back) {
		t.Fatalf("round trip:\n%s\n%s", back, protocol.AppendEvent(nil, &e2))
	}
	// A clock far ahead is refused.
	w.ID = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
	if _, err := protocol.EventFromWire(w, types, time.Now()); err == nil || err.Code != "invalid_event" {
		t.Fatalf("future id: %v", err)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzDecode: no frame panics the decoder; an accepted frame re-encodes
// to one that decodes to the same request.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","protocol":1}`,
		`{"type":"subscribe","id":1,"sub":"s","collection":"album","query":"year > ?","args":[2000,"x",[1,2],null,true],"known":{"01ARZ3NDEKTSV4RRFFQ69G5FAV":["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}}`,
		`{"type":"commit","id":8,"events":[{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","collection":"a","entity_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","parents":[],"operations":{"x":1,"y":{"z":[1]}}}]}`,
		`{"type":"get_events","id":6,"ids":["x"]}`,
		`{"type":"register_schema","id":9,"collections":[{"name":"a","fields":[{"name":"b","type":"text"}]}]}`,
		`{"type":1}`, `{}`, `[]`, `{"type":"fetch","id":1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, _, err := protocol.Decode(frame)
		if err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("uncoded error %+v", err)
			}
			return
		}
		enc, merr := json.Marshal(req)
		if merr != nil {
			t.Fatal(merr)
		}
		req2, _, err := protocol.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", enc, err)
		}
		enc2, _ := json.Marshal(req2)
		if string(enc) != string(enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
		if args, perr := protocol.ParseArgs(req.Args); perr == nil && len(args) != len(req.Args) {
			t.Fatal("args lost")
		}
	})
}
