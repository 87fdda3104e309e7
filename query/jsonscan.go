package query

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON paths are resolved by scanning the JSON text of a jsonb value in
// place: no decoding into maps, no allocation (except to unescape a key or
// string that contains backslash escapes). The text is assumed to be valid
// JSON (value.JSONOf validates it); on malformed text the scanner gives up
// ("missing") rather than panicking.

// jsonKind is the JSON type of a scanned value.
type jsonKind uint8

const (
	jMissing jsonKind = iota // no such key, or not an object on the way
	jNull
	jString
	jNumber
	jBool
	jArray
	jObject
)

// jsonClassify returns the kind of the JSON value that raw holds (trimmed).
func jsonClassify(raw string) jsonKind {
	if raw == "" {
		return jMissing
	}
	switch raw[0] {
	case 'n':
		return jNull
	case '"':
		return jString
	case 't', 'f':
		return jBool
	case '[':
		return jArray
	case '{':
		return jObject
	}
	return jNumber
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// trimJSON strips the whitespace around a JSON text.
func trimJSON(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// skipString returns the index just past the JSON string starting at s[i]
// (a '"'), and whether it contains escapes.
func skipString(s string, i int) (int, bool) {
	esc := false
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(s), esc
}

// skipValue returns the index just past the JSON value starting at s[i].
func skipValue(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '"':
		end, _ := skipString(s, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i, _ = skipString(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(s)
	}
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonLookup returns the value of key in the JSON object obj (trimmed), or
// "" when obj is not an object or has no such key. When a key repeats, the
// last one wins, as in jsonb.
func jsonLookup(obj, key string) string {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return ""
	}
	found := ""
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return found // '}' or malformed
		}
		kEnd, esc := skipString(obj, i)
		k := obj[i:kEnd]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return found
		}
		i = skipSpace(obj, i+1)
		vEnd := skipValue(obj, i)
		if keyEquals(k, esc, key) {
			found = obj[i:vEnd]
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] != ',' {
			return found
		}
		i++
	}
}

func keyEquals(quoted string, esc bool, key string) bool {
	if !esc {
		return len(quoted) == len(key)+2 && quoted[1:len(quoted)-1] == key
	}
	s, ok := jsonString(quoted)
	return ok && s == key
}

// jsonString decodes a JSON string token (with its quotes). Without escapes
// it returns a substring of raw and allocates nothing.
func jsonString(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, true
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", false
		}
		switch body[i] {
		case '"', '\\', '/':
			b.WriteByte(body[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := hex4(body, i+1)
			if n == 0 {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(0), 0
				if i+2 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					r2, n2 = hex4(body, i+3)
				}
				if d := utf16.DecodeRune(r, r2); n2 != 0 && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), true
}

func hex4(s string, i int) (rune, int) {
	if i+4 > len(s) {
		return 0, 0
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	if err != nil {
		return 0, 0
	}
	return rune(n), 4
}
