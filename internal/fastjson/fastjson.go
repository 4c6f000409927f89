// Package fastjson holds the low-level pieces shared by the hand-written
// JSON encoders and decoders of the hot path (client and internal/api).
//
// The decoding side reads only a plain subset of JSON: strings of
// printable ASCII without escapes, integers that fit 18 digits, and so on.
// Every reader reports false on anything else, and the caller then gives
// up and lets encoding/json decide. So a reader may refuse input that
// encoding/json would accept, but never accepts input differently.
//
// The readers are functions of the input b and a position *i, which they
// advance past what they read; the callers keep both in their own decoder
// types.
package fastjson

import (
	"encoding/json"
)

// AppendString appends s as json.Marshal encodes it. Plain printable
// ASCII is copied; anything else goes through encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Peek skips whitespace and returns the next byte, or 0 at the end.
func Peek(b []byte, i *int) byte {
	for ; *i < len(b); *i++ {
		switch c := b[*i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// Eat consumes c if it is the next byte.
func Eat(b []byte, i *int, c byte) bool {
	if Peek(b, i) == c {
		*i++
		return true
	}
	return false
}

// End reports whether only whitespace is left.
func End(b []byte, i *int) bool { return Peek(b, i) == 0 && *i == len(b) }

// Str reads a string of plain printable ASCII (no escapes) and returns its
// contents, which alias the input.
func Str(b []byte, i *int) ([]byte, bool) {
	if Peek(b, i) != '"' {
		return nil, false
	}
	start := *i + 1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			*i = j + 1
			return b[start:j], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// RawStr is Str that returns the token with its quotes.
func RawStr(b []byte, i *int) ([]byte, bool) {
	Peek(b, i)
	start := *i
	if _, ok := Str(b, i); !ok {
		return nil, false
	}
	return b[start:*i], true
}

// Int reads an integer (JSON grammar, no fraction or exponent) of at most
// 18 digits, so that it fits an int64.
func Int(b []byte, i *int) (int64, bool) {
	Peek(b, i)
	j := *i
	neg := j < len(b) && b[j] == '-'
	if neg {
		j++
	}
	first := j
	var u uint64
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		u = u*10 + uint64(b[j]-'0')
	}
	switch n := j - first; {
	case n == 0, n > 1 && b[first] == '0', n > 18: // 18 digits cannot overflow
		return 0, false
	}
	if j < len(b) {
		switch b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	*i = j
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// Number reads a JSON number token and returns it as written.
func Number(b []byte, i *int) ([]byte, bool) {
	Peek(b, i)
	start, j := *i, *i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return nil, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return nil, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return nil, false
		}
	}
	*i = j
	return b[start:j], true
}

// Lit consumes the literal word (true, false or null).
func Lit(b []byte, i *int, word string) bool {
	Peek(b, i)
	if len(b)-*i >= len(word) && string(b[*i:*i+len(word)]) == word {
		*i += len(word)
		return true
	}
	return false
}

// Bool reads true or false.
func Bool(b []byte, i *int) (v, ok bool) {
	switch Peek(b, i) {
	case 't':
		return true, Lit(b, i, "true")
	case 'f':
		return false, Lit(b, i, "false")
	}
	return false, false
}

// Value skips one JSON value (null included), checking that it is valid,
// and returns its bytes (aliasing the input). Strings with escapes,
// objects and arrays are checked by json.Valid.
func Value(b []byte, i *int) ([]byte, bool) {
	c := Peek(b, i)
	start := *i
	j := start
	switch {
	case c == '"':
		if _, ok := Str(b, i); ok { // plain strings need no more checking
			return b[start:*i], true
		}
		j = skipString(b, j)
	case c == '{' || c == '[':
		depth := 0
	scan:
		for ; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					j++
					break scan
				}
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return Number(b, i)
	case c == 't' || c == 'f' || c == 'n':
		if Lit(b, i, "true") || Lit(b, i, "false") || Lit(b, i, "null") {
			return b[start:*i], true
		}
		return nil, false
	default:
		return nil, false
	}
	if j > len(b) || !json.Valid(b[start:j]) {
		return nil, false
	}
	*i = j
	return b[start:j], true
}

// skipString returns the offset just past the string starting with the
// quote at b[j], without checking its contents; past len(b) if the string
// is not closed.
func skipString(b []byte, j int) int {
	for j++; j < len(b) && b[j] != '"'; j++ {
		if b[j] == '\\' {
			j++
		}
	}
	return j + 1
}

// Object reads an object, calling field for each key with the position on
// the key's value; field reads the value and reports whether it could.
func Object(b []byte, i *int, field func(key []byte) bool) bool {
	if !Eat(b, i, '{') {
		return false
	}
	if Eat(b, i, '}') {
		return true
	}
	for {
		key, ok := Str(b, i)
		if !ok || !Eat(b, i, ':') || !field(key) {
			return false
		}
		if Eat(b, i, '}') {
			return true
		}
		if !Eat(b, i, ',') {
			return false
		}
	}
}

// Elements reads the rest of an array whose '[' has been read: elem is
// called for each element, with the position on it, and reports whether it
// could read it.
func Elements(b []byte, i *int, elem func() bool) bool {
	if Eat(b, i, ']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if Eat(b, i, ']') {
			return true
		}
		if !Eat(b, i, ',') {
			return false
		}
	}
}

// Keys records the keys read in an object, each as a bit, to refuse
// repeated keys.
type Keys uint

// Once reports whether the value of the key of the given bit was read (ok)
// and the key was not seen before, and records the key as seen.
func (k *Keys) Once(bit Keys, ok bool) bool {
	if !ok || *k&bit != 0 {
		return false
	}
	*k |= bit
	return true
}
