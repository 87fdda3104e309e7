package query

import "fmt"

// Error codes. They are stable: the protocol and the CLI pass them on to
// clients, who may branch on them.
const (
	// CodeParse: the text is not a query; Offset is where it went wrong.
	CodeParse = "parse_error"
	// CodeTooLong: the query text is longer than MaxLength bytes.
	CodeTooLong = "too_long"
	// CodeTooDeep: parentheses and NOTs nest more than MaxDepth levels.
	CodeTooDeep = "too_deep"
	// CodeInvalidUTF8: the query text is not valid UTF-8.
	CodeInvalidUTF8 = "invalid_utf8"
	// CodeBadArgument: a placeholder argument is missing, extra, of an
	// unsupported Go type, or not allowed where its ? stands.
	CodeBadArgument = "bad_argument"
	// CodeUnknownField: the query names a field the collection does not have
	// (only from Query.Check; evaluation and SQL treat such fields as NULL).
	CodeUnknownField = "unknown_field"
)

// Limits on query text. They bound the work a hostile client can cause: the
// parser is linear in the length and its recursion is bounded by the depth.
const (
	// MaxLength is the longest query text accepted, in bytes. Long IN lists
	// belong in a placeholder (IN (?) with a slice), which has no such limit.
	MaxLength = 64 << 10
	// MaxDepth is how deeply parentheses and NOT may nest.
	MaxDepth = 64
)

// Error is a query failure with a stable code, the byte offset in the query
// text it refers to (-1 when it refers to no position), and a message for
// humans that says what was expected.
type Error struct {
	Code    string
	Offset  int
	Message string
	// Field and Fields, for CodeUnknownField only: the field the query
	// names, and the fields the collection has (id first).
	Field  string
	Fields []string
}

func (e *Error) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("query: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("query: %s at offset %d: %s", e.Code, e.Offset, e.Message)
}

// Is makes errors.Is(err, &query.Error{Code: query.CodeParse}) match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

func errorf(code string, offset int, format string, args ...any) *Error {
	return &Error{Code: code, Offset: offset, Message: fmt.Sprintf(format, args...)}
}
