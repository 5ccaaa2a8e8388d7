// Package jsonfast reads and writes JSON without reflection, for the few
// values on the path of every container's start: config.json and
// state.json. encoding/json builds, on its first use of each type in a
// process, a table of its fields by reflection; for a config and a state
// that is most of what decoding and encoding them costs, and kan is a new
// process for every command. The callers keep encoding/json as the
// reference: what a Reader does not handle exactly as encoding/json would
// (an escape in a string, a fraction, a key given twice, a syntax error),
// it refuses, and the caller decodes with encoding/json instead.
package jsonfast

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// NewReader returns a Reader at the start of data, past any white space.
func NewReader(data []byte) *Reader {
	r := &Reader{data: data}
	r.Space()
	return r
}

// End tells whether only white space is left.
func (r *Reader) End() bool {
	r.Space()
	return r.i == len(r.data)
}

// Pos is the reader's offset in its data.
func (r *Reader) Pos() int { return r.i }

// Since returns a copy of the data from offset start to the reader's.
func (r *Reader) Since(start int) []byte {
	return append([]byte(nil), r.data[start:r.i]...)
}

// A Reader walks JSON; its methods consume one value and return false on
// anything they leave to encoding/json.
type Reader struct {
	data  []byte
	i     int
	depth int
}

func (r *Reader) Space() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *Reader) Next() byte {
	if r.i < len(r.data) {
		return r.data[r.i]
	}
	return 0
}

// literal consumes word (null, true, false) if it is next.
func (r *Reader) Literal(word string) bool {
	if len(r.data)-r.i >= len(word) && string(r.data[r.i:r.i+len(word)]) == word {
		r.i += len(word)
		return true
	}
	return false
}

// object reads an object, calling field for each key with the reader at
// the key's value. A key given twice is left to encoding/json (it merges).
func (r *Reader) Object(field func(key string) bool) bool {
	if r.Next() != '{' {
		return false
	}
	r.i++
	r.Space()
	if r.Next() == '}' {
		r.i++
		return true
	}
	seen := make([]string, 0, 16)
	for {
		key, ok := r.Str()
		if !ok || slices.Contains(seen, key) {
			return false
		}
		seen = append(seen, key)
		r.Space()
		if r.Next() != ':' {
			return false
		}
		r.i++
		r.Space()
		if !field(key) {
			return false
		}
		r.Space()
		switch r.Next() {
		case ',':
			r.i++
			r.Space()
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (r *Reader) Array(elem func() bool) bool {
	if r.Next() != '[' {
		return false
	}
	r.i++
	r.Space()
	if r.Next() == ']' {
		r.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		r.Space()
		switch r.Next() {
		case ',':
			r.i++
			r.Space()
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// Str reads a string without escapes, of valid UTF-8.
func (r *Reader) Str() (string, bool) {
	if r.Next() != '"' {
		return "", false
	}
	start, ascii := r.i+1, true
	for i := start; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			s := r.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			r.i = i + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// integer reads a JSON number that is an integer: no fraction, no
// exponent. It reads nothing if the number is not one.
func (r *Reader) integer() (string, bool) {
	start := r.i
	if !r.intPart() {
		r.i = start
		return "", false
	}
	switch r.Next() {
	case '.', 'e', 'E':
		r.i = start
		return "", false
	}
	return string(r.data[start:r.i]), true
}

// intPart reads a number's sign and integer part: -?(0|[1-9][0-9]*).
func (r *Reader) intPart() bool {
	if r.Next() == '-' {
		r.i++
	}
	switch c := r.Next(); {
	case c == '0':
		r.i++
		return true
	case c >= '1' && c <= '9':
		return r.digits()
	}
	return false
}

// digits reads [0-9]+.
func (r *Reader) digits() bool {
	start := r.i
	for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// The setters below store a value as encoding/json does: null leaves a
// string, number or bool as it is and makes a pointer, slice or map nil.

func (r *Reader) SetString(p *string) bool {
	if r.Literal("null") {
		return true
	}
	s, ok := r.Str()
	*p = s
	return ok
}

func (r *Reader) SetBool(p *bool) bool {
	switch {
	case r.Literal("null"):
	case r.Literal("true"):
		*p = true
	case r.Literal("false"):
		*p = false
	default:
		return false
	}
	return true
}

// SetUint stores an integer that fits T.
func SetUint[T ~uint | ~uint16 | ~uint32 | ~uint64](r *Reader, p *T) bool {
	if r.Literal("null") {
		return true
	}
	s, ok := r.integer()
	if !ok {
		return false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	*p = T(v)
	return err == nil && uint64(*p) == v
}

// SetInt stores an integer that fits T.
func SetInt[T ~int | ~int64](r *Reader, p *T) bool {
	if r.Literal("null") {
		return true
	}
	s, ok := r.integer()
	if !ok {
		return false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*p = T(v)
	return err == nil && int64(*p) == v
}

// SetUintPtr reads a pointer to an integer that fits T.
func SetUintPtr[T ~uint | ~uint16 | ~uint32 | ~uint64](r *Reader, p **T) bool {
	return SetPtr(r, p, func(v *T) bool { return SetUint(r, v) })
}

// SetIntPtr reads a pointer to an integer that fits T.
func SetIntPtr[T ~int | ~int64](r *Reader, p **T) bool {
	return SetPtr(r, p, func(v *T) bool { return SetInt(r, v) })
}

// SetPtr reads a pointer field: set reads the value into a new T, and
// null makes it nil.
func SetPtr[T any](r *Reader, p **T, set func(*T) bool) bool {
	if r.Literal("null") {
		*p = nil
		return true
	}
	*p = new(T)
	return set(*p)
}

// SetSlice reads a slice field: an array, whose elements elem reads (a
// null element is elem's to refuse), or null, which makes it nil. "[]"
// is an empty slice, not nil.
func SetSlice[T any](r *Reader, p *[]T, elem func(*T) bool) bool {
	if r.Literal("null") {
		*p = nil
		return true
	}
	*p = []T{}
	return r.Array(func() bool {
		*p = append(*p, *new(T))
		return elem(&(*p)[len(*p)-1])
	})
}

func (r *Reader) SetStrings(p *[]string) bool {
	return SetSlice(r, p, func(s *string) bool {
		v, ok := r.Str()
		*s = v
		return ok
	})
}

func (r *Reader) SetStringMap(p *map[string]string) bool {
	if r.Literal("null") {
		*p = nil
		return true
	}
	m := map[string]string{}
	*p = m
	return r.Object(func(key string) bool {
		if r.Next() == 'n' {
			return false
		}
		var v string
		ok := r.SetString(&v)
		m[key] = v
		return ok
	})
}

// Raw reads any value, checking its syntax as encoding/json does, and
// returns a copy of its JSON.
func (r *Reader) Raw() ([]byte, bool) {
	start := r.i
	if !r.Skip() {
		return nil, false
	}
	return append([]byte(nil), r.data[start:r.i]...), true
}

// Skip reads any JSON value: escapes, fractions and all.
func (r *Reader) Skip() bool {
	switch c := r.Next(); {
	case c == '{' || c == '[':
		if r.depth++; r.depth > 1000 {
			return false
		}
		defer func() { r.depth-- }()
		if c == '[' {
			return r.Array(r.Skip)
		}
		return r.Object(func(string) bool { return r.Skip() })
	case c == '"':
		return r.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.skipNumber()
	default:
		return r.Literal("null") || r.Literal("true") || r.Literal("false")
	}
}

// skipString reads a string with any escapes.
func (r *Reader) skipString() bool {
	for i := r.i + 1; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			r.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i == len(r.data) {
				return false
			}
			switch r.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(r.data) {
					return false
				}
				for _, h := range r.data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func (r *Reader) skipNumber() bool {
	if !r.intPart() {
		return false
	}
	if r.Next() == '.' {
		r.i++
		if !r.digits() {
			return false
		}
	}
	if c := r.Next(); c == 'e' || c == 'E' {
		r.i++
		if c := r.Next(); c == '+' || c == '-' {
			r.i++
		}
		if !r.digits() {
			return false
		}
	}
	return true
}
