package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Decode parses and validates one client frame. The error says, with a
// stable code, what is wrong; the request's id is returned with it whenever
// the frame names a valid one (an integer from 1 to 2^53-1), so that the
// error can answer it. The id returned is 0 when the frame has none, or one
// that is not valid: the server then answers with "id": null
// (docs/protocol.md), and a hello's ID is set to 0 likewise.
func Decode(frame []byte) (*Request, uint64, *Error) {
	r, perr := decode(frame)
	if r != nil && !validRequestID(r.ID) {
		r.ID = 0
	}
	if perr != nil {
		var id uint64
		if r != nil {
			id = r.ID
		} else {
			id = peekID(frame)
		}
		return nil, id, perr
	}
	return r, r.ID, nil
}

// validRequestID reports whether id can identify a request: an integer from
// 1 to 2^53-1 (so that every JSON implementation reads it exactly).
func validRequestID(id uint64) bool { return id != 0 && id <= maxReqID }

func decode(frame []byte) (*Request, *Error) {
	frame = bytes.TrimSpace(frame)
	if len(frame) == 0 || frame[0] != '{' {
		return nil, Errorf(CodeBadFrame, "a frame must be a JSON object")
	}
	if !utf8.Valid(frame) {
		return nil, Errorf(CodeBadFrame, "a frame must be valid UTF-8")
	}
	var r Request
	if err := json.Unmarshal(frame, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, Errorf(CodeBadRequest, "member %q: expected %s, found JSON %s", te.Field, jsonKind(te.Type.String()), te.Value)
		}
		return nil, Errorf(CodeBadFrame, "not a JSON object: %s", err.Error())
	}
	if r.Type == "" {
		return &r, Errorf(CodeBadFrame, `member "type" is missing`)
	}
	if err := r.validate(); err != nil {
		return &r, err
	}
	return &r, nil
}

// peekID reads a frame's "id" when the frame as a whole did not decode, so
// that a request with one bad member still gets an answer to its id.
func peekID(frame []byte) uint64 {
	var p struct {
		ID uint64 `json:"id"`
	}
	_ = json.Unmarshal(frame, &p) // best effort: 0 when it cannot be read
	if !validRequestID(p.ID) {
		return 0
	}
	return p.ID
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "uint64", "int":
		return "a non-negative integer"
	case "bool":
		return "true or false"
	}
	switch {
	case len(goType) > 2 && goType[:2] == "[]":
		return "an array"
	case len(goType) > 3 && goType[:3] == "map", len(goType) > 8 && goType[:8] == "protocol":
		return "an object"
	}
	return goType
}

func (r *Request) validate() *Error {
	if r.Type == TypeHello {
		return nil // the server checks the version, to answer unsupported_protocol
	}
	if _, ok := requestTypes[r.Type]; !ok {
		return Errorf(CodeUnknownType, "unknown frame type %q", clip(r.Type))
	}
	if !validRequestID(r.ID) {
		return Errorf(CodeBadRequest, `member "id" must be an integer from 1 to 2^53-1`)
	}
	need := func(name, v string) *Error {
		if v == "" {
			return Errorf(CodeBadRequest, "member %q is required for %s", name, r.Type)
		}
		return nil
	}
	switch r.Type {
	case TypeSubscribe, TypeUpdateSubscription, TypeUnsubscribe:
		if err := need("sub", r.Sub); err != nil {
			return err
		}
		if len(r.Sub) > MaxSubName {
			return Errorf(CodeBadRequest, `member "sub" is longer than %d bytes`, MaxSubName)
		}
		if r.Type == TypeSubscribe {
			if err := need("collection", r.Collection); err != nil {
				return err
			}
		}
		if len(r.Known) > MaxKnown {
			return Errorf(CodeBadRequest, `member "known" lists more than %d entities`, MaxKnown)
		}
	case TypeFetch:
		return need("collection", r.Collection)
	case TypeGet:
		if err := need("collection", r.Collection); err != nil {
			return err
		}
		if len(r.IDs) > MaxIDs {
			return Errorf(CodeBadRequest, `member "ids" lists more than %d ids`, MaxIDs)
		}
	case TypeGetEvents:
		if len(r.IDs) > MaxIDs {
			return Errorf(CodeBadRequest, `member "ids" lists more than %d ids`, MaxIDs)
		}
		if (r.EntityID == "") == (len(r.IDs) == 0) {
			return Errorf(CodeBadRequest, `get_events needs either "ids" or "collection" and "entity_id"`)
		}
		if r.EntityID != "" {
			return need("collection", r.Collection)
		}
	case TypeCommit:
		if len(r.Events) == 0 {
			return Errorf(CodeBadRequest, `member "events" must list at least one event`)
		}
	case TypeRegisterSchema:
		if len(r.Collections) == 0 {
			return Errorf(CodeBadRequest, `member "collections" must list at least one collection`)
		}
	case TypeAuth:
		return need("token", r.Token)
	}
	return nil
}

var requestTypes = map[string]struct{}{
	TypeSubscribe: {}, TypeUpdateSubscription: {}, TypeUnsubscribe: {}, TypeFetch: {}, TypeGet: {},
	TypeGetEvents: {}, TypeCommit: {}, TypeRegisterSchema: {}, TypeCollections: {}, TypePing: {}, TypeAuth: {},
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// String names a request for logs.
func (r *Request) String() string { return fmt.Sprintf("%s#%d", r.Type, r.ID) }
