package value

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// YText is the field type ytext: a collaborative text (docs/text.md). Its
// values are text (kind Text), so that reads, queries and SQL see a plain
// text column; behind each value is a Yjs document, and the field's
// operations in events are Yjs updates (kind YUpdate) that every node
// merges character by character instead of last-writer-wins.
var YText Type

// Registered after the registry is set up (types.go's init runs first:
// files initialise in name order).
func init() { YText = mustRegister(&typeDesc{kind: Text, name: "ytext", ytext: true, precision: -1}) }

func mustRegister(d *typeDesc) Type {
	t, err := register(d)
	if err != nil {
		panic(err)
	}
	return t
}

// IsYText reports the field type ytext.
func (t Type) IsYText() bool {
	d := t.desc()
	return d != nil && d.ytext
}

// YUpdateOf returns the operation that applies a Yjs update (format v1) to
// a ytext field. The bytes are copied.
func YUpdateOf(update []byte) Value { return Value{t: YUpdate, s: string(update)} }

// YUpdate returns a copy of a YUpdate value's update bytes (nil otherwise).
func (v Value) YUpdate() []byte {
	if v.t != YUpdate {
		return nil
	}
	return []byte(v.s)
}

// A Yjs update's natural JSON: {"yjs":"<the update in standard base64>"}.
// An object, so that it cannot be mistaken for the text it edits.
func appendYUpdate(b []byte, update string) []byte {
	b = append(b, `{"yjs":"`...)
	b = base64.StdEncoding.AppendEncode(b, []byte(update))
	return append(b, `"}`...)
}

// decodeYUpdate reads {"yjs":"<base64>"} (standard base64, padding
// optional; nothing else in the object).
func decodeYUpdate(raw []byte) (Value, error) {
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := d.Decode(&obj); err != nil || len(obj) != 1 || obj["yjs"] == nil {
		return Value{}, fmt.Errorf(`%s: a ytext operation is {"yjs": "<Yjs update in base64>"}`, clipped(raw))
	}
	var s string
	if err := json.Unmarshal(obj["yjs"], &s); err != nil {
		return Value{}, fmt.Errorf(`%s: a ytext operation is {"yjs": "<Yjs update in base64>"}`, clipped(raw))
	}
	u, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		u, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return Value{}, fmt.Errorf("ytext operation: the Yjs update is not base64: %v", err)
	}
	if len(u) == 0 {
		return Value{}, fmt.Errorf("ytext operation: an empty Yjs update")
	}
	return YUpdateOf(u), nil
}
